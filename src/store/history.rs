//! The mention journal and the episode history.
//!
//! **The journal** (`mention_log`) holds every mention a watch counted, with its score and the
//! terms that moved it, keyed by (watch, source, id) and numbered in order of arrival (`seq`).
//! It is what makes counting exactly-once across crashes: detection writes a page's mentions
//! here *before* it counts them and before the poller remembers the page as done, and counts
//! only the rows that were new. A page fetched again after a crash is not counted twice; a
//! mention written here but not yet in a saved window state is counted again at start, from
//! the seq the last save recorded (`Store::counted_through`). Reports read it too. Rows older
//! than `[storage] history` are pruned.
//!
//! **The episode history** (`alert_history`) keeps every alert episode by id: the live
//! `alert_episode` table holds one row per watch and signal kind (a new episode replaces the
//! last), and a report on last Tuesday's storm needs every episode it raised.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{from_ts, ts, Store, StoreError};
use crate::model::{CrisisCategory, Label, Lang, Mention, Sentiment, TermScore};

/// Characters of a mention's text kept for the report's examples.
const TEXT_CHARS: usize = 500;

/// One mention as one watch counted it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedMention {
    pub watch: String,
    pub source: String,
    pub id: String,
    pub published: DateTime<Utc>,
    pub lang: Option<Lang>,
    pub label: Label,
    pub compound: f32,
    pub reach: Option<u64>,
    pub author: Option<String>,
    pub url: Option<String>,
    /// The text, cut to `TEXT_CHARS` characters.
    pub text: String,
    /// The terms that moved the score, with their contribution.
    pub terms: Vec<(String, f32)>,
    pub categories: Vec<CrisisCategory>,
}

impl LoggedMention {
    pub(crate) fn new(watch: &str, mention: &Mention, sentiment: &Sentiment) -> LoggedMention {
        LoggedMention {
            watch: watch.to_string(),
            source: mention.source.clone(),
            id: mention.id.clone(),
            published: mention.published,
            lang: sentiment.lang,
            label: sentiment.label,
            compound: sentiment.compound,
            reach: mention.reach,
            author: mention.author.clone(),
            url: mention.url.clone(),
            text: mention.text.chars().take(TEXT_CHARS).collect(),
            terms: sentiment.terms.iter().map(|t| (t.term.clone(), t.score)).collect(),
            categories: sentiment.categories.clone(),
        }
    }
}

impl LoggedMention {
    /// The mention and its score back, to count it again after a crash (the text is the
    /// journal's cut, which is all evidence shows anyway).
    pub(crate) fn to_scored(&self) -> (Mention, Sentiment) {
        let mention = Mention {
            source: self.source.clone(),
            id: self.id.clone(),
            text: self.text.clone(),
            author: self.author.clone(),
            reach: self.reach,
            lang: self.lang.map(|l| l.code().to_string()),
            published: self.published,
            url: self.url.clone(),
        };
        let sentiment = Sentiment {
            lang: self.lang,
            label: self.label,
            compound: self.compound,
            terms: self.terms.iter().map(|(term, score)| TermScore { term: term.clone(), score: *score }).collect(),
            categories: self.categories.clone(),
        };
        (mention, sentiment)
    }
}

/// An alert episode as saved, with the keys it is found by.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeRecord {
    pub alert_id: String,
    pub fingerprint: String,
    pub watch: String,
    pub started_at: DateTime<Utc>,
    /// The episode as JSON (`alert::Episode`).
    pub state: String,
}

/// The columns `read_row` reads, in its order.
const ROW: &str = "source, id, published, lang, label, compound, reach, author, url, text, details";

/// A journal row from the columns of `ROW`, starting at column `at`.
fn read_row(r: &rusqlite::Row<'_>, at: usize, watch: &str) -> Result<LoggedMention, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("mention_log {what} of watch {watch:?}"));
    let published = from_ts(Some(r.get(at + 2)?)).ok_or_else(|| corrupt("published"))?;
    let lang: Option<String> = r.get(at + 3)?;
    let label: String = r.get(at + 4)?;
    let details: String = r.get(at + 10)?;
    let details: Details = serde_json::from_str(&details).map_err(|_| corrupt("details"))?;
    let reach: Option<i64> = r.get(at + 6)?;
    Ok(LoggedMention {
        watch: watch.to_string(),
        source: r.get(at)?,
        id: r.get(at + 1)?,
        published,
        lang: lang.as_deref().and_then(Lang::from_tag),
        label: label.parse().map_err(|_| corrupt("label"))?,
        compound: r.get(at + 5)?,
        reach: reach.map(|r| r.max(0) as u64),
        author: r.get(at + 7)?,
        url: r.get(at + 8)?,
        text: r.get(at + 9)?,
        terms: details.terms,
        categories: details.categories,
    })
}

/// What a row's JSON columns hold.
#[derive(Serialize, Deserialize)]
struct Details {
    terms: Vec<(String, f32)>,
    categories: Vec<CrisisCategory>,
}

impl Store {
    /// Journals mentions in one transaction. Returns, per row, its seq when it is new and
    /// `None` when the journal had it already (counted before: do not count it again).
    pub(crate) fn log_mentions(&self, rows: &[LoggedMention]) -> Result<Vec<Option<i64>>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut out = Vec::with_capacity(rows.len());
        {
            let mut put = tx.prepare_cached(
                "INSERT OR IGNORE INTO mention_log
                     (watch, source, id, published, lang, label, compound, reach, author, url, text, details)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for m in rows {
                let details = Details { terms: m.terms.clone(), categories: m.categories.clone() };
                let details = serde_json::to_string(&details).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let changed = put.execute(params![
                    m.watch,
                    m.source,
                    m.id,
                    ts(m.published),
                    m.lang.map(Lang::code),
                    m.label.as_str(),
                    m.compound,
                    m.reach.map(|r| r.min(i64::MAX as u64) as i64),
                    m.author,
                    m.url,
                    m.text,
                    details
                ])?;
                out.push((changed > 0).then(|| tx.last_insert_rowid()));
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// The journal's last seq (0 when empty).
    pub(crate) fn journal_end(&self) -> Result<i64, StoreError> {
        Ok(self.conn().query_row("SELECT COALESCE(max(seq), 0) FROM mention_log", [], |r| r.get(0))?)
    }

    /// The journal rows of `watch` after `seq`, in order of arrival: what a window saved at
    /// `seq` has not counted yet.
    pub(crate) fn journal_after(&self, watch: &str, seq: i64) -> Result<Vec<(i64, LoggedMention)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT seq, {ROW} FROM mention_log WHERE watch = ?1 AND seq > ?2 ORDER BY seq"
        ))?;
        let mut rows = stmt.query(params![watch, seq])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push((r.get(0)?, read_row(r, 1, watch)?));
        }
        Ok(out)
    }

    /// Calls `each` for every mention of `watch` published in `[from, to)`, oldest first,
    /// without holding them all in memory.
    pub fn each_logged_mention(
        &self,
        watch: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut each: impl FnMut(LoggedMention),
    ) -> Result<u64, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {ROW} FROM mention_log WHERE watch = ?1 AND published >= ?2 AND published < ?3 ORDER BY published"
        ))?;
        // Stored times are whole seconds: a mention at 12:00:05.8 is stored as 12:00:05 and
        // belongs to a range ending at 12:00:05.9, so the end is rounded up.
        let end = ts(to) + i64::from(to.timestamp_subsec_nanos() > 0);
        let mut rows = stmt.query(params![watch, ts(from), end])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            each(read_row(r, 0, watch)?);
            n += 1;
        }
        Ok(n)
    }

    /// The watches the history knows (by their mentions or their episodes).
    pub fn history_watches(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT watch FROM (SELECT DISTINCT watch FROM mention_log UNION SELECT DISTINCT watch FROM alert_history)
             ORDER BY watch",
        )?;
        let out = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(out)
    }

    /// Forgets logged mentions published before `before`; returns how many.
    pub(crate) fn prune_mention_log(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.conn().execute("DELETE FROM mention_log WHERE published < ?1", params![ts(before)])?)
    }

    /// Every episode of `watch` that started before `to`, oldest first (the caller decides
    /// which overlap its range: only the episode knows when it ended).
    pub(crate) fn episode_history(&self, watch: &str, to: DateTime<Utc>) -> Result<Vec<EpisodeRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT alert_id, fingerprint, started_at, state FROM alert_history
             WHERE watch = ?1 AND started_at < ?2 ORDER BY started_at, alert_id",
        )?;
        let rows = stmt.query_map(params![watch, ts(to)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (alert_id, fingerprint, started, state) = row?;
            let started_at =
                from_ts(Some(started)).ok_or_else(|| StoreError::Corrupt(format!("started_at of alert {alert_id}")))?;
            out.push(EpisodeRecord { alert_id, fingerprint, watch: watch.to_string(), started_at, state });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    fn mention(id: &str, at: i64) -> Mention {
        Mention {
            source: "news".into(),
            id: id.into(),
            text: "storing bij Kroon Bank".into(),
            author: Some("@a".into()),
            reach: Some(1200),
            lang: Some("nl".into()),
            published: t(at),
            url: Some("https://example.org/1".into()),
        }
    }

    fn sentiment() -> Sentiment {
        Sentiment {
            lang: Some(Lang::Nl),
            label: Label::Neg,
            compound: -0.5,
            terms: vec![TermScore { term: "storing".into(), score: -1.25 }],
            categories: vec![CrisisCategory::Outage],
        }
    }

    #[test]
    fn logged_mentions_read_back_in_time_order_once_each() {
        let store = Store::in_memory().unwrap();
        let a = LoggedMention::new("kroon", &mention("a", 20), &sentiment());
        let b = LoggedMention::new("kroon", &mention("b", 10), &sentiment());
        assert_eq!(store.log_mentions(&[a.clone(), b.clone()]).unwrap(), [Some(1), Some(2)]);
        assert_eq!(store.log_mentions(std::slice::from_ref(&a)).unwrap(), [None], "known: not to count again");
        assert_eq!(store.journal_end().unwrap(), 2);
        let after: Vec<(i64, String)> =
            store.journal_after("kroon", 1).unwrap().into_iter().map(|(s, m)| (s, m.id)).collect();
        assert_eq!(after, [(2, "b".to_string())], "in order of arrival");
        let mut got = Vec::new();
        let n = store.each_logged_mention("kroon", t(0), t(100), |m| got.push(m)).unwrap();
        assert_eq!(n, 2, "a mention logged twice counts once");
        assert_eq!(got, [b.clone(), a]);
        let (m, sentiment) = b.to_scored();
        assert_eq!((m, sentiment), (mention("b", 10), self::sentiment()), "a row gives back what was counted");
        assert_eq!(store.each_logged_mention("kroon", t(15), t(100), |_| {}).unwrap(), 1, "the range applies");
        assert_eq!(store.each_logged_mention("other", t(0), t(100), |_| {}).unwrap(), 0, "and the watch");
        assert_eq!(store.history_watches().unwrap(), ["kroon"]);
        assert_eq!(store.prune_mention_log(t(15)).unwrap(), 1);
    }
}
