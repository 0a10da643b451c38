//! A position in a newest-first listing that is read by time: a whole second and the ids at
//! that second already counted. Listings with one-second timestamps (Reddit's `created_utc`,
//! Algolia's `created_at_i`) put several items at the same second; comparing times alone
//! would drop or double them, so the mark remembers which ids at its second were counted.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Mark {
    /// Seconds since the epoch.
    pub at: i64,
    /// The ids at second `at` that are on the near side of the mark.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
}

impl Mark {
    pub fn new(at: i64) -> Mark {
        Mark { at, ids: Vec::new() }
    }

    /// Whether an item at `at` with `id` is on the newer side: newer, or at the same second
    /// and not one of the ids counted.
    pub fn is_newer(&self, at: i64, id: &str) -> bool {
        at > self.at || (at == self.at && !self.ids.iter().any(|i| i == id))
    }

    /// Whether the item was counted by this mark seen as an older bound: older, or at the
    /// same second and one of its ids.
    pub fn covers_from_above(&self, at: i64, id: &str) -> bool {
        at > self.at || (at == self.at && self.ids.iter().any(|i| i == id))
    }

    /// Moves the mark up to include an item.
    pub fn raise(&mut self, at: i64, id: &str) {
        if at > self.at {
            *self = Mark { at, ids: vec![id.to_string()] };
        } else if at == self.at && !self.ids.iter().any(|i| i == id) {
            self.ids.push(id.to_string());
        }
    }

    /// Moves the mark down to include an item.
    pub fn lower(&mut self, at: i64, id: &str) {
        if at < self.at {
            *self = Mark { at, ids: vec![id.to_string()] };
        } else if at == self.at && !self.ids.iter().any(|i| i == id) {
            self.ids.push(id.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_sharing_the_marks_second_are_told_apart_by_id() {
        let mut m = Mark::new(100);
        m.raise(100, "a");
        assert!(!m.is_newer(100, "a") && m.is_newer(100, "b") && m.is_newer(101, "a") && !m.is_newer(99, "z"));
        m.raise(105, "c");
        assert_eq!(m, Mark { at: 105, ids: vec!["c".into()] });
        m.lower(90, "d");
        m.lower(90, "e");
        assert_eq!(m, Mark { at: 90, ids: vec!["d".into(), "e".into()] });
        assert!(m.covers_from_above(90, "d") && !m.covers_from_above(90, "x") && m.covers_from_above(91, "x"));
    }
}
