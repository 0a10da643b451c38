//! The state file on a disk that says no: read-only, full at start, and filling up while the
//! daemon runs. stormwatch refuses to run without persistence (a restart would lose counts
//! and re-send alerts), so:
//! - read-only or full at start: `stormwatch run` exits non-zero within seconds, naming the
//!   state file and the cause, and the state file is intact afterwards;
//! - full while running: no panic, and no mention lost: a page whose journal write failed is
//!   not committed and comes again, so once space is back every mention is journaled, once.
//!
//! A full disk is a small tmpfs (`mount -t tmpfs -o size=…`, root only); a read-only one is
//! `chmod` (which root ignores) or, as root, the tmpfs remounted read-only. Where neither can
//! be had, the test says why on stderr and passes without checking.

use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use stormwatch::store::{SourceState, Store};

use crate::support::daemon::Daemon;
use crate::support::{http, stormwatch};

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `Err(why)` when this machine will not mount one (not root, no `mount`, a container
    /// without the capability).
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("no temp dir: {e}"))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(self.path())
            .status()
            .expect("run mount -o remount");
        assert!(status.success(), "mount -o remount,{options} failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(self.dir.path()).status().is_ok_and(|s| s.success());
        if !unmounted {
            // Still in use (a daemon a failed assertion left running): detach it anyway.
            let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
        }
    }
}

/// Writes zeros into `dir/filler` until the filesystem is full; returns the file.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).expect("filler file");
    let block = vec![0u8; 4096];
    loop {
        match f.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => panic!("filling {}: {e}", dir.display()),
        }
    }
    // The last partial block, byte by byte, so not even a page is left.
    while f.write(&[0]).is_ok_and(|n| n == 1) {}
    path
}

/// `PRAGMA integrity_check` on the file, opened directly with rusqlite, past stormwatch.
fn integrity(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).expect("open the state file with rusqlite");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).expect("integrity_check")
}

/// A state file with something in it: one source's cursor and seen ids.
fn seed(path: &Path) {
    let store = Store::open(path).expect("create the state file");
    let state = SourceState { cursor: serde_json::json!({"max_id": 41}), ..SourceState::default() };
    store.commit_page("export", &["a", "b", "c"], &state, Utc::now()).expect("seed the state file");
}

fn check_seed(path: &Path) {
    let store = Store::open(path).expect("the state file opens again");
    assert_eq!(store.seen_count("export").expect("seen"), 3, "the seen ids survived");
    let cursor = store.source_state("export").expect("state").map(|s| s.cursor);
    assert_eq!(cursor, Some(serde_json::json!({"max_id": 41})), "the cursor survived");
}

/// A minimal daemon config: one file source, one watch, the state file at `state`.
fn daemon_config(dir: &Path, state: &Path) -> PathBuf {
    std::fs::write(dir.join("mentions.jsonl"), "").expect("mention file");
    let config = dir.join("stormwatch.toml");
    std::fs::write(
        &config,
        format!(
            // Any free port: tests run in parallel, and the default 9464 is one port for all.
            "[storage]\npath = \"{}\"\n[server]\nlisten = \"127.0.0.1:0\"\n\
             [[sources]]\nname = \"export\"\nkind = \"file\"\npath = \"mentions.jsonl\"\ninterval = \"5s\"\n\
             [[watches]]\nname = \"kroon-bank\"\nterms = [\"kroon bank\"]\n",
            state.display()
        ),
    )
    .expect("config");
    config
}

/// Runs `stormwatch run`, expecting it to give up by itself; kills it after `limit`.
fn run_expecting_refusal(config: &Path, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = stormwatch()
        .args(["run", "-c"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stormwatch");
    while child.try_wait().expect("wait").is_none() && started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = started.elapsed();
    if child.try_wait().expect("wait").is_none() {
        let _ = child.kill();
    }
    (child.wait_with_output().expect("output"), took)
}

fn assert_refused(what: &str, out: &Output, took: Duration, state: &Path, causes: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        took < Duration::from_secs(10),
        "{what}: still running after {took:?}, so it ran without persistence:\n{stderr}"
    );
    assert!(!out.status.success(), "{what}: exit {:?}\n{stderr}", out.status);
    assert!(stderr.contains(&state.display().to_string()), "{what}: the message names the state file:\n{stderr}");
    assert!(causes.iter().any(|c| stderr.contains(c)), "{what}: the message names the cause ({causes:?}):\n{stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    eprintln!("{what}: refused in {took:?}: {}", stderr.trim());
}

#[test]
fn a_read_only_state_file_is_refused_at_start_and_left_intact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state").join("state.db");
    std::fs::create_dir(state.parent().expect("folder")).expect("state folder");
    seed(&state);
    let config = daemon_config(dir.path(), &state);
    let folder = state.parent().expect("folder").to_path_buf();
    let set_mode = |file: u32, folder_mode: u32| {
        for p in [state.clone(), state.with_extension("db-wal"), state.with_extension("db-shm")] {
            if p.exists() {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(file)).expect("chmod file");
            }
        }
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(folder_mode)).expect("chmod folder");
    };
    set_mode(0o444, 0o555);
    // Root writes through permission bits: find out rather than assume.
    let chmod_stops_writes = std::fs::OpenOptions::new().append(true).open(&state).is_err();
    if chmod_stops_writes {
        let (out, took) = run_expecting_refusal(&config, Duration::from_secs(15));
        set_mode(0o644, 0o755);
        assert_refused("chmod read-only", &out, took, &state, &["readonly", "read-only", "permission denied"]);
        assert_eq!(integrity(&state), "ok");
        check_seed(&state);
        return;
    }
    set_mode(0o644, 0o755);
    eprintln!("chmod does not stop writes here (running as root): using a tmpfs remounted read-only");
    let fs = match Tmpfs::mount("4m") {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!("SKIPPED a_read_only_state_file_is_refused_at_start_and_left_intact: {why}");
            return;
        }
    };
    let state = fs.path().join("state.db");
    seed(&state);
    fs.remount("ro");
    assert!(std::fs::write(fs.path().join("probe"), b"x").is_err(), "the remount made the folder read-only");
    let (out, took) = run_expecting_refusal(&daemon_config(dir.path(), &state), Duration::from_secs(15));
    fs.remount("rw");
    assert_refused("read-only filesystem", &out, took, &state, &["readonly", "read-only", "Read-only"]);
    assert_eq!(integrity(&state), "ok");
    check_seed(&state);
}

#[test]
fn a_full_disk_is_refused_at_start_and_the_state_file_survives() {
    let fs = match Tmpfs::mount("2m") {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!("SKIPPED a_full_disk_is_refused_at_start_and_the_state_file_survives: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let state = fs.path().join("state.db");
    seed(&state);
    let config = daemon_config(dir.path(), &state);
    let filler = fill(fs.path());
    let (out, took) = run_expecting_refusal(&config, Duration::from_secs(15));
    assert_refused("full disk", &out, took, &state, &["database or disk is full", "No space left on device"]);
    std::fs::remove_file(&filler).expect("free the space");
    assert_eq!(integrity(&state), "ok");
    check_seed(&state);
}

/// A JSON feed on loopback (`max_id` cursor): the items with ids above `since_id`.
#[derive(Clone, Default)]
struct Feed {
    items: Arc<Mutex<VecDeque<serde_json::Value>>>,
}

impl Feed {
    fn add(&self, from: u64, n: u64) {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let now = Utc::now().to_rfc3339();
        for id in from..from + n {
            items.push_back(serde_json::json!({"id": id, "text": format!("Kroon Bank post {id}"), "created": now}));
        }
    }

    fn serve(&self) -> SocketAddr {
        let feed = self.clone();
        http::serve_json(move |head| {
            let since: u64 = head
                .split_once("since_id=")
                .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let items = feed.items.lock().unwrap_or_else(|p| p.into_inner());
            let data: Vec<&serde_json::Value> =
                items.iter().filter(|i| i["id"].as_u64().is_some_and(|id| id > since)).collect();
            serde_json::json!({ "data": data }).to_string()
        })
    }
}

#[test]
fn a_disk_that_fills_while_running_loses_no_mention() {
    let fs = match Tmpfs::mount("4m") {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!("SKIPPED a_disk_that_fills_while_running_loses_no_mention: {why}");
            return;
        }
    };
    let feed = Feed::default();
    feed.add(1, 20);
    let addr = feed.serve();
    let dir = tempfile::tempdir().expect("temp dir");
    let state = fs.path().join("state.db");
    let config = dir.path().join("stormwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\npath = \"{}\"\n[server]\nlisten = \"127.0.0.1:0\"\n\
             [[sources]]\nname = \"feed\"\nkind = \"json\"\nurl = \"http://{addr}/feed\"\nitems = \"/data\"\n\
             interval = \"5s\"\n\
             [sources.fields]\nid = \"/id\"\ntext = \"/text\"\ncreated = \"/created\"\n\
             [sources.cursor]\nstrategy = \"max_id\"\nparam = \"since_id\"\n\
             [[watches]]\nname = \"kroon-bank\"\nterms = [\"kroon bank\"]\n",
            state.display()
        ),
    )
    .expect("config");
    let mut daemon = Daemon::start(&config, dir.path().join("daemon.log"));
    // Opened while there is space (opening writes); reads keep working on a full disk.
    let store = Store::open(&state).expect("the state file");
    let journaled = |store: &Store| {
        let (from, to) = (Utc::now() - chrono::Duration::days(1), Utc::now() + chrono::Duration::days(1));
        store.each_logged_mention("kroon-bank", from, to, |_| {}).unwrap_or(0)
    };
    let wait_journaled = |n: u64, limit: Duration| {
        let end = Instant::now() + limit;
        while journaled(&store) < n && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(100));
        }
        journaled(&store)
    };
    assert_eq!(wait_journaled(20, Duration::from_secs(20)), 20, "the first mentions are journaled:\n{}", daemon.log());

    // The disk fills up; new mentions arrive; their journal write fails.
    let filler = fill(fs.path());
    feed.add(21, 30);
    daemon.wait("a failed journal write", Duration::from_secs(20), |log| {
        log.contains("cannot journal mentions") || log.contains("cannot journal the page's mentions")
    });
    let during = journaled(&store);
    assert!(during < 50, "the disk was full, yet all were journaled: the test did not test anything");

    // Space again: the uncommitted page comes again and every mention is journaled, once.
    std::fs::remove_file(&filler).expect("free the space");
    let after = wait_journaled(50, Duration::from_secs(30));
    assert_eq!(after, 50, "every mention journaled once space was back ({during} while full):\n{}", daemon.log());
    assert!(daemon.child.try_wait().expect("wait").is_none(), "the daemon stayed up:\n{}", daemon.log());
    let (status, _) = daemon.stop(Duration::from_secs(12));
    let log = daemon.log();
    assert!(status.success(), "clean stop: {status:?}\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(journaled(&store), 50, "nothing counted twice");
    drop(store);
    assert_eq!(integrity(&state), "ok");
    eprintln!(
        "disk full while running: {during} of 50 journaled while full; log lines about it: {}",
        log.lines().filter(|l| l.contains("disk is full")).count()
    );
}
