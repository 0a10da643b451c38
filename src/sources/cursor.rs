//! A kind's position, stored by the poller as JSON between pages and polls (and written only
//! after the page's mentions were handed on). One copy of reading and writing it for every kind.
//!
//! A stored cursor that cannot be read (another version wrote it, or it was edited by hand)
//! is never dropped silently: the kind starts over as on a first poll, with its backfill (the
//! seen-id store drops what was handed on before), and the page carries a note that the poller
//! logs and counts like a skipped item.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::{PageRequest, Skipped, SourceError};

/// The stored cursor: `None` before the first poll, or when it could not be read (then with
/// the note to put on the page).
pub(crate) fn read<T: DeserializeOwned>(req: &PageRequest<'_>) -> (Option<T>, Option<Skipped>) {
    parse(req.cursor)
}

/// `read`, on the stored value itself.
pub(crate) fn parse<T: DeserializeOwned>(stored: &Value) -> (Option<T>, Option<Skipped>) {
    if stored.is_null() {
        return (None, None);
    }
    match serde_json::from_value(stored.clone()) {
        Ok(c) => (Some(c), None),
        Err(e) => {
            let why = format!("the stored cursor could not be read ({e}); starting over with a backfill");
            (None, Some(Skipped { item: "cursor".into(), why }))
        }
    }
}

/// The cursor to store. Never `null`: that would mean "not polled yet".
pub(crate) fn write<T: Serialize>(cursor: &T) -> Result<Value, SourceError> {
    match serde_json::to_value(cursor) {
        Ok(Value::Null) => Ok(Value::Object(serde_json::Map::new())),
        Ok(v) => Ok(v),
        Err(e) => Err(SourceError::Io(format!("cannot store the cursor: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::Validators;
    use chrono::Utc;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Mark {
        at: i64,
    }

    fn req(cursor: &Value) -> PageRequest<'_> {
        static VALIDATORS: std::sync::OnceLock<Validators> = std::sync::OnceLock::new();
        let now = Utc::now();
        PageRequest {
            source: "s",
            cursor,
            validators: VALIDATORS.get_or_init(Validators::default),
            backfill_since: now,
            now,
        }
    }

    #[test]
    fn a_cursor_round_trips_and_an_unreadable_one_is_reported_not_dropped() {
        let stored = write(&Mark { at: 7 }).unwrap();
        assert_eq!(read::<Mark>(&req(&stored)), (Some(Mark { at: 7 }), None));
        assert_eq!(read::<Mark>(&req(&Value::Null)), (None, None));
        let (cursor, note) = read::<Mark>(&req(&serde_json::json!({"at": "yesterday"})));
        assert_eq!(cursor, None);
        let note = note.unwrap();
        assert!(note.item == "cursor" && note.why.contains("could not be read"), "{note:?}");
        assert_eq!(write(&()).unwrap(), serde_json::json!({}), "never null");
    }
}
