//! `stormwatch run` as a child process for the tests that drive the real daemon: started with
//! its log in a file, watched through that log, stopped with SIGTERM as systemd does, and
//! killed when the test ends early, so a failed assertion never leaves a daemon running.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::stormwatch;

pub struct Daemon {
    pub child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts `stormwatch run -c config` at `RUST_LOG=info`, its stderr appended to `log` (so
    /// that the starts of one test on one log keep all their lines).
    pub fn start(config: &Path, log: PathBuf) -> Daemon {
        Daemon::start_with(config, log, &[])
    }

    /// `start`, with these variables set in the daemon's environment.
    pub fn start_with(config: &Path, log: PathBuf, vars: &[(&str, String)]) -> Daemon {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("log file");
        let child = stormwatch()
            .args(["run", "-c"])
            .arg(config)
            .env("RUST_LOG", "info")
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start the daemon");
        Daemon { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log's last 40 lines, for failure messages.
    pub fn tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Panics (with the log's end) if the daemon exited.
    pub fn alive(&mut self) {
        if let Some(status) = self.child.try_wait().expect("wait") {
            panic!("the daemon exited: {status:?}\n{}", self.tail());
        }
    }

    /// Polls `ok` on the log until it holds or `limit` passes; fails with the log.
    pub fn wait(&mut self, what: &str, limit: Duration, mut ok: impl FnMut(&str) -> bool) {
        let end = Instant::now() + limit;
        loop {
            let log = self.log();
            if ok(&log) {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("the daemon exited ({status:?}) while waiting for {what}:\n{log}");
            }
            assert!(Instant::now() < end, "{what} did not happen within {limit:?}:\n{log}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the daemon's server answers `/healthz` on 127.0.0.1:`port` (20 s at most).
    pub fn wait_serving(&mut self, port: u16) {
        let end = Instant::now() + Duration::from_secs(20);
        while super::http::get(port, "/healthz").0 != 200 {
            self.alive();
            assert!(Instant::now() < end, "the server did not answer within 20 s:\n{}", self.tail());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits up to `limit` for the exit; returns the status and how long it took.
    pub fn stop(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let _ = signal(self.child.id(), "TERM");
        let stopping = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, stopping.elapsed());
            }
            assert!(stopping.elapsed() < limit, "did not stop within {limit:?} of SIGTERM:\n{}", self.tail());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits for the exit, however long it takes.
    pub fn terminate(&mut self) -> ExitStatus {
        let _ = signal(self.child.id(), "TERM");
        self.child.wait().expect("wait")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends a signal (`TERM`, `HUP`, …) with kill(1), as systemd and docker do; `Ok(true)` when
/// kill ran and succeeded.
pub fn signal(pid: u32, name: &str) -> std::io::Result<bool> {
    Command::new("kill").args([format!("-{name}"), pid.to_string()]).status().map(|s| s.success())
}

/// The resident memory of process `pid` in KiB, from /proc.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()
}

/// A daemon with a push source (`crm`), a watch on "kroon bank" and the API token `token`, on
/// a free loopback port, answering; `extra` is more TOML for the file (an `[alerts]` section).
/// Its folder lives as long as it does.
pub struct PushDaemon {
    pub dir: tempfile::TempDir,
    pub daemon: Daemon,
    pub port: u16,
}

impl PushDaemon {
    pub fn start(token: &str, extra: &str) -> PushDaemon {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("api.token"), token).expect("token");
        let port = super::free_port();
        let config = format!(
            "[storage]\npath = \"state.db\"\n[server]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"api.token\"\n\
             {extra}[[sources]]\nname = \"crm\"\nkind = \"push\"\n\
             [[watches]]\nname = \"kroon-bank\"\nterms = [\"kroon bank\"]\n"
        );
        let config_path = dir.path().join("stormwatch.toml");
        std::fs::write(&config_path, config).expect("config");
        let mut daemon = Daemon::start(&config_path, dir.path().join("daemon.log"));
        daemon.wait_serving(port);
        PushDaemon { dir, daemon, port }
    }
}
