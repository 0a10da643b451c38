//! A position in a newest-first listing that is read by time: a time and the ids at that time
//! already counted. Listings put several items at the same time stamp (Reddit's `created_utc`
//! and Algolia's `created_at_i` in whole seconds; Bluesky's `indexedAt` in milliseconds);
//! comparing times alone would drop or double them, so the mark remembers which ids at its
//! time were counted. `T` is the time: seconds as `i64`, or a `DateTime`.

use serde::{Deserialize, Serialize};

/// Ids remembered at the mark's time, at most: bounds the stored cursor when a burst of
/// items shares one time stamp. Past it an item at that time may be handed on again; the
/// seen-id store then drops it.
const MAX_IDS: usize = 256;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Mark<T> {
    pub at: T,
    /// The ids at time `at` that are on the near side of the mark (Bluesky's cursors wrote
    /// them as `uris`).
    #[serde(default, skip_serializing_if = "Vec::is_empty", alias = "uris")]
    pub ids: Vec<String>,
}

impl<T: Ord + Copy> Mark<T> {
    pub(crate) fn new(at: T) -> Mark<T> {
        Mark { at, ids: Vec::new() }
    }

    /// A mark at `at` that already counts `id`.
    pub(crate) fn of(at: T, id: &str) -> Mark<T> {
        Mark { at, ids: vec![id.to_string()] }
    }

    /// Whether an item at `at` with `id` is on the newer side: newer, or at the same time
    /// and not one of the ids counted.
    pub(crate) fn is_newer(&self, at: T, id: &str) -> bool {
        at > self.at || (at == self.at && !self.ids.iter().any(|i| i == id))
    }

    /// Whether the item was counted by this mark seen as an older bound: newer, or at the
    /// same time and one of its ids.
    pub(crate) fn covers_from_above(&self, at: T, id: &str) -> bool {
        at > self.at || (at == self.at && self.ids.iter().any(|i| i == id))
    }

    /// Moves the mark up to include an item.
    pub(crate) fn raise(&mut self, at: T, id: &str) {
        if at > self.at {
            *self = Mark::of(at, id);
        } else if at == self.at {
            self.note(id);
        }
    }

    /// Moves the mark down to include an item.
    pub(crate) fn lower(&mut self, at: T, id: &str) {
        if at < self.at {
            *self = Mark::of(at, id);
        } else if at == self.at {
            self.note(id);
        }
    }

    /// Raises an optional mark (none yet: the item's time becomes the mark).
    pub(crate) fn raise_opt(mark: &mut Option<Mark<T>>, at: T, id: &str) {
        match mark {
            Some(m) => m.raise(at, id),
            None => *mark = Some(Mark::of(at, id)),
        }
    }

    fn note(&mut self, id: &str) {
        if self.ids.len() < MAX_IDS && !self.ids.iter().any(|i| i == id) {
            self.ids.push(id.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_sharing_the_marks_time_are_told_apart_by_id() {
        let mut m = Mark::new(100);
        m.raise(100, "a");
        assert!(!m.is_newer(100, "a") && m.is_newer(100, "b") && m.is_newer(101, "a") && !m.is_newer(99, "z"));
        m.raise(105, "c");
        assert_eq!(m, Mark { at: 105, ids: vec!["c".into()] });
        m.lower(90, "d");
        m.lower(90, "e");
        assert_eq!(m, Mark { at: 90, ids: vec!["d".into(), "e".into()] });
        assert!(m.covers_from_above(90, "d") && !m.covers_from_above(90, "x") && m.covers_from_above(91, "x"));
        let mut none: Option<Mark<i64>> = None;
        Mark::raise_opt(&mut none, 7, "x");
        Mark::raise_opt(&mut none, 7, "y");
        assert_eq!(none, Some(Mark { at: 7, ids: vec!["x".into(), "y".into()] }));
    }

    #[test]
    fn a_bluesky_cursor_of_the_older_shape_still_reads() {
        let m: Mark<chrono::DateTime<chrono::Utc>> =
            serde_json::from_str(r#"{"at": "2024-11-11T19:47:02.648Z", "uris": ["at://a"]}"#).unwrap();
        assert_eq!(m.ids, ["at://a"]);
    }
}
