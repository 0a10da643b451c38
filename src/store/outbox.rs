//! Alert state in the state file: episodes, the outbox, every delivery attempt,
//! acknowledgements and installation secrets.
//!
//! A notice is written here, in the same transaction as the episode that produced it, before
//! anyone tries to send it; a delivery leaves `pending` only when it was delivered or given
//! up, so a crash at any moment leaves it to be sent (again, with the same idempotency key).

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};

use super::{EpisodeRecord, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for quiet hours to end or the hourly cap to free up.
    Held,
    Pending,
    Delivered,
    GivenUp,
    /// Held, then sent inside a summary.
    Summarized,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Held => "held",
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::GivenUp => "given_up",
            DeliveryStatus::Summarized => "summarized",
        }
    }

    fn parse(s: &str) -> Result<DeliveryStatus, StoreError> {
        [Self::Held, Self::Pending, Self::Delivered, Self::GivenUp, Self::Summarized]
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery status {s:?}")))
    }
}

/// A delivery to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub key: String,
    pub receiver: String,
    pub alert_id: Option<String>,
    pub event: String,
    /// The message as JSON.
    pub message: String,
    /// Held until then, and why.
    pub hold: Option<(DateTime<Utc>, &'static str)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    pub id: i64,
    pub key: String,
    pub receiver: String,
    pub alert_id: Option<String>,
    pub event: String,
    pub message: String,
    pub status: DeliveryStatus,
    pub hold_reason: Option<String>,
    pub created_ms: i64,
    pub release_ms: Option<i64>,
    pub next_attempt_ms: i64,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered,
    Retry { next_ms: i64, error: String },
    GivenUp { error: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub at_ms: i64,
    pub duration_ms: i64,
    pub outcome: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub held: u64,
    pub pending: u64,
    pub delivered: u64,
    pub given_up: u64,
    pub summarized: u64,
}

const COLUMNS: &str = "id, idempotency_key, receiver, alert_id, event, message, status, hold_reason, created_ms, \
                       release_ms, next_attempt_ms, attempts, last_error";

fn row(r: &Row<'_>) -> rusqlite::Result<(DeliveryRow, String)> {
    let status: String = r.get(6)?;
    Ok((
        DeliveryRow {
            id: r.get(0)?,
            key: r.get(1)?,
            receiver: r.get(2)?,
            alert_id: r.get(3)?,
            event: r.get(4)?,
            message: r.get(5)?,
            status: DeliveryStatus::Pending,
            hold_reason: r.get(7)?,
            created_ms: r.get(8)?,
            release_ms: r.get(9)?,
            next_attempt_ms: r.get(10)?,
            attempts: r.get::<_, i64>(11)? as u32,
            last_error: r.get(12)?,
        },
        status,
    ))
}

fn rows(stmt: &mut rusqlite::Statement<'_>, p: impl rusqlite::Params) -> Result<Vec<DeliveryRow>, StoreError> {
    let found: Vec<(DeliveryRow, String)> = stmt.query_map(p, row)?.collect::<Result<_, _>>()?;
    found.into_iter().map(|(d, s)| DeliveryStatus::parse(&s).map(|status| DeliveryRow { status, ..d })).collect()
}

fn insert(tx: &rusqlite::Transaction<'_>, d: &NewDelivery, now_ms: i64) -> Result<(), StoreError> {
    let (status, release, reason) = match d.hold {
        Some((until, why)) => (DeliveryStatus::Held, Some(until.timestamp_millis()), Some(why)),
        None => (DeliveryStatus::Pending, None, None),
    };
    // The same key twice (a replayed signal after a crash) is the same delivery.
    tx.prepare_cached(
        "INSERT INTO outbox (idempotency_key, receiver, alert_id, event, message, status, hold_reason, created_ms,
                             release_ms, next_attempt_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8)
         ON CONFLICT (idempotency_key) DO NOTHING",
    )?
    .execute(params![
        d.key,
        d.receiver,
        d.alert_id,
        d.event,
        d.message,
        status.as_str(),
        reason,
        now_ms,
        release
    ])?;
    Ok(())
}

impl Store {
    /// Saves changed episodes and their deliveries in one transaction.
    pub(crate) fn commit_alerts(
        &self,
        episodes: &[EpisodeRecord],
        deliveries: &[NewDelivery],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO alert_episode (fingerprint, alert_id, watch, state, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (fingerprint) DO UPDATE SET alert_id = excluded.alert_id, state = excluded.state,
                     updated_at = excluded.updated_at",
            )?;
            // Every episode is also kept by its id, for reports after it was replaced.
            let mut keep = tx.prepare_cached(
                "INSERT INTO alert_history (alert_id, fingerprint, watch, started_at, state, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (alert_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            )?;
            for e in episodes {
                put.execute(params![e.fingerprint, e.alert_id, e.watch, e.state, now.timestamp()])?;
                keep.execute(params![
                    e.alert_id,
                    e.fingerprint,
                    e.watch,
                    e.started_at.timestamp(),
                    e.state,
                    now.timestamp()
                ])?;
            }
        }
        let now_ms = crate::clock::now().timestamp_millis();
        for d in deliveries {
            insert(&tx, d, now_ms)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every saved episode, as JSON.
    pub fn episodes(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT state FROM alert_episode")?;
        let out = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(out)
    }

    /// The watch of an alert id, if an episode has it.
    pub fn alert_watch(&self, alert_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT watch FROM alert_episode WHERE alert_id = ?1", params![alert_id], |r| r.get(0))
            .optional()?)
    }

    /// Deliveries to `receiver` that counted against its hourly cap since `since`, and the
    /// oldest of them.
    pub(crate) fn sent_since(
        &self,
        receiver: &str,
        since: DateTime<Utc>,
    ) -> Result<(u32, Option<DateTime<Utc>>), StoreError> {
        let (n, oldest): (i64, Option<i64>) = self.conn().query_row(
            "SELECT count(*), min(created_ms) FROM outbox
             WHERE receiver = ?1 AND created_ms >= ?2 AND status NOT IN ('held', 'summarized')",
            params![receiver, since.timestamp_millis()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((n as u32, oldest.and_then(DateTime::from_timestamp_millis)))
    }

    /// Pending deliveries due by `now_ms`, oldest first, leaving out `busy` ones. A receiver
    /// gets an alert's notifications in order: one waits while an earlier one of the same
    /// alert to the same receiver is pending (being sent or waiting for a retry).
    pub(crate) fn due_deliveries(
        &self,
        now_ms: i64,
        limit: usize,
        busy: &[i64],
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_ms <= ?1
               AND NOT EXISTS (SELECT 1 FROM outbox AS earlier
                               WHERE earlier.status = 'pending' AND earlier.receiver = outbox.receiver
                                 AND earlier.alert_id = outbox.alert_id AND earlier.id < outbox.id)
             ORDER BY next_attempt_ms, id LIMIT ?2"
        ))?;
        let mut found = rows(&mut stmt, params![now_ms, (limit + busy.len()) as i64])?;
        found.retain(|d| !busy.contains(&d.id));
        found.truncate(limit);
        Ok(found)
    }

    /// When the next pending delivery is due.
    pub(crate) fn next_due_ms(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.conn().query_row(
            "SELECT min(min_ms) FROM (
                 SELECT min(next_attempt_ms) AS min_ms FROM outbox WHERE status = 'pending'
                 UNION ALL SELECT min(release_ms) FROM outbox WHERE status = 'held')",
            [],
            |r| r.get(0),
        )?)
    }

    /// Records an attempt and its outcome, and writes a fallback delivery with it.
    pub(crate) fn record_attempt(
        &self,
        id: i64,
        started_ms: i64,
        duration_ms: i64,
        outcome: &Outcome,
        fallback: Option<&NewDelivery>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let (name, detail) = match outcome {
            Outcome::Delivered => ("delivered", None),
            Outcome::Retry { error, .. } => ("retry", Some(error.as_str())),
            Outcome::GivenUp { error } => ("given_up", Some(error.as_str())),
        };
        tx.prepare_cached(
            "INSERT INTO delivery_attempt (delivery_id, at_ms, duration_ms, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![id, started_ms, duration_ms, name, detail])?;
        let done = started_ms + duration_ms;
        match outcome {
            Outcome::Delivered | Outcome::GivenUp { .. } => tx
                .prepare_cached(
                    "UPDATE outbox SET status = ?2, attempts = attempts + 1, last_error = ?3, done_ms = ?4 WHERE id = ?1",
                )?
                .execute(params![id, if detail.is_some() { "given_up" } else { "delivered" }, detail, done])?,
            Outcome::Retry { next_ms, error } => tx
                .prepare_cached(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_ms = ?3 WHERE id = ?1",
                )?
                .execute(params![id, error, next_ms])?,
        };
        if let Some(f) = fallback {
            insert(&tx, f, done)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Held deliveries whose time has come, oldest first.
    pub(crate) fn released(&self, now_ms: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE status = 'held' AND release_ms <= ?1 ORDER BY receiver, id"
        ))?;
        rows(&mut stmt, params![now_ms])
    }

    /// Every held delivery of a receiver (to summarize them together).
    pub(crate) fn held_for(&self, receiver: &str) -> Result<Vec<DeliveryRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE status = 'held' AND receiver = ?1 ORDER BY id"
        ))?;
        rows(&mut stmt, params![receiver])
    }

    /// Writes a summary delivery and marks the held ones it carries.
    pub(crate) fn summarize(&self, held: &[i64], summary: &NewDelivery) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let now_ms = crate::clock::now().timestamp_millis();
        insert(&tx, summary, now_ms)?;
        let id: i64 =
            tx.query_row("SELECT id FROM outbox WHERE idempotency_key = ?1", params![summary.key], |r| r.get(0))?;
        for h in held {
            tx.prepare_cached("UPDATE outbox SET status = 'summarized', summary_id = ?2, done_ms = ?3 WHERE id = ?1")?
                .execute(params![h, id, now_ms])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Deliveries of an alert (or all, newest last), for `stormwatch alerts` and the report.
    pub fn deliveries(&self, alert_id: Option<&str>) -> Result<Vec<DeliveryRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM outbox WHERE ?1 IS NULL OR alert_id = ?1 ORDER BY id"))?;
        rows(&mut stmt, params![alert_id])
    }

    pub fn attempts(&self, delivery_id: i64) -> Result<Vec<Attempt>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT at_ms, duration_ms, outcome, detail FROM delivery_attempt WHERE delivery_id = ?1 ORDER BY id",
        )?;
        let out = stmt
            .query_map(params![delivery_id], |r| {
                Ok(Attempt { at_ms: r.get(0)?, duration_ms: r.get(1)?, outcome: r.get(2)?, detail: r.get(3)? })
            })?
            .collect::<Result<_, _>>()?;
        Ok(out)
    }

    pub fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT status, count(*) FROM outbox GROUP BY status")?;
        let mut c = OutboxCounts::default();
        for r in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))? {
            let (status, n) = r?;
            match DeliveryStatus::parse(&status)? {
                DeliveryStatus::Held => c.held = n,
                DeliveryStatus::Pending => c.pending = n,
                DeliveryStatus::Delivered => c.delivered = n,
                DeliveryStatus::GivenUp => c.given_up = n,
                DeliveryStatus::Summarized => c.summarized = n,
            }
        }
        Ok(c)
    }

    /// Records an acknowledgement; false when it was already acknowledged.
    pub fn acknowledge(&self, alert_id: &str, by: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "INSERT INTO alert_ack (alert_id, by, at) VALUES (?1, ?2, ?3) ON CONFLICT (alert_id) DO NOTHING",
            params![alert_id, by, at.timestamp()],
        )?;
        Ok(n == 1)
    }

    /// Every acknowledgement: `(alert_id, by, at)`.
    pub fn acknowledgements(&self) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT alert_id, by, at FROM alert_ack")?;
        let out = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, DateTime::from_timestamp(r.get(2)?, 0).unwrap_or_default())))?
            .collect::<Result<_, _>>()?;
        Ok(out)
    }

    /// A value kept for this installation (e.g. the generated acknowledge-link key), created
    /// by `make` on first use.
    pub(crate) fn meta_or_insert(&self, key: &str, make: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let conn = self.conn();
        if let Some(v) =
            conn.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| r.get(0)).optional()?
        {
            return Ok(v);
        }
        let value = make();
        conn.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", params![key, value])?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(key: &str, hold: Option<(DateTime<Utc>, &'static str)>) -> NewDelivery {
        NewDelivery {
            key: key.into(),
            receiver: "team".into(),
            alert_id: Some("a-1".into()),
            event: "firing".into(),
            message: "{}".into(),
            hold,
        }
    }

    #[test]
    fn a_delivery_stays_due_until_an_outcome_is_recorded() {
        let store = Store::in_memory().unwrap();
        let now = Utc::now();
        store.commit_alerts(&[], &[delivery("k1", None), delivery("k1", None)], now).unwrap();
        let far = now.timestamp_millis() + 10_000;
        let due = store.due_deliveries(far, 10, &[]).unwrap();
        assert_eq!(due.len(), 1, "the same key twice is one delivery");
        assert!(store.due_deliveries(far, 10, &[due[0].id]).unwrap().is_empty(), "busy ones are left out");
        let retry = Outcome::Retry { next_ms: far + 5_000, error: "HTTP 500".into() };
        store.record_attempt(due[0].id, far, 3, &retry, None).unwrap();
        assert!(store.due_deliveries(far, 10, &[]).unwrap().is_empty());
        assert_eq!(store.due_deliveries(far + 5_000, 10, &[]).unwrap()[0].attempts, 1);
        let fallback = delivery("k1:fallback", None);
        store
            .record_attempt(due[0].id, far + 5_000, 3, &Outcome::GivenUp { error: "too old".into() }, Some(&fallback))
            .unwrap();
        let c = store.outbox_counts().unwrap();
        assert_eq!((c.given_up, c.pending), (1, 1), "given up, and the fallback is pending");
        assert_eq!(store.attempts(due[0].id).unwrap().len(), 2);
    }

    #[test]
    fn an_alerts_notifications_reach_a_receiver_in_order() {
        let store = Store::in_memory().unwrap();
        let now = Utc::now();
        let mut other = delivery("k3", None);
        other.alert_id = Some("b-1".into());
        store.commit_alerts(&[], &[delivery("k1", None), delivery("k2", None), other], now).unwrap();
        let far = now.timestamp_millis() + 10_000;
        let keys = |d: Vec<DeliveryRow>| d.into_iter().map(|d| d.key).collect::<Vec<_>>();
        assert_eq!(keys(store.due_deliveries(far, 10, &[]).unwrap()), ["k1", "k3"], "k2 waits for k1");
        let first = store.due_deliveries(far, 10, &[]).unwrap()[0].id;
        store.record_attempt(first, far, 1, &Outcome::Delivered, None).unwrap();
        assert_eq!(keys(store.due_deliveries(far, 10, &[]).unwrap()), ["k2", "k3"]);
    }

    #[test]
    fn held_deliveries_do_not_count_against_the_cap_and_are_summarized_once() {
        let store = Store::in_memory().unwrap();
        let now = Utc::now();
        let later = now + chrono::Duration::hours(1);
        store
            .commit_alerts(
                &[],
                &[
                    delivery("a", None),
                    delivery("b", Some((later, "quiet_hours"))),
                    delivery("c", Some((later, "quiet_hours"))),
                ],
                now,
            )
            .unwrap();
        assert_eq!(store.sent_since("team", now - chrono::Duration::hours(1)).unwrap().0, 1);
        assert!(store.released(now.timestamp_millis()).unwrap().is_empty());
        let released = store.released(later.timestamp_millis()).unwrap();
        assert_eq!(released.len(), 2);
        let ids: Vec<i64> = released.iter().map(|d| d.id).collect();
        store.summarize(&ids, &delivery("summary-1", None)).unwrap();
        let c = store.outbox_counts().unwrap();
        assert_eq!((c.held, c.summarized, c.pending), (0, 2, 2));
    }

    #[test]
    fn acknowledgements_and_meta_are_kept() {
        let store = Store::in_memory().unwrap();
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(store.acknowledge("a-1", "ann", now).unwrap());
        assert!(!store.acknowledge("a-1", "bob", now).unwrap(), "the first acknowledgement stands");
        assert_eq!(store.acknowledgements().unwrap(), [("a-1".to_string(), "ann".to_string(), now)]);
        let k1 = store.meta_or_insert("ack_key", || vec![1, 2, 3]).unwrap();
        let k2 = store.meta_or_insert("ack_key", || vec![9]).unwrap();
        assert_eq!((k1, k2), (vec![1, 2, 3], vec![1, 2, 3]));
    }
}
