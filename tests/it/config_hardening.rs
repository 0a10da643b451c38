//! What a careless operator does to the configuration and the state file, on the real binary:
//! two daemons on one state file, values out of range, `check` that must see what `run` sees,
//! a write-protected or foreign state file, misspelt keys, a log file beside the config, and a
//! reload caught half-written. Each test here failed before its fix (issue 23's rows 1, 2, 4,
//! 6, 7, 8, 9 and 10; docs/reliability.md lists them).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::daemon::{signal, Daemon};
use crate::support::http::get;
use crate::support::{free_port, stormwatch, text};

/// A daemon config on a file source in `dir` (nothing from the network).
fn config(port: u16, extra: &str) -> String {
    format!(
        "[storage]\npath = \"state.db\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n{extra}\
         [[sources]]\nname = \"export\"\nkind = \"file\"\npath = \"mentions.jsonl\"\ninterval = \"5s\"\n\
         [[watches]]\nname = \"kroon-bank\"\nterms = [\"kroon bank\"]\n"
    )
}

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("mentions.jsonl"), "").unwrap();
    let path = dir.join("stormwatch.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn check(config: &Path, args: &[&str], vars: &[(&str, &str)]) -> (bool, String) {
    let out = stormwatch().arg("check").arg("-c").arg(config).args(args).envs(vars.iter().copied()).output().unwrap();
    (out.status.success(), text(&out))
}

fn until(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while !ok() {
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

#[test]
fn a_second_daemon_or_a_delivery_on_a_state_file_in_use_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let path = write_config(dir.path(), &config(port, ""));
    let mut first = Daemon::start(&path, dir.path().join("first.log"));
    assert!(until(Duration::from_secs(20), || get(port, "/healthz").0 == 200), "{}", first.tail());

    // Same state file, another listen address: before, both ran and split the mentions.
    let other = dir.path().join("other.toml");
    std::fs::write(&other, config(free_port(), "")).unwrap();
    let second = stormwatch().args(["run", "-c"]).arg(&other).output().unwrap();
    let said = text(&second);
    assert!(!second.status.success(), "the second daemon must not run: {said}");
    let pid = first.child.id().to_string();
    assert!(said.contains("in use by stormwatch run (pid ") && said.contains(&pid), "{said}");

    let deliver = stormwatch().args(["deliver", "-c"]).arg(&path).output().unwrap();
    let said = text(&deliver);
    assert!(!deliver.status.success() && said.contains("in use by stormwatch run"), "{said}");
    assert!(said.contains("/api/v1/alerts/<id>/ack"), "says what to do instead: {said}");
    first.alive();
    assert!(first.terminate().success());

    // With the daemon gone, the lock is gone (also after a kill: the kernel drops it).
    let deliver = stormwatch().args(["deliver", "--timeout", "1s", "-c"]).arg(&path).output().unwrap();
    assert!(deliver.status.success() && !text(&deliver).contains("in use by"), "{}", text(&deliver));
}

#[test]
fn check_refuses_out_of_range_durations_with_their_path_before_run_could_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let text = config(free_port(), "")
        .replace("interval = \"5s\"", "interval = \"5s\"\nbackfill = \"100000000d\"")
        .replace("terms = [\"kroon bank\"]", "terms = [\"kroon bank\"]\nthresholds = { ring = \"9999999d\" }");
    let path = write_config(dir.path(), &text);
    let (ok, said) = check(&path, &[], &[]);
    assert!(!ok, "{said}");
    assert!(said.contains("sources[0].backfill: \"100000000d\" is out of range: between 1s and 90d"), "{said}");
    assert!(said.contains("watches[0].thresholds.ring: \"9999999d\" is out of range"), "{said}");
    let run = stormwatch().args(["run", "-c"]).arg(&path).output().unwrap();
    assert!(!run.status.success() && !crate::support::text(&run).contains("memory allocation"));
}

#[test]
fn check_reads_every_secret_and_path_that_run_reads_and_no_environment_skips_them() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "token_env = \"SW_TEST_TOKEN\"\n[alerts]\nack_secret_env = \"SW_TEST_ACK\"\n";
    let path = write_config(dir.path(), &config(free_port(), extra));
    let (ok, said) = check(&path, &[], &[("SW_TEST_TOKEN", "")]);
    assert!(!ok, "{said}");
    assert!(said.contains("cannot start"), "{said}");
    assert!(said.contains("server.token: env SW_TEST_TOKEN is empty"), "{said}");
    assert!(said.contains("alerts.ack_secret: environment variable SW_TEST_ACK is not set"), "{said}");

    let long = "a-long-random-secret-value";
    let (ok, said) = check(&path, &[], &[("SW_TEST_TOKEN", long), ("SW_TEST_ACK", long)]);
    assert!(ok, "{said}");
    assert!(said.contains("[server]") && said.contains("token_env = \"SW_TEST_TOKEN\""), "TOML, not Debug: {said}");
    assert!(!said.contains(long) && !said.contains("PresetSpec"), "{said}");
    let (_, said) = check(&path, &[], &[("SW_TEST_TOKEN", "x"), ("SW_TEST_ACK", long)]);
    assert!(said.contains("warning: server.token: 1 characters is easy to guess"), "{said}");

    // A state file where none can be, and a token file that is not there.
    let bad = config(free_port(), "token_file = \"missing.token\"\n").replace("state.db", "/proc/stormwatch.db");
    std::fs::write(&path, bad).unwrap();
    let (ok, said) = check(&path, &[], &[]);
    assert!(!ok && said.contains("storage.path: cannot write next to the state file /proc/stormwatch.db"), "{said}");
    assert!(said.contains("server.token: cannot read"), "{said}");
    let (ok, said) = check(&path, &["--no-environment"], &[]);
    assert!(ok && said.contains("secrets, paths and STORMWATCH__ overrides not checked"), "{said}");
}

#[test]
fn every_misspelt_key_is_reported_at_once_with_its_path_and_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let text = config(free_port(), "ingest_max_bytes = 9223372036854775807\n[alerts]\npublc_url = \"http://x\"\n")
        .replace("path = \"state.db\"", "pth = \"state.db\"")
        .replace("interval = \"5s\"", "intervl = \"5s\"\nmax_body_bytes = -1")
        .replace("terms = [\"kroon bank\"]", "terms = [\"kroon bank\"]\ntrms = [\"x\"]\nthresholds = { k = nan }");
    let path = write_config(dir.path(), &text);
    let (ok, said) = check(&path, &[], &[]);
    assert!(!ok);
    for needle in [
        "storage.pth: unknown key; did you mean \"path\"?",
        "alerts.publc_url: unknown key; did you mean \"public_url\"?",
        "sources[0].intervl: unknown key; did you mean \"interval\"?",
        "sources[0].max_body_bytes: expected a whole number",
        "watches[0].trms: unknown key; did you mean \"terms\"?",
        "watches[0].thresholds.k: must be between 0.5 and 50, got NaN",
        "server.ingest_max_bytes: must be between 1024 and 67108864",
    ] {
        assert!(said.contains(needle), "{needle:?} missing from:\n{said}");
    }
    assert!(!said.contains("null"), "{said}");
}

#[test]
fn a_write_protected_or_foreign_state_file_is_refused_at_start_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &config(free_port(), ""));
    let state = dir.path().join("state.db");

    // Another application's database: before, stormwatch added its tables to it.
    {
        let conn = rusqlite::Connection::open(&state).unwrap();
        conn.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);").unwrap();
    }
    let before = std::fs::read(&state).unwrap();
    for command in [&["run", "-c"][..], &["check", "-c"][..]] {
        let out = stormwatch().args(command).arg(&path).output().unwrap();
        let said = text(&out);
        assert!(!out.status.success() && said.contains("is not a stormwatch state file"), "{command:?}: {said}");
        assert!(said.contains("users"), "{said}");
    }
    assert_eq!(std::fs::read(&state).unwrap(), before, "the other application's file is unchanged");

    // Our own file, write-protected: before, the daemon started and every ingest failed.
    std::fs::remove_file(&state).unwrap();
    let mut ready = Daemon::start(&path, dir.path().join("ready.log"));
    ready.wait("the state file", Duration::from_secs(20), |log| log.contains("stormwatch running"));
    assert!(ready.terminate().success());
    let mut perms = std::fs::metadata(&state).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&state, perms).unwrap();
    for command in [&["run", "-c"][..], &["check", "-c"][..]] {
        let out = stormwatch().args(command).arg(&path).output().unwrap();
        let said = text(&out);
        assert!(!out.status.success() && said.contains("is read-only (the file is write-protected)"), "{said}");
    }
}

#[test]
fn a_trace_log_written_beside_the_config_does_not_feed_the_config_watcher() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &config(free_port(), ""));
    let log = dir.path().join("x.log");
    let mut child = stormwatch()
        .args(["run", "-c"])
        .arg(&path)
        .env("RUST_LOG", "trace")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let _ = signal(child.id(), "TERM");
    let _ = child.wait();
    // Before: 128 MB in 6 s, every line an event in the folder and every event a line.
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size < 2_000_000, "{size} bytes of log in 4 idle seconds");
}

#[test]
fn a_half_written_config_is_refused_on_reload_and_links_follow_listen() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let path = write_config(dir.path(), &config(port, ""));
    let (_, said) = check(&path, &[], &[]);
    let link = format!("acknowledge links point to http://127.0.0.1:{port}, which works only on this machine");
    assert!(said.contains(&link), "check warns, and the links follow listen: {said}");

    let mut daemon = Daemon::start(&path, dir.path().join("daemon.log"));
    assert!(until(Duration::from_secs(20), || get(port, "/healthz").0 == 200), "{}", daemon.tail());
    // What an editor or config-management tool leaves for a moment: sections, no watches.
    std::fs::write(&path, format!("[storage]\npath = \"state.db\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n"))
        .unwrap();
    let _ = signal(daemon.child.id(), "HUP");
    daemon.wait("the refusal", Duration::from_secs(20), |log| log.contains("reload refused"));
    assert_eq!(get(port, "/api/v1/watches").1, "[\"kroon-bank\"]", "the running watch stays");
    let (_, said) = check(&path, &[], &[]);
    assert!(said.contains("no [[watches]]: nothing will be detected"), "{said}");
    assert!(daemon.terminate().success());
    assert!(daemon.log().contains("no [[sources]] or no [[watches]]"), "{}", daemon.log());
}
