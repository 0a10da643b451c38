//! `stormwatch run` and `stormwatch check`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};

use stormwatch::config::Config;
use stormwatch::notify::Channels;
use stormwatch::pipeline::Pipeline;
use stormwatch::sentiment::Scorer;
use stormwatch::store::Store;

/// After a stop request the process exits within this, whatever is still running.
const STOP_LIMIT: Duration = Duration::from_secs(10);

pub fn run(config_path: &Path) -> Result<ExitCode> {
    let config = Config::load(config_path).map_err(|e| anyhow!("{e}"))?;
    let store = Store::open(&config.storage.path)?;
    let scorer = Arc::new(Scorer::builtin().context("loading the built-in lexicons")?);
    let pipeline =
        Pipeline::build(config, store, scorer).map_err(|problems| anyhow!("cannot start:\n{}", problems.join("\n")))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    rt.block_on(async {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut running = tokio::spawn(pipeline.run(stop_rx));
        tokio::select! {
            done = &mut running => return done.map_err(anyhow::Error::from)?.map(|()| ExitCode::SUCCESS),
            why = stop_requested() => tracing::info!(signal = why, "stopping"),
        }
        let _ = stop_tx.send(true);
        match tokio::time::timeout(STOP_LIMIT, running).await {
            Ok(done) => done.map_err(anyhow::Error::from)?.map(|()| ExitCode::SUCCESS),
            Err(_) => {
                tracing::error!("did not stop within 10 s; exiting (pending deliveries stay in the outbox)");
                Ok(ExitCode::FAILURE)
            }
        }
    })
}

async fn stop_requested() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => return "SIGTERM",
                _ = tokio::signal::ctrl_c() => return "SIGINT",
            }
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    "SIGINT"
}

/// Validates the file and the secrets it names; prints the effective configuration (secret
/// values are never read into it: it holds only where they are).
pub fn check(config_path: &Path) -> Result<ExitCode> {
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: invalid\n{e}", config_path.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("{config:#?}");
    if let Err(problems) = Channels::build(&config) {
        eprintln!("{}: secrets missing\n{}", config_path.display(), problems.join("\n"));
        return Ok(ExitCode::FAILURE);
    }
    eprintln!(
        "{}: ok ({} sources, {} watches, {} receivers)",
        config_path.display(),
        config.sources.len(),
        config.watches.len(),
        config.receivers.len()
    );
    Ok(ExitCode::SUCCESS)
}
