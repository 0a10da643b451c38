//! History for the post-crisis report: every mention a watch counted (with its score and the
//! terms that moved it) and every alert episode, kept after the live state has moved on.
//!
//! The live tables answer "what now": `alert_episode` holds one row per watch and signal kind
//! (a new episode replaces the last), and the detectors' windows forget old buckets. A report
//! on last Tuesday's storm needs what was said then and every episode it raised, so both are
//! written here as they happen and read back by `stormwatch report`.
//!
//! A mention is keyed by (watch, source, id): a page handed on twice after a crash is logged
//! once, so the report counts each mention exactly once. Rows older than `[storage] history`
//! are pruned.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{from_ts, ts, Store, StoreError};
use crate::model::{CrisisCategory, Label, Lang, Mention, Sentiment};

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
    pub fn new(watch: &str, mention: &Mention, sentiment: &Sentiment) -> LoggedMention {
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

/// What a row's JSON columns hold.
#[derive(Serialize, Deserialize)]
struct Details {
    terms: Vec<(String, f32)>,
    categories: Vec<CrisisCategory>,
}

impl Store {
    /// Logs mentions in one transaction; a mention logged before is left as it was.
    pub fn log_mentions(&self, rows: &[LoggedMention]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut put = tx.prepare_cached(
                "INSERT OR IGNORE INTO mention_log
                     (watch, source, id, published, lang, label, compound, reach, author, url, text, details)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for m in rows {
                let details = Details { terms: m.terms.clone(), categories: m.categories.clone() };
                let details = serde_json::to_string(&details).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                put.execute(params![
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
            }
        }
        tx.commit()?;
        Ok(())
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
        let mut stmt = conn.prepare_cached(
            "SELECT source, id, published, lang, label, compound, reach, author, url, text, details
             FROM mention_log WHERE watch = ?1 AND published >= ?2 AND published < ?3 ORDER BY published",
        )?;
        // Stored times are whole seconds: a mention at 12:00:05.8 is stored as 12:00:05 and
        // belongs to a range ending at 12:00:05.9, so the end is rounded up.
        let end = ts(to) + i64::from(to.timestamp_subsec_nanos() > 0);
        let mut rows = stmt.query(params![watch, ts(from), end])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let corrupt = |what: &str| StoreError::Corrupt(format!("mention_log {what} of watch {watch:?}"));
            let published = from_ts(Some(r.get(2)?)).ok_or_else(|| corrupt("published"))?;
            let lang: Option<String> = r.get(3)?;
            let label: String = r.get(4)?;
            let details: String = r.get(10)?;
            let details: Details = serde_json::from_str(&details).map_err(|_| corrupt("details"))?;
            let reach: Option<i64> = r.get(6)?;
            each(LoggedMention {
                watch: watch.to_string(),
                source: r.get(0)?,
                id: r.get(1)?,
                published,
                lang: lang.as_deref().and_then(Lang::from_tag),
                label: label.parse().map_err(|_| corrupt("label"))?,
                compound: r.get(5)?,
                reach: reach.map(|r| r.max(0) as u64),
                author: r.get(7)?,
                url: r.get(8)?,
                text: r.get(9)?,
                terms: details.terms,
                categories: details.categories,
            });
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
    pub fn prune_mention_log(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.conn().execute("DELETE FROM mention_log WHERE published < ?1", params![ts(before)])?)
    }

    /// Every episode of `watch` that started before `to`, oldest first (the caller decides
    /// which overlap its range: only the episode knows when it ended).
    pub fn episode_history(&self, watch: &str, to: DateTime<Utc>) -> Result<Vec<EpisodeRecord>, StoreError> {
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
    use crate::model::TermScore;

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
        store.log_mentions(&[a.clone(), b.clone()]).unwrap();
        store.log_mentions(std::slice::from_ref(&a)).unwrap();
        let mut got = Vec::new();
        let n = store.each_logged_mention("kroon", t(0), t(100), |m| got.push(m)).unwrap();
        assert_eq!(n, 2, "a mention logged twice counts once");
        assert_eq!(got, [b, a]);
        assert_eq!(store.each_logged_mention("kroon", t(15), t(100), |_| {}).unwrap(), 1, "the range applies");
        assert_eq!(store.each_logged_mention("other", t(0), t(100), |_| {}).unwrap(), 0, "and the watch");
        assert_eq!(store.history_watches().unwrap(), ["kroon"]);
        assert_eq!(store.prune_mention_log(t(15)).unwrap(), 1);
    }
}
