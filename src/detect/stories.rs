//! Spreading stories: one link or one text repeated by several people inside a window.
//!
//! Every mention with a story key (`fingerprint.rs`: its link, else its first words) is
//! looked up in a table of at most `TRACKS` keys per watch. A key seen once is a few
//! numbers (no text kept); the second time it is seen it becomes a *repeat*, which keeps its
//! link and text (as that second poster wrote them, cut to `TEXT_CHARS`), its sightings per
//! bucket over the evidence window, and up to `AUTHORS` distinct authors. A window's evidence
//! names the keys repeated at least `MIN_MENTIONS` times by at least `MIN_AUTHORS` authors in
//! it, most repeated first, at most `SHOWN`.
//!
//! A full table makes room by dropping the least-seen key: one not seen inside the window
//! first, then one seen once, oldest first, so a key seen twice outlives a stream of one-off
//! mentions. At most `REPEATS` keys are repeats at once; another one replaces the
//! least-seen repeat. What that costs: a story's second sighting must come before about
//! `TRACKS` other keys have arrived (13 minutes at 10 mentions a minute, 13 seconds at 600):
//! a story is found when it is a visible part of the watch's stream, which is what spreading
//! means for a watch.
//!
//! **Memory bound** per watch: the table `TRACKS` × 48 bytes = 6.1 kB; the repeats at most
//! `REPEATS` × (96 bytes + link ≤ `URL_BYTES` + text ≤ 4 × `TEXT_CHARS` + window hits
//! 16 × 16 + authors 8 × 16) ≈ 16 × 1.4 kB = 22 kB in the worst case (every repeat with a
//! 300-byte link and a 140-character text in four-byte letters), usually none or a few
//! hundred bytes.
//!
//! **Evidence only, no signal of its own.** A story repeated three times by two people in a
//! quarter of an hour is ordinary conversation: a news article shared, a meme, a bot
//! reposting. What makes a story a crisis is that it moves the numbers, and then the volume,
//! negativity or topic signal fires and names the story as its evidence. A story on its own
//! has no baseline to be judged against; see docs/detection.md for the measurement.

use serde::{Deserialize, Serialize};

use super::fingerprint::{author_key, first_link, normalized_link, story_key};
use crate::model::{Mention, Story};

/// Keys a watch tracks.
const TRACKS: usize = 128;
/// Keys seen at least twice that keep their text at once.
const REPEATS: usize = 16;
/// Distinct authors counted per story (a story shows "8" for 8 or more).
const AUTHORS: usize = 8;
/// Bytes of a story's link kept at most.
const URL_BYTES: usize = 300;
/// Characters of a story's text kept.
const TEXT_CHARS: usize = 140;
/// A story is named with at least this many mentions from at least this many authors.
const MIN_MENTIONS: u32 = 3;
const MIN_AUTHORS: u32 = 2;
/// Stories named in one evidence.
const SHOWN: usize = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Track {
    /// When it was first seen (published time, whole seconds) and in which bucket.
    first_seen: i64,
    first_bucket: i64,
    last_bucket: i64,
    first_author: u32,
    /// Sightings since it entered the table.
    seen: u32,
    /// Once it is seen a second time.
    repeat: Option<Box<Repeat>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Repeat {
    url: Option<String>,
    text: String,
    /// Sightings per bucket, oldest first, inside the window's reach.
    hits: Vec<(i64, u32)>,
    /// Distinct authors with the newest bucket each was seen in.
    authors: Vec<(u32, i64)>,
}

/// The stories of one watch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stories {
    /// Buckets a window reaches back, and the newest bucket seen.
    reach: i64,
    newest: i64,
    /// Kept apart from the tracks so a lookup scans 1 kB.
    keys: Vec<u64>,
    tracks: Vec<Track>,
    /// Where the search for a track to give up starts: the tracks are visited in turn,
    /// so the one-off keys go oldest first and the search is short.
    #[serde(default)]
    hand: usize,
}

impl Stories {
    pub(crate) fn new(window: usize) -> Stories {
        let mut s = Stories::default();
        s.fit(window);
        s
    }

    /// For windows of up to `window` buckets (a state saved before stories existed starts
    /// with none).
    pub(crate) fn fit(&mut self, window: usize) {
        self.reach = window.max(1) as i64 + 1;
    }

    fn oldest(&self) -> i64 {
        self.newest - self.reach + 1
    }

    /// Counts one mention of bucket `b`.
    pub(crate) fn add(&mut self, b: i64, m: &Mention) {
        let Some(key) = story_key(&m.text) else { return };
        self.newest = self.newest.max(b);
        let author = author_key(m.author.as_deref().unwrap_or(&m.id));
        let published = m.published.timestamp();
        match self.find(key) {
            Some(i) => self.seen_again(i, b, author, published, m),
            None => {
                let track = Track {
                    first_seen: published,
                    first_bucket: b,
                    last_bucket: b,
                    first_author: author,
                    seen: 1,
                    repeat: None,
                };
                if self.keys.len() < TRACKS {
                    self.keys.push(key);
                    self.tracks.push(track);
                } else if let Some(i) = self.one_off() {
                    self.keys[i] = key;
                    self.tracks[i] = track;
                }
            }
        }
    }

    /// Where `key` is in the table: compared sixteen at a time without an early exit, which
    /// the compiler turns into vector compares (this runs for every mention).
    fn find(&self, key: u64) -> Option<usize> {
        self.keys.chunks(16).enumerate().find_map(|(c, chunk)| {
            let any = chunk.iter().fold(false, |any, k| any | (*k == key));
            any.then(|| chunk.iter().position(|k| *k == key).map(|i| c * 16 + i)).flatten()
        })
    }

    fn seen_again(&mut self, i: usize, b: i64, author: u32, published: i64, m: &Mention) {
        let oldest = self.oldest();
        if self.tracks[i].repeat.is_none() && self.tracks.iter().filter(|t| t.repeat.is_some()).count() >= REPEATS {
            // Room for one more repeat: the least-seen one goes, if it was not seen more
            // inside the window than this one is now.
            let t = &self.tracks[i];
            let fewer = |j: &usize| self.rank(&self.tracks[*j], oldest) <= t.seen + 1;
            match self.least_seen(true).filter(fewer) {
                Some(j) => {
                    self.keys.swap_remove(j);
                    self.tracks.swap_remove(j);
                    self.hand = 0;
                    let i = if i == self.tracks.len() { j } else { i };
                    return self.seen_again(i, b, author, published, m);
                }
                None => {
                    let t = &mut self.tracks[i];
                    t.seen += 1;
                    t.last_bucket = t.last_bucket.max(b);
                    return;
                }
            }
        }
        let t = &mut self.tracks[i];
        t.seen += 1;
        t.last_bucket = t.last_bucket.max(b);
        t.first_seen = t.first_seen.min(published);
        let r = t.repeat.get_or_insert_with(|| {
            Box::new(Repeat {
                // A link longer than any real article's is not kept (the text still shows).
                url: first_link(&m.text).and_then(normalized_link).filter(|u| u.len() <= URL_BYTES),
                text: m.text.chars().take(TEXT_CHARS).collect(),
                hits: vec![(t.first_bucket, 1)],
                authors: vec![(t.first_author, t.first_bucket)],
            })
        });
        r.hits.retain(|(h, _)| *h >= oldest);
        match r.hits.iter_mut().find(|(h, _)| *h == b) {
            Some((_, n)) => *n += 1,
            None => {
                r.hits.push((b, 1));
                r.hits.sort_unstable_by_key(|(h, _)| *h);
            }
        }
        match r.authors.iter().position(|(a, _)| *a == author) {
            Some(k) => r.authors[k].1 = r.authors[k].1.max(b),
            None if r.authors.len() < AUTHORS => r.authors.push((author, b)),
            None => {
                // Full: the author seen longest ago gives way (they are counted up to 8).
                if let Some(old) = r.authors.iter_mut().min_by_key(|(_, last)| *last) {
                    *old = (author, b);
                }
            }
        }
    }

    /// How often a track was seen inside the window's reach (0 when not at all).
    fn rank(&self, t: &Track, oldest: i64) -> u32 {
        if t.last_bucket < oldest {
            0
        } else {
            t.seen
        }
    }

    /// A track to give up for a new key: the next one in turn that was seen only once or
    /// not inside the window's reach; failing that, the least seen.
    fn one_off(&mut self) -> Option<usize> {
        let oldest = self.oldest();
        let n = self.tracks.len();
        for step in 0..n {
            let i = (self.hand + step) % n;
            if self.rank(&self.tracks[i], oldest) < 2 {
                self.hand = (i + 1) % n;
                return Some(i);
            }
        }
        self.least_seen(false)
    }

    /// The track seen least inside the window's reach, then longest ago. With `repeats`,
    /// only among the repeats.
    fn least_seen(&self, repeats: bool) -> Option<usize> {
        let oldest = self.oldest();
        self.tracks
            .iter()
            .enumerate()
            .filter(|(_, t)| !repeats || t.repeat.is_some())
            .min_by_key(|(_, t)| (self.rank(t, oldest), t.last_bucket))
            .map(|(i, _)| i)
    }

    /// The stories of buckets `start..=end`, most repeated first.
    pub(crate) fn in_window(&self, start: i64, end: i64) -> Vec<Story> {
        let mut out: Vec<Story> = self
            .tracks
            .iter()
            .filter_map(|t| {
                let r = t.repeat.as_ref()?;
                let mentions: u32 = r.hits.iter().filter(|(b, _)| (start..=end).contains(b)).map(|(_, n)| n).sum();
                // Authors seen since the window began (one of them may be in the bucket
                // being filled): never more than the mentions counted.
                let authors = (r.authors.iter().filter(|(_, b)| *b >= start).count() as u32).min(mentions);
                (mentions >= MIN_MENTIONS && authors >= MIN_AUTHORS).then(|| Story {
                    url: r.url.clone(),
                    text: r.text.clone(),
                    mentions,
                    authors,
                    first_seen: chrono::DateTime::from_timestamp(t.first_seen, 0).unwrap_or_default(),
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.mentions.cmp(&a.mentions).then(b.authors.cmp(&a.authors)).then(a.first_seen.cmp(&b.first_seen))
        });
        out.truncate(SHOWN);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(1_772_409_600 + minute * 60, 0).unwrap()
    }

    fn mention(id: u32, author: &str, text: &str, minute: i64) -> Mention {
        Mention {
            source: "mastodon".into(),
            id: id.to_string(),
            text: text.into(),
            author: Some(author.into()),
            reach: None,
            lang: None,
            published: at(minute),
            url: None,
        }
    }

    /// Feeds `(author, text)` one a minute from minute 0; the window is the last 15 minutes.
    fn stories(posts: &[(&str, &str)]) -> Vec<Story> {
        let mut s = Stories::new(15);
        for (i, (author, text)) in posts.iter().enumerate() {
            s.add(i as i64, &mention(i as u32, author, text, i as i64));
        }
        let end = posts.len() as i64 - 1;
        s.in_window(end - 14, end)
    }

    #[test]
    fn a_link_shared_with_different_tracking_parameters_is_one_story() {
        let found = stories(&[
            ("anna", "Kroon Bank leaked our data?! https://news.example/kroon-leak?utm_source=twitter"),
            ("bert", "unbelievable https://NEWS.example/kroon-leak/?utm_source=mastodon&utm_medium=social"),
            ("carl", "nice weather today, nothing to do with anything at all"),
            ("dora", "read this: https://www.news.example/kroon-leak#comments"),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        let s = &found[0];
        assert_eq!((s.mentions, s.authors), (3, 3));
        assert_eq!(s.url.as_deref(), Some("https://news.example/kroon-leak"));
        assert_eq!(s.first_seen, at(0));
    }

    #[test]
    fn a_text_reposted_with_case_handles_and_retweet_marks_is_one_story() {
        let text = "Kroon Bank blocks every card in the Netherlands, call them now";
        let found = stories(&[
            ("anna", text),
            ("bert", "RT @anna: Kroon Bank blocks every card in the Netherlands, call them now"),
            ("carl", "KROON BANK blocks every card in the netherlands... call them NOW @kroonbank"),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].mentions, found[0].authors, found[0].url.clone()), (3, 3, None));
        assert!(found[0].text.starts_with("RT @anna: Kroon Bank"), "the text as a reposter wrote it");
    }

    #[test]
    fn unrelated_texts_and_one_author_repeating_himself_are_not_stories() {
        assert!(stories(&[
            ("anna", "the Kroon Bank app is down again this morning"),
            ("bert", "Kroon Bank raised its fees for the third time"),
            ("carl", "my Kroon Bank card was blocked at the airport"),
            ("dora", "does anyone know if Kroon Bank has an outage"),
        ])
        .is_empty());
        let spam = "buy cheap followers now at our amazing shop";
        assert!(stories(&[("bot", spam), ("bot", spam), ("bot", spam), ("bot", spam)]).is_empty(), "one author");
        let two = "Kroon Bank leaks customer data of thousands";
        assert!(stories(&[("anna", two), ("bert", two)]).is_empty(), "twice is not yet a story");
    }

    #[test]
    fn the_most_repeated_story_comes_first_and_old_repeats_fall_out_of_the_window() {
        let a = "Kroon Bank leaks customer data of thousands";
        let b = "Kroon Bank CEO resigns after the data leak";
        let mut posts = vec![("x1", b), ("x2", b), ("x3", b)];
        // Twenty minutes later, a is repeated four times, b three times.
        posts.extend((0..20).map(|_| ("filler", "")));
        posts.extend([("p", a), ("q", a), ("r", a), ("s", a), ("t", b), ("u", b), ("v", b)]);
        let found = stories(&posts);
        assert_eq!(found.iter().map(|s| (s.text.as_str(), s.mentions)).collect::<Vec<_>>(), [(a, 4), (b, 3)]);
    }

    #[test]
    fn a_stream_of_one_off_mentions_does_not_push_out_a_story_being_repeated() {
        let story = "Kroon Bank leaks customer data of thousands";
        let mut s = Stories::new(15);
        let mut id = 0;
        for minute in 0..15 {
            // 300 one-off mentions a minute, and the story among them every 50 (2% of the
            // stream), each time from another author.
            for k in 0..300 {
                id += 1;
                s.add(minute, &mention(id, "someone", &format!("unrelated post number {id} about thing {k}"), minute));
                if k % 50 == 0 {
                    s.add(minute, &mention(id, &format!("author{id}"), story, minute));
                }
            }
        }
        assert!(s.keys.len() <= TRACKS);
        let found = s.in_window(0, 14);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].mentions, found[0].authors), (90, AUTHORS as u32), "every sighting counted");
    }

    #[test]
    fn at_most_a_fixed_number_of_repeats_keep_their_text_and_the_most_seen_stay() {
        let mut s = Stories::new(15);
        let mut id = 0;
        let mut post = |s: &mut Stories, text: &str, times: u32| {
            for _ in 0..times {
                id += 1;
                s.add(1, &mention(id, &format!("a{id}"), text, 1));
            }
        };
        post(&mut s, "the big story that everyone keeps reposting today", 5);
        for k in 0..2 * REPEATS {
            post(&mut s, &format!("smaller story number {k} repeated twice by people"), 2);
        }
        assert!(s.tracks.iter().filter(|t| t.repeat.is_some()).count() <= REPEATS);
        let found = s.in_window(0, 1);
        assert_eq!(found.len(), 1, "only the big one has 3 mentions: {found:?}");
        assert_eq!(found[0].mentions, 5);
    }

    #[test]
    fn stories_round_trip_through_json() {
        let mut s = Stories::new(15);
        for i in 0..3 {
            s.add(i, &mention(i as u32, &format!("a{i}"), "Kroon Bank leaks customer data of thousands", i));
        }
        let back: Stories = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.in_window(0, 2).len(), 1);
    }
}
