//! The alert and notify steps over one state file: signals go through the `Alerter`, its
//! notices and changed episodes are written to the outbox in one transaction, and the
//! outbox worker is woken to send them. What the daemon, `replay --deliver` and the tests use.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::alert::{AckSigner, Alerter, Episode, Outgoing};
use crate::config::Config;
use crate::model::Signal;
use crate::notify::{Channels, Outbox, RetryPolicy, Worker};
use crate::secret::{Environment, SecretError};
use crate::store::{Store, StoreError};

/// Key of the generated acknowledge-link secret in the state file.
const ACK_KEY: &str = "ack_link_key";

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("alerts.ack_secret: {0}")]
    Secret(#[from] SecretError),
}

/// The acknowledge-link signer: the configured key, or the one generated for this state file.
pub fn ack_signer(config: &Config, store: &Store, env: &Environment) -> Result<AckSigner, DispatchError> {
    let key = match &config.alerts.ack_secret {
        Some(secret) => secret.read(env)?.into_bytes(),
        None => store.meta_or_insert(ACK_KEY, AckSigner::generate_key)?,
    };
    Ok(AckSigner::new(key))
}

pub struct Dispatcher {
    alerter: Alerter,
    outbox: Outbox,
    store: Store,
    fallback: Option<String>,
    max_age: std::time::Duration,
    wake: Arc<Notify>,
    /// Notices and episodes a failed write left to write.
    unsaved: (Vec<Outgoing>, Vec<Episode>),
}

impl Dispatcher {
    /// Loads the episodes of an earlier run and the acknowledge-link key.
    pub fn open(config: &Config, store: Store, env: &Environment) -> Result<Dispatcher, DispatchError> {
        let signer = ack_signer(config, &store, env)?;
        // An episode this version cannot read is logged, not fatal: the worst case is one
        // repeated "firing" for it.
        let episodes = crate::alert::episode::decode_saved(&store.episodes()?);
        let alerter = Alerter::new(config.alerts.clone(), config.routes(), signer, episodes);
        let outbox = Outbox::new(store.clone(), alerter.routes().clone());
        Ok(Dispatcher {
            alerter,
            outbox,
            store,
            fallback: config.alerts.fallback.clone(),
            max_age: config.alerts.max_age,
            wake: Arc::new(Notify::new()),
            unsaved: (Vec::new(), Vec::new()),
        })
    }

    /// A worker sending this dispatcher's outbox, woken whenever something is enqueued.
    pub fn worker(&mut self, channels: Arc<Channels>, retry: Option<RetryPolicy>) -> Worker {
        let retry = retry.unwrap_or_else(|| RetryPolicy::new(self.max_age));
        let worker = Worker::new(self.store.clone(), self.outbox.clone(), channels, retry, self.fallback.clone());
        self.wake = worker.waker();
        worker
    }

    pub fn alerter(&self) -> &Alerter {
        &self.alerter
    }

    /// One signal: returns the number of deliveries written.
    pub fn signal(&mut self, signal: &Signal) -> Result<usize, StoreError> {
        self.apply_acks()?;
        let mut out = self.alerter.tick(signal.at);
        out.extend(self.alerter.on_signal(signal));
        self.commit(&out)
    }

    /// Time passing (episode timers, escalations): call every few seconds.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.apply_acks()?;
        let out = self.alerter.tick(now);
        self.commit(&out)
    }

    /// Writes notices with their episodes. When the write fails (disk full, locked file)
    /// they are kept and written with the next commit, so no notice is lost to a passing
    /// storage error.
    fn commit(&mut self, out: &[Outgoing]) -> Result<usize, StoreError> {
        log(out);
        self.unsaved.0.extend_from_slice(out);
        self.unsaved.1.extend(self.alerter.changed());
        if self.unsaved.0.is_empty() && self.unsaved.1.is_empty() {
            return Ok(0);
        }
        let n = self.outbox.enqueue(&self.unsaved.0, &self.unsaved.1, crate::clock::now())?;
        self.unsaved = (Vec::new(), Vec::new());
        if n > 0 {
            self.wake.notify_one();
        }
        Ok(n)
    }

    /// Acknowledgements written by `stormwatch ack` or the HTTP route stop escalation.
    fn apply_acks(&mut self) -> Result<(), StoreError> {
        let open: Vec<String> = self
            .alerter
            .episodes()
            .filter(|e| e.is_open() && e.acknowledged.is_none())
            .map(|e| e.alert_id.clone())
            .collect();
        if open.is_empty() {
            return Ok(());
        }
        for (id, by, at) in self.store.acknowledgements()? {
            if open.contains(&id) {
                self.alerter.acknowledge(&id, &by, at);
            }
        }
        Ok(())
    }
}

/// One log line per notification (not per receiver). The subject has no control characters
/// (render strips them) and is logged quoted, so a post cannot forge log lines.
fn log(out: &[Outgoing]) {
    let mut last: Option<(&str, u32)> = None;
    for o in out {
        let n = &o.notice;
        if last == Some((n.alert_id.as_str(), n.seq)) {
            continue;
        }
        last = Some((n.alert_id.as_str(), n.seq));
        let receivers = out.iter().filter(|x| x.notice.alert_id == n.alert_id && x.notice.seq == n.seq).count();
        let subject = crate::notify::render::subject(&crate::alert::Message::Alert(Box::new(n.clone())));
        tracing::info!(alert = %n.alert_id, event = n.event.as_str(), watch = ?n.watch, receivers, subject = ?subject, "alert");
        metrics::counter!(crate::telemetry::ALERTS, "watch" => n.watch.clone(), "severity" => n.severity.as_str(),
            "event" => n.event.as_str())
        .increment(1);
    }
}
