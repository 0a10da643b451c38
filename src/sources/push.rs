//! The `push` kind: mentions that arrive instead of being fetched, as a JSON array in the body
//! of `POST /api/v1/ingest?source=<name>` (for tools that already collect posts, or a firehose
//! consumer in front of stormwatch). Each item has the `file` kind's shape:
//! `{"id", "text", "author", "followers", "lang", "created", "url"}`, only `text` required.
//! Text is plain text, kept as written (`text::plain_text`): `<` and `&` in it are characters
//! the sender's users typed, not markup.
//!
//! A body is taken whole or not at all: if any item is unusable, none is, and the answer lists
//! every bad item with its index and why, so the sender fixes and resends one batch. Items are
//! deduplicated by id with the same seen-id store as polled sources, so resending a batch
//! (after a timeout, say) counts nothing twice. Within a batch, an item that repeats an earlier
//! one exactly is a duplicate too (skipped and counted), whether it has an id or gets one from
//! its content; two different items under one id are refused, as the sender's mistake.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::file::mention_from_object;
use super::registry::Settings;
use super::{Http, Kind, Page, PageRequest, SourceError};
use crate::model::Mention;
use crate::secret::Environment;
use crate::settings::Table;

/// `kind = "push"`: no settings of its own; mentions arrive through the ingest route.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec;

impl Settings for Spec {
    const KEYS: &'static [&'static str] = &[];

    fn read(_t: &mut Table<'_>) -> Option<Spec> {
        Some(Spec)
    }

    fn build(&self, _env: &Environment) -> Result<Box<dyn Kind>, SourceError> {
        Ok(Box::new(Push))
    }

    fn host(&self) -> String {
        "push".to_string()
    }
}

/// Items one request may carry.
pub const MAX_ITEMS: usize = 10_000;

/// Why one item of a pushed batch cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadItem {
    /// Its position in the array, from 0 (`None`: the body as a whole).
    pub index: Option<usize>,
    pub error: String,
}

/// The usable items of a pushed body.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// One per distinct item, in the order sent.
    pub mentions: Vec<Mention>,
    /// Items that repeated an earlier item of the same batch exactly, left out.
    pub repeated: usize,
}

/// The mentions of a pushed body, or every reason it cannot be taken.
pub fn parse_batch(body: &[u8], source: &str, now: DateTime<Utc>) -> Result<Batch, Vec<BadItem>> {
    let whole = |error: String| vec![BadItem { index: None, error }];
    let text = std::str::from_utf8(body).map_err(|e| whole(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    let value: Value = serde_json::from_str(text).map_err(|e| whole(format!("not JSON: {e}")))?;
    let Value::Array(items) = value else {
        return Err(whole("expected a JSON array of mention objects".into()));
    };
    if items.len() > MAX_ITEMS {
        return Err(whole(format!("{} items: at most {MAX_ITEMS} per request", items.len())));
    }
    let mut batch = Batch { mentions: Vec::with_capacity(items.len()), repeated: 0 };
    // The item each kept mention came from, to tell a repeat from a clash of ids.
    let mut kept: Vec<&Value> = Vec::with_capacity(items.len());
    let mut bad = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let problem = match mention_from_item(item, source, now) {
            Ok(m) => match batch.mentions.iter().position(|x| x.id == m.id) {
                Some(earlier) if kept[earlier] == item => {
                    batch.repeated += 1;
                    None
                }
                Some(_) => Some(format!("duplicate id {:?} in the same batch, on a different item", m.id)),
                None => {
                    batch.mentions.push(m);
                    kept.push(item);
                    None
                }
            },
            Err(why) => Some(why),
        };
        if let Some(error) = problem {
            bad.push(BadItem { index: Some(index), error });
        }
    }
    if bad.is_empty() {
        Ok(batch)
    } else {
        Err(bad)
    }
}

/// One item of the array as a mention, with the `file` kind's fields.
fn mention_from_item(item: &Value, source: &str, now: DateTime<Utc>) -> Result<Mention, String> {
    let Value::Object(obj) = item else {
        return Err("not a JSON object".into());
    };
    // Said apart from "not a string or number": an empty id is most often a sender's bug.
    if obj.get("id").and_then(Value::as_str).is_some_and(|id| id.trim().is_empty()) {
        return Err("\"id\" is empty: send the post's id, or leave \"id\" out to have one made from the item".into());
    }
    // The id of an item without one: a hash of the item, stable when resent.
    // Compact JSON, as `Display` writes a value (which cannot fail).
    let raw = item.to_string().into_bytes();
    mention_from_object(obj, &raw, source, now).map(|(m, _)| m)
}

/// A push source has nothing to fetch; `sources test` says where its mentions come from.
pub(crate) struct Push;

#[async_trait::async_trait]
impl Kind for Push {
    async fn page(&self, _http: &Http, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        Err(SourceError::Config(format!(
            "push sources are not polled: send mentions to POST /api/v1/ingest?source={} (docs/operations.md)",
            req.source
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000, 0).unwrap()
    }

    #[test]
    fn a_batch_of_mentions_is_read_with_the_file_kinds_fields() {
        let body = br#"[{"id": "a1", "text": "Kroon Bank is <b>down</b> from <5 to >10", "followers": "1200", "lang": "nl-NL",
                        "created": "2025-11-24T15:00:00Z", "url": "https://example.org/a1"},
                       {"text": "no id here"}]"#;
        let m = parse_batch(body, "push", now()).unwrap().mentions;
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].id.as_str(), m[0].text.as_str(), m[0].reach), ("a1", "Kroon Bank is <b>down</b> from <5 to >10", Some(1200)), "as written");
        assert_eq!(m[0].lang.as_deref(), Some("nl"));
        assert_eq!(m[0].source, "push");
        assert!(m[1].id.starts_with("fnv1a-"), "{}", m[1].id);
        let again = parse_batch(br#"[{"text": "no id here"}]"#, "push", now()).unwrap().mentions;
        assert_eq!(again[0].id, m[1].id, "a resent item keeps its id");
    }

    #[test]
    fn one_bad_item_refuses_the_batch_with_every_reason() {
        let body = br#"[{"text": "fine"}, {"id": 2}, 7, {"id": "x", "text": "a"}, {"id": "x", "text": "b"}]"#;
        let bad = parse_batch(body, "push", now()).unwrap_err();
        let got: Vec<(Option<usize>, &str)> = bad.iter().map(|b| (b.index, b.error.as_str())).collect();
        assert_eq!(
            got,
            [
                (Some(1), "no \"text\""),
                (Some(2), "not a JSON object"),
                (Some(4), "duplicate id \"x\" in the same batch, on a different item")
            ]
        );
    }

    #[test]
    fn an_item_repeated_in_a_batch_is_counted_once_and_an_empty_id_is_named() {
        let body = br#"[{"text": "same"}, {"id": "7", "text": "a"}, {"text": "same"}, {"id": "7", "text": "a"},
                        {"text": "other"}]"#;
        let batch = parse_batch(body, "push", now()).unwrap();
        let texts: Vec<&str> = batch.mentions.iter().map(|m| m.text.as_str()).collect();
        assert_eq!((texts, batch.repeated), (vec!["same", "a", "other"], 2));
        let bad = parse_batch(br#"[{"id": "", "text": "a"}, {"id": " ", "text": "b"}]"#, "push", now()).unwrap_err();
        assert_eq!(bad.len(), 2);
        assert!(bad.iter().all(|b| b.error.starts_with("\"id\" is empty")), "{bad:?}");
    }

    #[test]
    fn bodies_that_are_not_an_array_of_objects_are_refused_whole() {
        for (body, want) in [
            (&b"{\"text\": \"x\"}"[..], "expected a JSON array"),
            (b"[{\"text\": \"x\"", "not JSON"),
            (b"[\"\xff\"]", "invalid UTF-8"),
        ] {
            let bad = parse_batch(body, "push", now()).unwrap_err();
            assert_eq!(bad.len(), 1);
            assert!(bad[0].index.is_none() && bad[0].error.contains(want), "{bad:?}");
        }
    }
}
