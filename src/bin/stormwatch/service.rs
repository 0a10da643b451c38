//! `stormwatch run` (with reload on SIGHUP) and `stormwatch check`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};

use stormwatch::config::changes::FileChanges;
use stormwatch::config::Config;
use stormwatch::pipeline::Pipeline;
use stormwatch::secret::Environment;
use stormwatch::sentiment::Scorer;
use stormwatch::server::{Listener, Stats};
use stormwatch::store::{Purpose, Store};
use stormwatch::telemetry;

/// After a stop request the process exits within this, whatever is still running.
const STOP_LIMIT: Duration = Duration::from_secs(10);

enum Request {
    Stop(&'static str),
    /// Why: "SIGHUP" or "file change".
    Reload(&'static str),
}

pub fn run(config_path: &Path) -> Result<ExitCode> {
    let config = Config::load(config_path).map_err(|e| anyhow!("{e}"))?;
    for w in &config.warnings {
        tracing::warn!(config = %config_path.display(), "{w}");
    }
    let store = Store::open_exclusive(&config.storage.path, Purpose::Daemon)?;
    let scorer = Arc::new(Scorer::builtin().context("loading the built-in lexicons")?);
    let stats = Arc::new(Stats::default());
    let mut pipeline = Pipeline::build(config, store.clone(), scorer.clone(), stats.clone(), Environment::process())
        .map_err(|problems| anyhow!("cannot start:\n{}", problems.join("\n")))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    rt.block_on(async {
        let mut requests = Requests::new(config_path)?;
        // Bound once and handed to each pipeline (rebound only when `server.listen` changes), so
        // that a reload never refuses a connection: they wait in the backlog meanwhile.
        let mut listener = Listener::bind(pipeline.config().server.listen).await?;
        loop {
            let storage = pipeline.config().storage.path.clone();
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let mut running = tokio::spawn(pipeline.run_on(listener.clone(), stop_rx));
            // Until a stop, or a reload with a configuration that is valid as a whole.
            let next = loop {
                let request = tokio::select! {
                    done = &mut running => return done.map_err(anyhow::Error::from)?.map(|()| ExitCode::SUCCESS),
                    r = requests.next() => r,
                };
                match request {
                    Request::Stop(why) => {
                        tracing::info!(signal = why, "stopping");
                        break None;
                    }
                    Request::Reload(why) => {
                        // This reload reads the file: a change event for what it holds now is no news.
                        requests.reading_now();
                        let built = match reload(config_path, &storage, &store, &scorer, &stats) {
                            Ok(p) => listener.at(p.config().server.listen).await.map(|l| (p, l)).map_err(Into::into),
                            Err(e) => Err(e),
                        };
                        match built {
                            Ok(next) => {
                                tracing::info!(trigger = why, "configuration reloaded");
                                break Some(next);
                            }
                            Err(e) => {
                                metrics::counter!(telemetry::RELOAD_FAILURES).increment(1);
                                tracing::error!(trigger = why, error = %e, "reload refused; the running configuration stays");
                            }
                        }
                    }
                }
            };
            let _ = stop_tx.send(true);
            match tokio::time::timeout(STOP_LIMIT, running).await {
                Ok(done) => done.map_err(anyhow::Error::from)??,
                Err(_) => {
                    tracing::error!("did not stop within 10 s; exiting (pending deliveries stay in the outbox)");
                    return Ok(ExitCode::FAILURE);
                }
            }
            match next {
                None => return Ok(ExitCode::SUCCESS),
                Some((p, l)) => {
                    metrics::counter!(telemetry::RELOADS).increment(1);
                    (pipeline, listener) = (p, l);
                }
            }
        }
    })
}

/// The new configuration, checked and built while the old one keeps running. Window and
/// alert state carry over through the state file: the old pipeline saves it as it stops, the
/// new one restores every watch whose bucket width and ring are unchanged.
fn reload(path: &Path, storage: &Path, store: &Store, scorer: &Arc<Scorer>, stats: &Arc<Stats>) -> Result<Pipeline> {
    let config = Config::load(path).map_err(|e| anyhow!("{e}"))?;
    // A file caught half-written (or emptied by mistake) is valid TOML with whole sections
    // missing; applying it would stop every watch while the daemon still reports ready.
    if config.sources.is_empty() || config.watches.is_empty() {
        anyhow::bail!(
            "the new configuration has no [[sources]] or no [[watches]] (a file still being written?); \
             a daemon needs both, so the running configuration stays"
        );
    }
    if config.storage.path != storage {
        anyhow::bail!(
            "storage.path changed ({} → {}): moving the state file needs a restart",
            storage.display(),
            config.storage.path.display()
        );
    }
    Pipeline::build(config, store.clone(), scorer.clone(), stats.clone(), Environment::process())
        .map_err(|p| anyhow!("{}", p.join("\n")))
}

/// SIGTERM and SIGINT stop; SIGHUP and an edit of the config file reload.
struct Requests {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
    /// `None` when the file cannot be watched (SIGHUP still works).
    changes: Option<FileChanges>,
}

impl Requests {
    fn new(config_path: &Path) -> Result<Requests> {
        let changes = FileChanges::watch(config_path)
            .inspect_err(|e| tracing::warn!(error = %e, "cannot watch the config file for changes; reload with SIGHUP"))
            .ok();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Requests {
                term: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
                hup: signal(SignalKind::hangup()).context("listening for SIGHUP")?,
                changes,
            })
        }
        #[cfg(not(unix))]
        Ok(Requests { changes })
    }

    /// The config file is being read now: a change event for what it holds is no news.
    fn reading_now(&mut self) {
        if let Some(c) = &mut self.changes {
            c.mark_read();
        }
    }

    async fn next(&mut self) -> Request {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => Request::Stop("SIGTERM"),
                _ = self.hup.recv() => Request::Reload("SIGHUP"),
                _ = tokio::signal::ctrl_c() => Request::Stop("SIGINT"),
                _ = changed(&mut self.changes) => Request::Reload("file change"),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => Request::Stop("SIGINT"),
                _ = changed(&mut self.changes) => Request::Reload("file change"),
            }
        }
    }
}

async fn changed(changes: &mut Option<FileChanges>) {
    match changes {
        Some(c) => c.changed().await,
        None => std::future::pending().await,
    }
}

/// Validates the file as `run` reads it: the configuration, then (unless `no_environment`)
/// exactly what `run` prepares before it starts (`pipeline::prepare`: every secret, source
/// and receiver) and the state file's place. Prints the effective configuration as TOML on
/// stdout, warnings and problems on stderr.
pub fn check(config_path: &Path, no_environment: bool) -> Result<ExitCode> {
    let env = if no_environment { Environment::fixed(Vec::<(String, String)>::new()) } else { Environment::process() };
    let shown = config_path.display();
    let config = match Config::load_with(config_path, &env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{shown}: invalid\n{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    match stormwatch::config::effective_toml(config_path, &env) {
        Ok(text) => print!("{text}"),
        Err(e) => eprintln!("{shown}: cannot print the effective configuration: {e}"),
    }
    for w in &config.warnings {
        eprintln!("{shown}: warning: {w}");
    }
    if !no_environment {
        for w in stormwatch::pipeline::weak_secrets(&config, &env) {
            eprintln!("{shown}: warning: {w}");
        }
        let mut problems = stormwatch::pipeline::prepare(&config, &env).err().unwrap_or_default();
        if let Err(e) = Store::check_location(&config.storage.path) {
            problems.push(format!("storage.path: {e}"));
        }
        if !problems.is_empty() {
            eprintln!("{shown}: cannot start\n{}", problems.join("\n"));
            return Ok(ExitCode::FAILURE);
        }
    }
    eprintln!(
        "{shown}: ok ({} sources, {} watches, {} receivers){}",
        config.sources.len(),
        config.watches.len(),
        config.receivers.len(),
        if no_environment { "; secrets, paths and STORMWATCH__ overrides not checked" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

/// A plain HTTP GET with a short timeout: the runtime image has no curl.
pub fn healthcheck(url: &str) -> Result<ExitCode> {
    use std::io::{Read, Write};
    let u = url::Url::parse(url).with_context(|| format!("{url:?} is not a URL"))?;
    anyhow::ensure!(u.scheme() == "http", "only http:// URLs (the health endpoint is plain HTTP on loopback)");
    let host = u.host_str().context("the URL has no host")?;
    let port = u.port_or_known_default().unwrap_or(80);
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))?.next().context("cannot resolve the host")?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .with_context(|| format!("nothing answers at {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(stream, "GET {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n", u.path())?;
    let mut answer = String::new();
    stream.take(4096).read_to_string(&mut answer)?;
    let status = answer.split_whitespace().nth(1).unwrap_or("");
    if status == "200" {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("stormwatch: {url} answered {status:?}");
        Ok(ExitCode::FAILURE)
    }
}
