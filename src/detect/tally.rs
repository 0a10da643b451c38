//! Evidence counted over every mention of a window, in bounded memory.
//!
//! A signal's evidence names the words, crisis categories, languages and sources of the
//! window it judged. Counting them over a sample of mentions misleads ("84 mentions" then
//! "Sources: mastodon 3"), so every mention is tallied into a small ring of per-bucket
//! tallies covering the longest window evidence is asked for (the short or negativity
//! window, whichever is longer, at most `MAX_SLOTS` buckets), and a window's evidence is the
//! sum of its buckets' tallies:
//!
//! * over **all** mentions: languages (the scored language, else the declared one, else
//!   `?`) and sources;
//! * over the **negative** mentions: the terms that pulled their score down (each term once
//!   per mention) and the crisis categories.
//!
//! **Caps keep totals honest.** A bucket keeps at most `TERMS` distinct terms, `LANGUAGES`
//! languages and `SOURCES` sources. Another one arriving at a full bucket takes the place of
//! one seen only once so far in that bucket (a frequent key soon counts more than once and
//! stays), and what it replaces, or what finds no place, is counted as *other*: a kept key's
//! count is exact for the bucket unless it was itself pushed out earlier, and every
//! occurrence is either under a key or in *other*. Languages and sources are shown with an
//! `other` entry for what the top five and the caps leave out, so their counts add up to
//! the window's mentions.
//!
//! **Keys are interned.** Each text is stored once per watch (`Names`) and buckets hold
//! `(u16 id, u32 count)` pairs. A name is hashed once per mention and looked up; a text is
//! allocated only the first time it is seen while the ring holds it. Names no bucket in the
//! ring uses any more are dropped once per turn of the ring.
//!
//! **Memory bound** per watch, at the defaults (1-minute buckets, 15-minute negativity
//! window: 16 slots): the slots' fixed part 16 × 144 bytes = 2.3 kB; their entries at most
//! 16 × (16 + 6 + 8) × 8 bytes = 3.8 kB; at most 16 × 30 = 480 names of ~50 bytes (text,
//! last use, index) = 24 kB, in practice the few dozen a watch's recent minutes use. A
//! window longer than `MAX_SLOTS` buckets is tallied over its last `MAX_SLOTS - 1`.

use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};
use serde::{Deserialize, Serialize};

use crate::model::{CrisisCategory, Label, Mention, Sentiment};

/// Distinct terms, languages and sources one bucket keeps.
const TERMS: usize = 16;
const LANGUAGES: usize = 6;
const SOURCES: usize = 8;
/// Negative terms counted per mention (a long rant does not outweigh many people).
const TERMS_PER_MENTION: usize = 8;
/// The most buckets tallied: an hour of 1-minute buckets, and the bucket being filled.
pub(crate) const MAX_SLOTS: usize = 61;
/// Evidence lists at most this many entries each (and `other`).
const TOP: usize = 5;

/// The label of what the caps and the top five leave out.
pub(crate) const OTHER: &str = "other";

/// Counts of interned keys in one bucket, at most `cap` of them, and the rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Capped {
    counts: Vec<(u16, u32)>,
    other: u32,
    /// Where the search for a key seen once starts: the entries are visited in turn, so
    /// the newest one-off is the last to give way, not the first.
    #[serde(default)]
    hand: u8,
}

impl Capped {
    fn bump(&mut self, id: Option<u16>, cap: usize) {
        let Some(id) = id else {
            self.other += 1;
            return;
        };
        if let Some((_, n)) = self.counts.iter_mut().find(|(k, _)| *k == id) {
            *n += 1;
            return;
        }
        if self.counts.len() < cap {
            self.counts.push((id, 1));
            return;
        }
        // A key seen once so far gives way; its one occurrence stays counted, as other.
        self.other += 1;
        let len = self.counts.len();
        for step in 0..len {
            let i = (self.hand as usize + step) % len;
            if self.counts[i].1 == 1 {
                self.counts[i] = (id, 1);
                self.hand = ((i + 1) % len) as u8;
                return;
            }
        }
    }

    /// The id of `text` if this bucket counts it already.
    fn find(&self, names: &Names, text: &str) -> Option<u16> {
        self.counts.iter().map(|(k, _)| *k).find(|k| names.text(*k) == text)
    }

    fn clear(&mut self) {
        self.counts.clear();
        self.other = 0;
        self.hand = 0;
    }
}

/// One bucket's tallies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Slot {
    /// The bucket it holds; `i64::MIN` for none yet.
    bucket: i64,
    mentions: u32,
    negative: u32,
    categories: [u32; CrisisCategory::ALL.len()],
    terms: Capped,
    languages: Capped,
    sources: Capped,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            bucket: i64::MIN,
            mentions: 0,
            negative: 0,
            categories: [0; CrisisCategory::ALL.len()],
            terms: Capped::default(),
            languages: Capped::default(),
            sources: Capped::default(),
        }
    }
}

impl Slot {
    /// Starts holding bucket `b`, keeping the lists' capacity (no allocation per bucket).
    fn reset(&mut self, b: i64) {
        self.bucket = b;
        self.mentions = 0;
        self.negative = 0;
        self.categories = [0; CrisisCategory::ALL.len()];
        self.terms.clear();
        self.languages.clear();
        self.sources.clear();
    }

    fn ids_mut(&mut self) -> impl Iterator<Item = &mut u16> {
        self.terms.counts.iter_mut().chain(&mut self.languages.counts).chain(&mut self.sources.counts).map(|(k, _)| k)
    }
}

/// Texts interned for the slots, each with the newest bucket that used it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Names {
    texts: Vec<Box<str>>,
    last: Vec<i64>,
    /// Hash of a text to its id; rebuilt after a restore.
    #[serde(skip)]
    index: FxHashMap<u64, u16>,
}

impl PartialEq for Names {
    fn eq(&self, other: &Self) -> bool {
        // The index is derived from the texts.
        self.texts == other.texts && self.last == other.last
    }
}

fn hash(text: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(text.as_bytes());
    h.finish()
}

impl Names {
    /// The id of `text`, interning it if there is room (`cap` names). `None` when there is
    /// none, or when another text has the same 64-bit hash: then it counts as other.
    fn id(&mut self, text: &str, bucket: i64, cap: usize) -> Option<u16> {
        if self.index.len() != self.texts.len() {
            self.index = self.texts.iter().enumerate().map(|(i, t)| (hash(t), i as u16)).collect();
        }
        let h = hash(text);
        if let Some(&id) = self.index.get(&h) {
            let i = id as usize;
            if &*self.texts[i] != text {
                return None;
            }
            self.last[i] = self.last[i].max(bucket);
            return Some(id);
        }
        if self.texts.len() >= cap.min(u16::MAX as usize) {
            return None;
        }
        let id = self.texts.len() as u16;
        self.texts.push(text.into());
        self.last.push(bucket);
        self.index.insert(h, id);
        Some(id)
    }

    fn text(&self, id: u16) -> &str {
        self.texts.get(id as usize).map_or(OTHER, |t| t)
    }

    /// Drops the names last used before bucket `oldest`; returns each old id's new one.
    fn compact(&mut self, oldest: i64) -> Vec<Option<u16>> {
        let mut remap = vec![None; self.texts.len()];
        let mut kept = 0;
        for (i, new) in remap.iter_mut().enumerate() {
            if self.last[i] >= oldest {
                self.texts.swap(kept, i);
                self.last.swap(kept, i);
                *new = Some(kept as u16);
                kept += 1;
            }
        }
        self.texts.truncate(kept);
        self.last.truncate(kept);
        self.index.clear();
        remap
    }
}

/// The tallies of one watch's most recent buckets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct WindowTally {
    slots: Vec<Slot>,
    names: Names,
    /// The newest bucket tallied.
    newest: Option<i64>,
}

/// A window's evidence, counted from its buckets' tallies, most frequent first.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Tallied {
    pub terms: Vec<(String, u32)>,
    pub categories: Vec<(CrisisCategory, u32)>,
    pub languages: Vec<(String, u32)>,
    pub sources: Vec<(String, u32)>,
}

impl WindowTally {
    /// Tallies for windows of up to `window` buckets (ending at the newest closed bucket).
    pub(crate) fn new(window: usize) -> WindowTally {
        let mut t = WindowTally::default();
        t.fit(window);
        t
    }

    /// Makes room for windows of up to `window` buckets; a state saved before tallies
    /// existed, or with another window, starts empty.
    pub(crate) fn fit(&mut self, window: usize) {
        let slots = (window + 1).clamp(2, MAX_SLOTS);
        if self.slots.len() != slots {
            *self = WindowTally { slots: vec![Slot::default(); slots], ..WindowTally::default() };
        }
    }

    fn names_cap(&self) -> usize {
        self.slots.len() * (TERMS + LANGUAGES + SOURCES)
    }

    /// Counts one mention of bucket `b`.
    pub(crate) fn add(&mut self, b: i64, m: &Mention, s: &Sentiment) {
        let n = self.slots.len() as i64;
        if n == 0 {
            return;
        }
        if self.newest.is_none_or(|newest| b > newest) {
            let turned = self.newest.is_some_and(|newest| b.div_euclid(n) != newest.div_euclid(n));
            self.newest = Some(b);
            if turned {
                self.forget_before(b - n + 1);
            }
        }
        let i = b.rem_euclid(n) as usize;
        if self.slots[i].bucket > b {
            // Older than the tallies reach: counted in the ring's numbers, not here.
            return;
        }
        if self.slots[i].bucket < b {
            self.slots[i].reset(b);
        }
        let cap = self.names_cap();
        let lang = s.lang.map(|l| l.code()).or(m.lang.as_deref()).unwrap_or("?");
        // A bucket's few languages and sources are looked for among its own entries first:
        // comparing a short text with a handful is cheaper than hashing it.
        let lang = self.slots[i].languages.find(&self.names, lang).or_else(|| self.names.id(lang, b, cap));
        let source = self.slots[i].sources.find(&self.names, &m.source).or_else(|| self.names.id(&m.source, b, cap));
        let mut terms = [None; TERMS_PER_MENTION];
        let negative = s.label == Label::Neg;
        if negative {
            for (k, t) in s.terms.iter().filter(|t| t.score < 0.0).take(TERMS_PER_MENTION).enumerate() {
                let id = self.names.id(&t.term, b, cap);
                // Each term once per mention.
                terms[k] = if id.is_some() && terms[..k].contains(&Some(id)) { None } else { Some(id) };
            }
        }
        let slot = &mut self.slots[i];
        slot.mentions += 1;
        slot.languages.bump(lang, LANGUAGES);
        slot.sources.bump(source, SOURCES);
        if !negative {
            return;
        }
        slot.negative += 1;
        let mut seen = 0u8;
        for c in &s.categories {
            let k = *c as usize;
            if seen & (1 << k) == 0 {
                seen |= 1 << k;
                slot.categories[k] += 1;
            }
        }
        for id in terms.into_iter().flatten() {
            slot.terms.bump(id, TERMS);
        }
    }

    /// Clears the slots of buckets before `oldest` and the names only they used.
    fn forget_before(&mut self, oldest: i64) {
        for slot in self.slots.iter_mut().filter(|s| s.bucket < oldest && s.bucket != i64::MIN) {
            slot.reset(i64::MIN);
        }
        let remap = self.names.compact(oldest);
        for slot in &mut self.slots {
            for id in slot.ids_mut() {
                // Every name a live slot uses was used at or after `oldest`, so it is kept.
                *id = remap.get(*id as usize).copied().flatten().unwrap_or(u16::MAX);
            }
        }
    }

    /// The evidence of buckets `start..=end`: the ones the ring still holds.
    pub(crate) fn count(&self, start: i64, end: i64) -> Tallied {
        let slots = || self.slots.iter().filter(|s| (start..=end).contains(&s.bucket));
        let mut categories = [0u32; CrisisCategory::ALL.len()];
        let (mut mentions, mut terms, mut languages, mut sources) =
            (0, Merged::default(), Merged::default(), Merged::default());
        for s in slots() {
            mentions += s.mentions;
            s.categories.iter().enumerate().for_each(|(k, n)| categories[k] += n);
            terms.add(&s.terms);
            languages.add(&s.languages);
            sources.add(&s.sources);
        }
        let mut categories: Vec<(CrisisCategory, u32)> =
            CrisisCategory::ALL.into_iter().zip(categories).filter(|(_, n)| *n > 0).collect();
        categories.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        categories.truncate(TOP);
        Tallied {
            terms: terms.top(&self.names, None),
            categories,
            languages: languages.top(&self.names, Some(mentions)),
            sources: sources.top(&self.names, Some(mentions)),
        }
    }
}

/// Counts by id summed over slots.
#[derive(Default)]
struct Merged(Vec<(u16, u32)>);

impl Merged {
    fn add(&mut self, c: &Capped) {
        for &(id, n) in &c.counts {
            match self.0.iter_mut().find(|(k, _)| *k == id) {
                Some((_, m)) => *m += n,
                None => self.0.push((id, n)),
            }
        }
    }

    /// The top five by count, ties by name; with `total`, an `other` entry for the rest.
    fn top(self, names: &Names, total: Option<u32>) -> Vec<(String, u32)> {
        let mut out: Vec<(String, u32)> = self.0.into_iter().map(|(id, n)| (names.text(id).to_string(), n)).collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(TOP);
        if let Some(total) = total {
            let rest = total.saturating_sub(out.iter().map(|(_, n)| n).sum());
            if rest > 0 {
                out.push((OTHER.to_string(), rest));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Lang, TermScore};

    fn mention(source: &str, lang: Option<&str>) -> Mention {
        Mention {
            source: source.into(),
            id: "1".into(),
            text: String::new(),
            author: None,
            reach: None,
            lang: lang.map(str::to_string),
            published: chrono::DateTime::UNIX_EPOCH,
            url: None,
        }
    }

    fn scored(lang: Option<Lang>, label: Label, terms: &[&str], categories: &[CrisisCategory]) -> Sentiment {
        Sentiment {
            lang,
            label,
            compound: if label == Label::Neg { -0.5 } else { 0.2 },
            terms: terms.iter().map(|t| TermScore { term: t.to_string(), score: -1.0 }).collect(),
            categories: categories.to_vec(),
        }
    }

    #[test]
    fn a_window_counts_every_mention_of_its_buckets() {
        let mut t = WindowTally::new(15);
        let neg = scored(Some(Lang::Nl), Label::Neg, &["storing", "weer"], &[CrisisCategory::Outage]);
        let pos = scored(Some(Lang::En), Label::Pos, &[], &[]);
        for b in 100..110 {
            for _ in 0..7 {
                t.add(b, &mention("mastodon", None), &neg);
            }
            for _ in 0..3 {
                t.add(b, &mention("rss", Some("de")), &pos);
            }
        }
        let e = t.count(101, 110);
        assert_eq!(e.terms, [("storing".to_string(), 63), ("weer".to_string(), 63)]);
        assert_eq!(e.categories, [(CrisisCategory::Outage, 63)]);
        assert_eq!(e.languages, [("nl".to_string(), 63), ("en".to_string(), 27)], "scored language first");
        assert_eq!(e.sources, [("mastodon".to_string(), 63), ("rss".to_string(), 27)]);
    }

    #[test]
    fn a_term_repeated_in_one_mention_counts_once_and_positive_terms_not_at_all() {
        let mut t = WindowTally::new(5);
        let mut s = scored(None, Label::Neg, &["down", "down"], &[CrisisCategory::Outage, CrisisCategory::Outage]);
        s.terms.push(TermScore { term: "love".into(), score: 1.0 });
        t.add(7, &mention("x", None), &s);
        let e = t.count(7, 7);
        assert_eq!(e.terms, [("down".to_string(), 1)]);
        assert_eq!(e.categories, [(CrisisCategory::Outage, 1)]);
        assert_eq!(e.languages, [("?".to_string(), 1)]);
    }

    #[test]
    fn capped_tallies_keep_the_frequent_keys_and_their_totals_honest() {
        let mut t = WindowTally::new(5);
        let s = scored(None, Label::Pos, &[], &[]);
        // Twenty sources in one bucket, three of them often: more than a bucket keeps.
        for i in 0..20 {
            t.add(1, &mention(&format!("feed{i:02}"), None), &s);
        }
        for _ in 0..10 {
            for big in ["big1", "big2", "big3"] {
                t.add(1, &mention(big, None), &s);
            }
        }
        let e = t.count(1, 1);
        let shown: Vec<&str> = e.sources.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(&shown[..3], ["big1", "big2", "big3"]);
        assert_eq!(&e.sources[..3], [("big1".into(), 10), ("big2".into(), 10), ("big3".into(), 10)]);
        assert_eq!(e.sources.last().map(|(k, _)| k.as_str()), Some(OTHER));
        assert_eq!(e.sources.iter().map(|(_, n)| n).sum::<u32>(), 50, "every mention is under a key or other");
    }

    #[test]
    fn buckets_older_than_the_ring_are_forgotten_with_their_names() {
        let mut t = WindowTally::new(3);
        let s = scored(None, Label::Neg, &["old"], &[]);
        t.add(10, &mention("a", None), &s);
        let s = scored(None, Label::Neg, &["new"], &[]);
        for b in 11..30 {
            t.add(b, &mention("b", None), &s);
        }
        assert!(t.count(0, 29).terms.iter().all(|(k, _)| k != "old"));
        assert!(!t.names.texts.iter().any(|n| &**n == "old" || &**n == "a"), "{:?}", t.names.texts);
        assert_eq!(t.count(27, 29).terms, [("new".to_string(), 3)]);
        assert_eq!(t.count(27, 29).sources, [("b".to_string(), 3)]);
        // A mention older than the ring reaches is not tallied.
        t.add(5, &mention("late", None), &s);
        assert_eq!(t.count(0, 29).sources, [("b".to_string(), 4)]);
    }

    #[test]
    fn the_tally_round_trips_through_json_and_keeps_counting() {
        let mut t = WindowTally::new(15);
        let s = scored(Some(Lang::Pl), Label::Neg, &["awaria"], &[]);
        t.add(3, &mention("m", None), &s);
        let json = serde_json::to_string(&t).unwrap();
        let mut back: WindowTally = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        back.add(4, &mention("m", None), &s);
        assert_eq!(back.count(3, 4).terms, [("awaria".to_string(), 2)], "the index is rebuilt");
    }
}
