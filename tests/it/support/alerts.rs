//! The alert path without the daemon, for the tests that drive the dispatcher and the outbox
//! worker themselves: a config and a state file in a fresh folder, the TOML of a webhook
//! receiver, and a worker run until nothing is pending.

use std::time::{Duration, Instant};

use stormwatch::config::Config;
use stormwatch::notify::{Channels, RetryPolicy, Until};
use stormwatch::pipeline::Dispatcher;
use stormwatch::secret::Environment;
use stormwatch::store::Store;

/// A config and its opened state file; the folder they live in goes when this does.
pub struct Setup {
    pub _dir: tempfile::TempDir,
    pub config: Config,
    pub store: Store,
}

/// `toml` parsed as the config of a fresh folder that holds `files` (name, content), and the
/// state file it names, opened. Panics with the error and the TOML when it does not parse.
pub fn setup(files: &[(&str, &str)], toml: &str) -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).expect("a file next to the config");
    }
    let config = Config::from_toml_with_env(toml, dir.path()).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let store = Store::open(&config.storage.path).expect("state file");
    Setup { _dir: dir, config, store }
}

/// A `[[receivers]]` entry: a webhook signed with the key in `hook.secret`.
pub fn webhook_receiver(name: &str, url: &str) -> String {
    format!("[[receivers]]\nname = \"{name}\"\nkind = \"webhook\"\nurl = \"{url}\"\nsecret_file = \"hook.secret\"\n")
}

/// Runs the outbox worker, retrying by `retry`, until nothing is pending or `within` has
/// passed; returns how long it ran.
pub fn drain(d: &mut Dispatcher, config: &Config, retry: RetryPolicy, within: Duration) -> Duration {
    let channels = Channels::build(config.channels(), config.smtp.as_ref(), &Environment::default())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let worker = d.worker(channels, Some(retry));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let started = Instant::now();
    rt.block_on(worker.run(Until::Idle { deadline: Instant::now() + within })).expect("worker");
    started.elapsed()
}
