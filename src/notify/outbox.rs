//! The durable outbox: notices are written to the state file (held by quiet hours or the
//! hourly cap where a receiver's policy says so) before anything is sent; a worker sends what
//! is due, retries with exponential backoff and jitter (or the receiver's Retry-After), gives
//! up only after `max_age` — then logs it, counts it and hands it to the fallback receiver —
//! and records every attempt. After a crash the worker resumes: a delivery is sent at least
//! once, and a duplicate carries the same idempotency key.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::{Channels, SendError};
use crate::alert::policy::{self, Gate};
use crate::alert::{Episode, Message, Outgoing, Routes, Summary};
use crate::store::{DeliveryRow, EpisodeRecord, NewDelivery, Outcome, Store, StoreError};

/// How hard the worker tries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// First wait after a failure; doubled each time.
    pub base: Duration,
    pub max_backoff: Duration,
    /// Give up on a delivery this long after it was written.
    pub max_age: Duration,
    /// Sends in flight at once (one slow receiver must not hold up the others).
    pub concurrency: usize,
}

impl RetryPolicy {
    pub fn new(max_age: Duration) -> RetryPolicy {
        RetryPolicy { base: Duration::from_secs(2), max_backoff: Duration::from_secs(300), max_age, concurrency: 32 }
    }

    /// Exponential, capped, with ±50% jitter so that many receivers failing together do not
    /// retry in lockstep.
    pub(crate) fn backoff(&self, attempts: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempts.min(20)).min(self.max_backoff);
        exp.mul_f64(0.5 + rand::random::<f64>())
    }
}

/// Writes notices to the outbox, deciding per receiver whether they go now or are held.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    routes: Routes,
}

impl Outbox {
    pub fn new(store: Store, routes: Routes) -> Outbox {
        Outbox { store, routes }
    }

    /// Saves `episodes` and their notices in one transaction.
    pub(crate) fn enqueue(
        &self,
        outgoing: &[Outgoing],
        episodes: &[Episode],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let hour_ago = now - chrono::Duration::hours(1);
        let mut sent: HashMap<String, (u32, Option<DateTime<Utc>>)> = HashMap::new();
        let mut deliveries = Vec::with_capacity(outgoing.len());
        for o in outgoing {
            let Some(receiver) = self.routes.get(&o.receiver) else {
                tracing::warn!(receiver = %o.receiver, "a notice for a receiver that is no longer configured");
                continue;
            };
            let count = match sent.get(&o.receiver) {
                Some(c) => *c,
                None => self.store.sent_since(&o.receiver, hour_ago)?,
            };
            let gate = policy::gate(receiver, o.notice.severity, o.notice.event, now, count.0, count.1);
            let hold = match gate {
                Gate::Send => {
                    sent.insert(o.receiver.clone(), (count.0 + 1, count.1.or(Some(now))));
                    None
                }
                Gate::Hold { until, reason } => {
                    sent.insert(o.receiver.clone(), count);
                    tracing::info!(receiver = %o.receiver, alert = %o.notice.alert_id, until = %until,
                        reason = reason.as_str(), "notice held");
                    Some((until, reason.as_str()))
                }
            };
            deliveries.push(NewDelivery {
                key: format!("{}.{}.{}", o.notice.alert_id, o.notice.seq, o.receiver),
                receiver: o.receiver.clone(),
                alert_id: Some(o.notice.alert_id.clone()),
                event: o.notice.event.as_str().to_string(),
                message: encode(&Message::Alert(Box::new(o.notice.clone())), "a notice")?,
                hold,
            });
        }
        let episodes = episodes
            .iter()
            .map(|e| {
                Ok(EpisodeRecord {
                    alert_id: e.alert_id.clone(),
                    fingerprint: e.fingerprint.clone(),
                    watch: e.last_signal.watch.clone(),
                    started_at: e.started_at,
                    state: encode(e, "an alert episode")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.store.commit_alerts(&episodes, &deliveries, now)?;
        Ok(deliveries.len())
    }

    /// Held notices whose time has come go out as one summary per receiver (every notice
    /// still held for that receiver goes in it).
    pub fn release(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let released = self.store.released(now.timestamp_millis())?;
        let mut receivers: Vec<&str> = released.iter().map(|d| d.receiver.as_str()).collect();
        receivers.dedup();
        for receiver in &receivers {
            let held = self.store.held_for(receiver)?;
            let Some(first) = held.first() else { continue };
            let notices = held.iter().filter_map(|d| match serde_json::from_str::<Message>(&d.message) {
                Ok(Message::Alert(n)) => Some(*n),
                Ok(Message::Summary(s)) => s.notices.into_iter().next(),
                Err(e) => {
                    // Left out of the summary, and marked summarized with the rest: logged
                    // so the notice is not lost without a word.
                    tracing::error!(receiver = %receiver, delivery = d.id, error = %e,
                        "a held notice is unreadable (written by another version?); left out of the summary");
                    None
                }
            });
            let summary = Summary {
                receiver: receiver.to_string(),
                reason: first.hold_reason.clone().unwrap_or_default(),
                at: now,
                notices: notices.collect(),
            };
            let ids: Vec<i64> = held.iter().map(|d| d.id).collect();
            let delivery = NewDelivery {
                key: format!("summary.{receiver}.{}", first.id),
                receiver: receiver.to_string(),
                alert_id: None,
                event: "summary".into(),
                message: encode(&Message::Summary(summary), "a summary")?,
                hold: None,
            };
            self.store.summarize(&ids, &delivery)?;
            tracing::info!(receiver = %receiver, held = ids.len(), "held notices released as a summary");
        }
        Ok(receivers.len())
    }
}

/// JSON for the state file; a failure is an error of the write, never an empty record.
fn encode<T: serde::Serialize>(value: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Encode(format!("{what}: {e}")))
}

/// Sends what the outbox holds.
pub struct Worker {
    store: Store,
    outbox: Outbox,
    channels: Arc<Channels>,
    retry: RetryPolicy,
    fallback: Option<String>,
    wake: Arc<Notify>,
}

/// When `run` returns.
#[derive(Debug, Clone)]
pub enum Until {
    /// Nothing pending and nothing in flight (for `stormwatch` one-shot commands and tests),
    /// or the deadline passed.
    Idle { deadline: Instant },
    /// The watch channel says stop; in-flight sends get `grace` to finish.
    Stopped { stop: tokio::sync::watch::Receiver<bool>, grace: Duration },
}

type Sent = (DeliveryRow, i64, Duration, Result<(), SendError>);

impl Worker {
    pub(crate) fn new(
        store: Store,
        outbox: Outbox,
        channels: Arc<Channels>,
        retry: RetryPolicy,
        fallback: Option<String>,
    ) -> Worker {
        Worker { store, outbox, channels, retry, fallback, wake: Arc::new(Notify::new()) }
    }

    /// Wakes the worker at once (after an enqueue), instead of at its next check.
    pub(crate) fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub async fn run(&self, mut until: Until) -> Result<(), StoreError> {
        let mut inflight: JoinSet<Sent> = JoinSet::new();
        let mut busy: Vec<i64> = Vec::new();
        loop {
            let now = crate::clock::now();
            self.outbox.release(now)?;
            let free = self.retry.concurrency.saturating_sub(inflight.len());
            if free > 0 {
                for row in self.store.due_deliveries(now.timestamp_millis(), free, &busy)? {
                    busy.push(row.id);
                    let channels = self.channels.clone();
                    inflight.spawn(async move {
                        let started = crate::clock::now().timestamp_millis();
                        let clock = Instant::now();
                        let result = match serde_json::from_str::<Message>(&row.message) {
                            Ok(m) => channels.send(&row.receiver, &m, &row.key).await,
                            Err(e) => Err(SendError::Permanent(format!("stored message is unreadable: {e}"))),
                        };
                        (row, started, clock.elapsed(), result)
                    });
                }
            }
            if let Until::Idle { deadline } = &until {
                if inflight.is_empty() && (self.store.outbox_counts()?.pending == 0 || Instant::now() >= *deadline) {
                    return Ok(());
                }
            }
            let wait =
                if inflight.len() >= self.retry.concurrency { Duration::from_secs(3600) } else { self.next_wait()? };
            let stop = async {
                match &mut until {
                    Until::Stopped { stop, .. } => {
                        let _ = stop.wait_for(|s| *s).await;
                    }
                    Until::Idle { .. } => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                    if let Ok(sent) = done {
                        busy.retain(|id| *id != sent.0.id);
                        self.record(sent)?;
                    }
                }
                _ = self.wake.notified() => {}
                _ = crate::clock::sleep(wait) => {}
                _ = stop => {
                    let grace = match &until { Until::Stopped { grace, .. } => *grace, Until::Idle { .. } => Duration::ZERO };
                    let deadline = tokio::time::Instant::now() + grace;
                    // What is in flight finishes (or stays pending, to be sent after the restart).
                    while let Ok(Some(Ok(sent))) = tokio::time::timeout_at(deadline, inflight.join_next()).await {
                        self.record(sent)?;
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Until the next due delivery or held release (capped, so new rows written by another
    /// process are seen within a second).
    fn next_wait(&self) -> Result<Duration, StoreError> {
        let now = crate::clock::now().timestamp_millis();
        let next = self.store.next_due_ms()?.unwrap_or(now + 1000);
        Ok(Duration::from_millis((next - now).clamp(5, 1000) as u64))
    }

    fn record(&self, (row, started, took, result): Sent) -> Result<(), StoreError> {
        let now = crate::clock::now();
        let age = Duration::from_millis((now.timestamp_millis() - row.created_ms).max(0) as u64);
        let (outcome, fallback) = match result {
            Ok(()) => {
                tracing::info!(receiver = %row.receiver, key = %row.key, attempts = row.attempts + 1, "delivered");
                (Outcome::Delivered, None)
            }
            Err(SendError::Retry { reason, after }) => {
                let wait = after.unwrap_or_default().max(self.retry.backoff(row.attempts));
                if age + wait > self.retry.max_age {
                    let error = format!(
                        "{reason}; gave up after {} attempts over {}",
                        row.attempts + 1,
                        humantime::format_duration(Duration::from_secs(age.as_secs()))
                    );
                    (Outcome::GivenUp { error }, self.fallback_for(&row))
                } else {
                    tracing::warn!(receiver = %row.receiver, key = %row.key, error = %reason,
                        retry_in_ms = wait.as_millis() as u64, "delivery failed, will retry");
                    let next_ms = now.timestamp_millis() + wait.as_millis() as i64;
                    (Outcome::Retry { next_ms, error: reason }, None)
                }
            }
            Err(SendError::Permanent(reason)) => (Outcome::GivenUp { error: reason }, self.fallback_for(&row)),
        };
        if let Outcome::GivenUp { error } = &outcome {
            tracing::error!(receiver = %row.receiver, key = %row.key, error = %error,
                fallback = fallback.as_ref().map(|f| f.receiver.as_str()).unwrap_or("none"), "delivery given up");
        }
        let label = match outcome {
            Outcome::Delivered => "delivered",
            Outcome::Retry { .. } => "retry",
            Outcome::GivenUp { .. } => "given_up",
        };
        metrics::counter!(crate::telemetry::DELIVERY_ATTEMPTS, "receiver" => row.receiver.clone(), "outcome" => label)
            .increment(1);
        self.store.record_attempt(row.id, started, took.as_millis() as i64, &outcome, fallback.as_ref())
    }

    /// The same message for the fallback receiver (never a fallback of a fallback).
    fn fallback_for(&self, row: &DeliveryRow) -> Option<NewDelivery> {
        let to = self.fallback.as_ref().filter(|f| **f != row.receiver && !row.key.ends_with(".fallback"))?;
        Some(NewDelivery {
            key: format!("{}.fallback", row.key),
            receiver: to.clone(),
            alert_id: row.alert_id.clone(),
            event: row.event.clone(),
            message: row.message.clone(),
            hold: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let p = RetryPolicy::new(Duration::from_secs(3600));
        for attempt in 0..4u32 {
            let d = p.backoff(attempt).as_secs_f64();
            let centre = 2.0 * f64::from(1u32 << attempt);
            assert!(d >= centre * 0.5 && d <= centre * 1.5, "attempt {attempt}: {d}");
        }
        assert!(p.backoff(30) <= Duration::from_secs(450));
    }
}
