//! The state that must survive a restart, in one SQLite file: source cursors and conditional-GET
//! validators, the ids of mentions already handed on (to count each once), source health, and
//! the detectors' window state (so a restart continues the baselines).
//! This module is the only one that speaks SQL.
//!
//! The file runs in WAL mode with a busy timeout, so readers (the status page, `report`) never
//! block the poller. Schema changes are numbered migrations applied in order at open, tracked
//! in `PRAGMA user_version`. A file that cannot be opened for writing is an error at start:
//! stormwatch refuses to run without persistence rather than lose counts on the next restart.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

mod history;
mod lock;
mod outbox;

pub use lock::{LockError, Purpose, StateLock};

pub use history::{EpisodeRecord, LoggedMention};
pub use outbox::{Attempt, DeliveryRow, DeliveryStatus, NewDelivery, OutboxCounts, Outcome};

/// The `meta` key of the journal seq the saved window states counted through.
const COUNTED_THROUGH: &str = "counted_through";

/// Numbered schema steps; never edit one that has shipped, append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: sources
    "CREATE TABLE source_state (
         source TEXT PRIMARY KEY,
         cursor TEXT NOT NULL,          -- kind-specific JSON
         etag TEXT,
         last_modified TEXT,
         updated_at INTEGER NOT NULL
     );
     CREATE TABLE seen (
         source TEXT NOT NULL,
         id TEXT NOT NULL,
         seen_at INTEGER NOT NULL,
         PRIMARY KEY (source, id)
     ) WITHOUT ROWID;
     CREATE INDEX seen_by_time ON seen (seen_at);
     CREATE TABLE source_health (
         source TEXT PRIMARY KEY,
         last_attempt INTEGER,
         last_success INTEGER,
         consecutive_failures INTEGER NOT NULL DEFAULT 0,
         last_status INTEGER,
         last_error TEXT,
         last_items INTEGER NOT NULL DEFAULT 0
     );",
    // 2: detection window state, one row per watch (and one for blind spots)
    "CREATE TABLE detector_state (
         key TEXT PRIMARY KEY,          -- 'watch:<name>' or 'blind_spots'
         state BLOB NOT NULL,           -- the detector's own JSON
         saved_at INTEGER NOT NULL
     );",
    // 3: alert episodes, the outbox and its attempts, acknowledgements, installation secrets
    "CREATE TABLE alert_episode (
         fingerprint TEXT PRIMARY KEY,
         alert_id TEXT NOT NULL,
         watch TEXT NOT NULL,
         state TEXT NOT NULL,           -- the episode as JSON
         updated_at INTEGER NOT NULL
     );
     CREATE INDEX alert_episode_by_id ON alert_episode (alert_id);
     CREATE TABLE outbox (
         id INTEGER PRIMARY KEY,
         idempotency_key TEXT NOT NULL UNIQUE,
         receiver TEXT NOT NULL,
         alert_id TEXT,                 -- NULL for a summary
         event TEXT NOT NULL,
         message TEXT NOT NULL,         -- what to send, as JSON
         status TEXT NOT NULL,          -- held | pending | delivered | given_up | summarized
         hold_reason TEXT,
         created_ms INTEGER NOT NULL,
         release_ms INTEGER,            -- held: when it may go (in a summary)
         next_attempt_ms INTEGER NOT NULL,
         attempts INTEGER NOT NULL DEFAULT 0,
         last_error TEXT,
         done_ms INTEGER,
         summary_id INTEGER             -- summarized: the delivery that carried it
     );
     CREATE INDEX outbox_due ON outbox (status, next_attempt_ms);
     CREATE INDEX outbox_by_receiver ON outbox (receiver, created_ms);
     CREATE INDEX outbox_by_alert ON outbox (receiver, alert_id, status, id);
     CREATE TABLE delivery_attempt (
         id INTEGER PRIMARY KEY,
         delivery_id INTEGER NOT NULL REFERENCES outbox (id),
         at_ms INTEGER NOT NULL,
         duration_ms INTEGER NOT NULL,
         outcome TEXT NOT NULL,         -- delivered | retry | given_up
         detail TEXT
     );
     CREATE INDEX delivery_attempt_by_delivery ON delivery_attempt (delivery_id);
     CREATE TABLE alert_ack (
         alert_id TEXT PRIMARY KEY,
         by TEXT NOT NULL,
         at INTEGER NOT NULL
     );
     CREATE TABLE meta (
         key TEXT PRIMARY KEY,
         value BLOB NOT NULL
     );",
    // 4: the mention journal (every mention a watch counted, once: what the windows are
    // rebuilt from after a crash, and what reports read) and every alert episode (the
    // alert_episode row of a watch and signal is replaced by its next episode)
    "CREATE TABLE mention_log (
         seq INTEGER PRIMARY KEY,       -- order of arrival; the window state records how far it counted
         watch TEXT NOT NULL,
         source TEXT NOT NULL,
         id TEXT NOT NULL,
         published INTEGER NOT NULL,
         lang TEXT,
         label TEXT NOT NULL,
         compound REAL NOT NULL,
         reach INTEGER,
         author TEXT,
         url TEXT,
         text TEXT NOT NULL,
         details TEXT NOT NULL,         -- JSON: terms and crisis categories
         UNIQUE (watch, source, id)
     );
     CREATE INDEX mention_log_by_time ON mention_log (watch, published);
     CREATE INDEX mention_log_published ON mention_log (published);
     CREATE TABLE alert_history (
         alert_id TEXT PRIMARY KEY,
         fingerprint TEXT NOT NULL,
         watch TEXT NOT NULL,
         started_at INTEGER NOT NULL,
         state TEXT NOT NULL,           -- the episode as JSON, as last saved
         updated_at INTEGER NOT NULL
     );
     CREATE INDEX alert_history_by_watch ON alert_history (watch, started_at);
     INSERT INTO alert_history (alert_id, fingerprint, watch, started_at, state, updated_at)
         SELECT alert_id, fingerprint, watch,
                COALESCE(CAST(strftime('%s', json_extract(state, '$.started_at')) AS INTEGER), updated_at),
                state, updated_at
         FROM alert_episode;",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the state file {path}: {source} (stormwatch needs a writable SQLite file; check [storage] path, permissions and free space)")]
    Open { path: String, source: rusqlite::Error },
    #[error("cannot write next to the state file {path}: {why} (stormwatch needs a writable state file with room to grow and will not run without one; free space or fix permissions in that folder, or set another [storage] path)")]
    NotWritable { path: String, why: String },
    #[error("state file {path} was written by a newer stormwatch (schema {found}, this one knows {known}); upgrade stormwatch or use another [storage] path")]
    TooNew { path: String, found: i64, known: i64 },
    #[error("state file error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("state file holds invalid data: {0}")]
    Corrupt(String),
    #[error("cannot encode {0} for the state file")]
    Encode(String),
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error("the state file {path} is read-only ({why}); stormwatch must write to it: fix its permissions or set another [storage] path")]
    ReadOnly { path: String, why: String },
    #[error("{path} is not a stormwatch state file: it is an SQLite database with other tables ({tables}), and stormwatch will not add its own to it; set [storage] path to a file of its own")]
    Foreign { path: String, tables: String },
}

/// What a source remembers between polls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceState {
    /// Kind-specific position (JSON): last id, time, page token, …
    pub cursor: serde_json::Value,
    /// Conditional GET validators from the last 200 response.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// How a source has been doing: the detection step turns a blind source into an alert.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceHealth {
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub last_items: u32,
}

/// A detector's state as last saved.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedState {
    pub bytes: Vec<u8>,
    pub saved_at: DateTime<Utc>,
}

/// A handle on the state file; cheap to clone, safe to share between threads.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    /// Held by the processes that write (see `lock`); readers such as `report` go without.
    _lock: Option<Arc<StateLock>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// How much a test write next to the state file must be able to put on disk at open. SQLite
/// needs room for its WAL before a commit can land; a disk with less than this free would let
/// the daemon start and then fail every page, so it is refused at start instead.
const HEADROOM: usize = 1 << 20;

/// Writes and syncs `HEADROOM` bytes in the state file's folder, then removes them. SQLite's
/// own words for a full disk or a read-only filesystem ("disk I/O error", "unable to open
/// database file") do not say what to fix, and a full disk whose WAL already exists passes
/// SQLite's checks: the operating system's error here names the cause.
fn check_headroom(path: &Path) -> Result<(), HeadroomError> {
    use std::io::Write;
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let probe = folder.join(format!(".{name}.headroom-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| f.write_all(&vec![0; HEADROOM]).and_then(|()| f.sync_all()));
    let removed = std::fs::remove_file(&probe);
    match (written, removed) {
        (Err(source), _) => Err(HeadroomError::Write { folder: folder.display().to_string(), source }),
        (Ok(()), Err(source)) => Err(HeadroomError::Remove { probe: probe.display().to_string(), source }),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// Why the test write next to the state file failed: the operating system's words.
#[derive(Debug, thiserror::Error)]
enum HeadroomError {
    #[error("a {} KiB test write in {folder} fails: {source}", HEADROOM / 1024)]
    Write { folder: String, source: std::io::Error },
    #[error("cannot remove the test file {probe}: {source}")]
    Remove { probe: String, source: std::io::Error },
}

/// A file with no schema version of ours is new only when it has no tables at all.
fn refuse_foreign(conn: &Connection, path: &str) -> Result<(), StoreError> {
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name LIMIT 6")?;
    let tables: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    if tables.is_empty() {
        return Ok(());
    }
    Err(StoreError::Foreign { path: path.to_string(), tables: tables.join(", ") })
}

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn from_ts(s: Option<i64>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::from_timestamp(s, 0))
}

impl Store {
    /// Opens (creating if needed) the state file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open { path: path.display().to_string(), source };
        check_headroom(path)
            .map_err(|why| StoreError::NotWritable { path: path.display().to_string(), why: why.to_string() })?;
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(open_err)?;
        // Before anything writes. SQLite quietly opens a write-protected file read-only (and
        // an empty transaction writes nothing): without this, the daemon would start and then
        // fail at every write.
        // A write-protected file is refused even where the process could write it anyway
        // (root): someone protected it, and `check` says the same.
        let protected = std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly());
        if protected || conn.is_readonly(rusqlite::MAIN_DB).map_err(open_err)? {
            let why = if protected { "the file is write-protected" } else { "SQLite opened it read-only" };
            return Err(StoreError::ReadOnly { path: path.display().to_string(), why: why.into() });
        }
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(open_err)?;
        if version == 0 {
            refuse_foreign(&conn, &path.display().to_string())?;
        }
        // WAL: readers don't block the writer; NORMAL sync is durable across process crashes.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        // Fail now, not at the first write, when the file or folder is read-only or full.
        conn.execute_batch("BEGIN IMMEDIATE; COMMIT;").map_err(open_err)?;
        Store::migrate(conn, &path.display().to_string())
    }

    /// What `open` would refuse, found without creating or changing anything (for `check`):
    /// a folder without room or write access (`/proc`, a read-only mount), a write-protected
    /// file, another application's database or a newer schema.
    pub fn check_location(path: &Path) -> Result<(), StoreError> {
        let shown = path.display().to_string();
        check_headroom(path).map_err(|why| StoreError::NotWritable { path: shown.clone(), why: why.to_string() })?;
        let Ok(meta) = std::fs::metadata(path) else { return Ok(()) };
        if meta.permissions().readonly() {
            return Err(StoreError::ReadOnly { path: shown, why: "the file is write-protected".into() });
        }
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|source| StoreError::Open { path: shown.clone(), source })?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|source| StoreError::Open { path: shown.clone(), source })?;
        if version == 0 {
            refuse_foreign(&conn, &shown)?;
        }
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew { path: shown, found: version, known });
        }
        Ok(())
    }

    /// `open`, holding the state file's lock for as long as the store (and its clones) live:
    /// for the processes that write, so two never work on one file.
    pub fn open_exclusive(path: &Path, purpose: Purpose) -> Result<Store, StoreError> {
        let lock = StateLock::acquire(path, purpose)?;
        let mut store = Store::open(path)?;
        store._lock = Some(Arc::new(lock));
        Ok(store)
    }

    /// A private in-memory store, for unit tests.
    #[cfg(test)]
    pub(crate) fn in_memory() -> Result<Store, StoreError> {
        Store::migrate(Connection::open_in_memory()?, ":memory:")
    }

    fn migrate(mut conn: Connection, path: &str) -> Result<Store, StoreError> {
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew { path: path.to_string(), found: version, known });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(Store { conn: Arc::new(Mutex::new(conn)), _lock: None })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back on drop), so a poisoned lock is safe to keep using.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn source_state(&self, source: &str) -> Result<Option<SourceState>, StoreError> {
        let row = self
            .conn()
            .query_row("SELECT cursor, etag, last_modified FROM source_state WHERE source = ?1", params![source], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        row.map(|(cursor, etag, last_modified)| {
            let cursor = serde_json::from_str(&cursor)
                .map_err(|e| StoreError::Corrupt(format!("cursor of source {source:?}: {e}")))?;
            Ok(SourceState { cursor, etag, last_modified })
        })
        .transpose()
    }

    /// Which of `ids` were not handed on before (in the order given).
    pub(crate) fn unseen(&self, source: &str, ids: &[&str]) -> Result<Vec<bool>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT 1 FROM seen WHERE source = ?1 AND id = ?2")?;
        ids.iter().map(|id| Ok(!stmt.exists(params![source, id])?)).collect()
    }

    /// After a page's new mentions were handed on: remembers their ids and the cursor after
    /// the page, in one transaction, so a crash leaves either both or neither.
    pub fn commit_page(
        &self,
        source: &str,
        handed_on: &[&str],
        state: &SourceState,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut seen = tx.prepare_cached("INSERT OR IGNORE INTO seen (source, id, seen_at) VALUES (?1, ?2, ?3)")?;
            for id in handed_on {
                seen.execute(params![source, id, ts(now)])?;
            }
            tx.execute(
                "INSERT INTO source_state (source, cursor, etag, last_modified, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, etag = excluded.etag,
                     last_modified = excluded.last_modified, updated_at = excluded.updated_at",
                params![source, state.cursor.to_string(), state.etag, state.last_modified, ts(now)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets ids seen before `before`; returns how many. The dedup window is bounded by
    /// `[storage] seen_ttl` (default 7 days): an item re-served after that counts again.
    pub fn prune_seen(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.conn().execute("DELETE FROM seen WHERE seen_at < ?1", params![ts(before)])?)
    }

    pub fn seen_count(&self, source: &str) -> Result<u64, StoreError> {
        let n: i64 =
            self.conn().query_row("SELECT COUNT(*) FROM seen WHERE source = ?1", params![source], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    pub fn record_health(&self, source: &str, h: &SourceHealth) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO source_health (source, last_attempt, last_success, consecutive_failures, last_status, last_error, last_items)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (source) DO UPDATE SET last_attempt = excluded.last_attempt,
                 last_success = excluded.last_success, consecutive_failures = excluded.consecutive_failures,
                 last_status = excluded.last_status, last_error = excluded.last_error, last_items = excluded.last_items",
            params![
                source,
                h.last_attempt.map(ts),
                h.last_success.map(ts),
                h.consecutive_failures,
                h.last_status,
                h.last_error,
                h.last_items
            ],
        )?;
        Ok(())
    }

    /// Saves detector states in one transaction, with how far into the mention journal they
    /// have counted (`counted_through`, a `mention_log` seq): after a crash, either all of a
    /// save is there or the previous one is, and the journal after it is counted again.
    pub(crate) fn save_detector_states(
        &self,
        states: &[(String, Vec<u8>)],
        counted_through: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO detector_state (key, state, saved_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET state = excluded.state, saved_at = excluded.saved_at",
            )?;
            for (key, state) in states {
                put.execute(params![key, state, ts(now)])?;
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![COUNTED_THROUGH, counted_through.to_string().into_bytes()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The journal seq the saved window states counted through (0 before any save).
    pub(crate) fn counted_through(&self) -> Result<i64, StoreError> {
        let value: Option<Vec<u8>> = self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", params![COUNTED_THROUGH], |r| r.get(0))
            .optional()?;
        match value {
            None => Ok(0),
            Some(v) => String::from_utf8_lossy(&v)
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("meta {COUNTED_THROUGH} is not a number"))),
        }
    }

    /// A detector's saved state and when it was saved.
    pub fn detector_state(&self, key: &str) -> Result<Option<SavedState>, StoreError> {
        let row: Option<(Vec<u8>, i64)> = self
            .conn()
            .query_row("SELECT state, saved_at FROM detector_state WHERE key = ?1", params![key], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        row.map(|(state, at)| {
            from_ts(Some(at))
                .map(|saved_at| SavedState { bytes: state, saved_at })
                .ok_or_else(|| StoreError::Corrupt(format!("saved_at {at} of {key}")))
        })
        .transpose()
    }

    /// The keys of every saved detector state.
    pub(crate) fn detector_state_keys(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT key FROM detector_state ORDER BY key")?;
        let keys = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(keys)
    }

    /// Forgets the state of a detector that no longer exists (a watch removed from the config).
    pub(crate) fn forget_detector_state(&self, key: &str) -> Result<(), StoreError> {
        self.conn().execute("DELETE FROM detector_state WHERE key = ?1", params![key])?;
        Ok(())
    }

    pub fn health(&self, source: &str) -> Result<Option<SourceHealth>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT last_attempt, last_success, consecutive_failures, last_status, last_error, last_items
                 FROM source_health WHERE source = ?1",
                params![source],
                |r| {
                    Ok(SourceHealth {
                        last_attempt: from_ts(r.get(0)?),
                        last_success: from_ts(r.get(1)?),
                        consecutive_failures: r.get(2)?,
                        last_status: r.get(3)?,
                        last_error: r.get(4)?,
                        last_items: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_page_commit_remembers_ids_and_cursor_together() {
        let store = Store::in_memory().unwrap();
        assert_eq!(store.source_state("news").unwrap(), None);
        assert_eq!(store.unseen("news", &["a", "b"]).unwrap(), [true, true]);
        let state = SourceState {
            cursor: serde_json::json!({"min_id": "42"}),
            etag: Some("\"x\"".into()),
            last_modified: None,
        };
        store.commit_page("news", &["a"], &state, t(0)).unwrap();
        assert_eq!(store.unseen("news", &["a", "b"]).unwrap(), [false, true]);
        assert_eq!(store.unseen("other", &["a"]).unwrap(), [true], "ids are per source");
        assert_eq!(store.source_state("news").unwrap(), Some(state));
    }

    #[test]
    fn seen_ids_expire_after_the_ttl() {
        let store = Store::in_memory().unwrap();
        let s = SourceState::default();
        store.commit_page("news", &["old"], &s, t(0)).unwrap();
        store.commit_page("news", &["new"], &s, t(100)).unwrap();
        assert_eq!(store.prune_seen(t(50)).unwrap(), 1);
        assert_eq!(store.unseen("news", &["old", "new"]).unwrap(), [true, false]);
    }

    #[test]
    fn health_round_trips() {
        let store = Store::in_memory().unwrap();
        let h = SourceHealth {
            last_attempt: Some(t(10)),
            last_success: Some(t(5)),
            consecutive_failures: 2,
            last_status: Some(503),
            last_error: Some("HTTP 503".into()),
            last_items: 0,
        };
        store.record_health("news", &h).unwrap();
        assert_eq!(store.health("news").unwrap(), Some(h));
    }

    #[test]
    fn state_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let store = Store::open(&path).unwrap();
            store.commit_page("news", &["a"], &SourceState::default(), t(0)).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.unseen("news", &["a"]).unwrap(), [false]);
    }

    #[test]
    fn detector_states_survive_reopening_and_replace_older_saves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let store = Store::open(&path).unwrap();
            store
                .save_detector_states(
                    &[("watch:a".into(), b"one".to_vec()), ("watch:b".into(), b"b".to_vec())],
                    3,
                    t(0),
                )
                .unwrap();
            store.save_detector_states(&[("watch:a".into(), b"two".to_vec())], 7, t(60)).unwrap();
        }
        assert_eq!(Store::open(&path).unwrap().counted_through().unwrap(), 7, "with how far they counted");
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.detector_state("watch:a").unwrap(),
            Some(SavedState { bytes: b"two".to_vec(), saved_at: t(60) })
        );
        store.forget_detector_state("watch:b").unwrap();
        assert_eq!(store.detector_state("watch:b").unwrap(), None);
    }

    #[test]
    fn an_unwritable_location_is_refused_at_open_with_advice() {
        let err = Store::open(Path::new("/nonexistent-dir/stormwatch.db")).unwrap_err().to_string();
        assert!(err.contains("/nonexistent-dir/stormwatch.db") && err.contains("writable"), "{err}");
    }

    #[test]
    fn a_file_from_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let err = Store::open(&path).unwrap_err().to_string();
        assert!(err.contains("newer stormwatch"), "{err}");
    }
}
