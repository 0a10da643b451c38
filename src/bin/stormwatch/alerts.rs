//! `stormwatch deliver`, `ack` and `alerts`: the outbox and episodes of a state file, by hand.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use chrono::Utc;

use stormwatch::config::Config;
use stormwatch::model::Signal;
use stormwatch::notify::{Channels, Until};
use stormwatch::pipeline::Dispatcher;
use stormwatch::secret::Environment;
use stormwatch::store::{Purpose, Store};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// The configuration and its state file, shared: for what a running daemon tolerates beside
/// it (listing, and acknowledging, which the daemon reads from the state file every tick).
pub fn load(config: &Path) -> Result<(Config, Store)> {
    let config = Config::load(config).map_err(|e| anyhow!("{e}"))?;
    let store = Store::open(&config.storage.path)?;
    Ok((config, store))
}

fn channels(config: &Config) -> Result<Arc<Channels>> {
    Channels::build(config.channels(), config.smtp.as_ref(), &Environment::process())
        .map_err(|problems| anyhow!("cannot set up the receivers:\n{}", problems.join("\n")))
}

/// Sends what the outbox holds until nothing is pending or `timeout` passes.
pub fn deliver(config: &Path, timeout: Duration) -> Result<ExitCode> {
    let config = Config::load(config).map_err(|e| anyhow!("{e}"))?;
    // Two senders on one outbox would send each delivery twice.
    let store = Store::open_exclusive(&config.storage.path, Purpose::Command("deliver"))?;
    let channels = channels(&config)?;
    let mut dispatcher = Dispatcher::open(&config, store.clone(), &Environment::process())?;
    dispatcher.tick(Utc::now())?;
    drain(&mut dispatcher, channels, &store, timeout)
}

/// Runs signals through the alert step into the outbox, then sends (used by `replay --deliver`).
pub fn deliver_signals(config: &Config, signals: &[Signal], timeout: Duration) -> Result<ExitCode> {
    let store = Store::open_exclusive(&config.storage.path, Purpose::Command("replay --deliver"))?;
    let channels = channels(config)?;
    let mut dispatcher = Dispatcher::open(config, store.clone(), &Environment::process())?;
    let mut written = 0;
    for s in signals {
        written += dispatcher.signal(s)?;
    }
    if let Some(last) = signals.iter().map(|s| s.at).max() {
        written += dispatcher.tick(last)?;
    }
    eprintln!("stormwatch: {} signals made {written} deliveries", signals.len());
    drain(&mut dispatcher, channels, &store, timeout)
}

fn drain(dispatcher: &mut Dispatcher, channels: Arc<Channels>, store: &Store, timeout: Duration) -> Result<ExitCode> {
    let worker = dispatcher.worker(channels, None);
    let deadline = Instant::now() + timeout;
    runtime()?.block_on(worker.run(Until::Idle { deadline }))?;
    let c = store.outbox_counts()?;
    eprintln!(
        "stormwatch: outbox: {} delivered, {} pending, {} held, {} given up, {} summarized",
        c.delivered, c.pending, c.held, c.given_up, c.summarized
    );
    if c.pending > 0 {
        eprintln!(
            "stormwatch: {} deliveries still pending after {}; run `stormwatch deliver` again",
            c.pending,
            humantime::format_duration(timeout)
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// Sends a sample alert straight to each receiver (no outbox, no retries): a check of the
/// receivers' URLs, secrets and the mail relay, with each answer printed.
pub fn notify_test(config: &Path, only: Option<&str>) -> Result<ExitCode> {
    let config = Config::load(config).map_err(|e| anyhow!("{e}"))?;
    let names: Vec<&str> = config.receivers.iter().map(|r| r.name()).filter(|n| only.is_none_or(|o| o == *n)).collect();
    if names.is_empty() {
        bail!("no receiver to test{}", only.map(|o| format!(" named {o:?}")).unwrap_or_default());
    }
    let channels = channels(&config)?;
    let watch = config.watches.first().map_or("Example Brand", |w| w.name.as_str());
    let notice = stormwatch::alert::sample_notice(&format!("TEST {watch}"), Utc::now());
    let message = stormwatch::alert::Message::Alert(Box::new(notice));
    let rt = runtime()?;
    let mut failed = 0;
    for name in names {
        let key = format!("test.{}.{name}", Utc::now().timestamp());
        match rt.block_on(channels.send(name, &message, &key)) {
            Ok(()) => println!("{name}: delivered"),
            Err(e) => {
                failed += 1;
                println!("{name}: FAILED: {e}");
            }
        }
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

pub fn ack(config: &Path, alert_id: &str, by: Option<String>) -> Result<ExitCode> {
    let (_, store) = load(config)?;
    let Some(watch) = store.alert_watch(alert_id)? else {
        bail!("no alert {alert_id:?} in {}; `stormwatch alerts -c FILE` lists them", "the state file");
    };
    let by = by.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "command line".into());
    if store.acknowledge(alert_id, &by, Utc::now())? {
        println!("acknowledged {alert_id} ({watch}) as {by}: it will not escalate further");
    } else {
        println!("{alert_id} ({watch}) was already acknowledged");
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists deliveries with their attempts (all, or of one alert).
pub fn list(config: &Path, alert_id: Option<&str>) -> Result<ExitCode> {
    let (_, store) = load(config)?;
    let acks = store.acknowledgements()?;
    for d in store.deliveries(alert_id)? {
        let when = chrono::DateTime::from_timestamp_millis(d.created_ms).unwrap_or_default();
        println!(
            "{} {:<10} {:<9} {:<12} {} attempts={}{}",
            when.format("%Y-%m-%d %H:%M:%S"),
            d.status.as_str(),
            d.event,
            d.receiver,
            d.key,
            d.attempts,
            d.last_error.map(|e| format!(" last_error={e:?}")).unwrap_or_default()
        );
        for a in store.attempts(d.id)? {
            let at = chrono::DateTime::from_timestamp_millis(a.at_ms).unwrap_or_default();
            println!(
                "    {} {} in {} ms {}",
                at.format("%H:%M:%S%.3f"),
                a.outcome,
                a.duration_ms,
                a.detail.unwrap_or_default()
            );
        }
    }
    for (id, by, at) in acks.iter().filter(|(id, _, _)| alert_id.is_none_or(|a| a == id)) {
        println!("acknowledged {id} by {by} at {}", at.format("%Y-%m-%d %H:%M:%S"));
    }
    Ok(ExitCode::SUCCESS)
}
