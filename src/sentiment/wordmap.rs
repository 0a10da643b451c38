//! A hash map from words to values, tuned for the scorer's hottest loop.
//!
//! Almost every word is at most 15 bytes long. Those are stored inline as a `u128` (the
//! bytes plus the length in the last byte), so a lookup hashes two machine words and compares
//! integers, with no `memcmp` and no heap allocation per key. Longer words go to an ordinary
//! map. Profiling put string-key comparison at 15% of scoring time before this.

use rustc_hash::FxHashMap;

const INLINE: usize = 15;

#[derive(Debug, Clone)]
pub(crate) struct WordMap<V> {
    short: FxHashMap<u128, V>,
    long: FxHashMap<Box<str>, V>,
}

impl<V> Default for WordMap<V> {
    fn default() -> Self {
        WordMap { short: FxHashMap::default(), long: FxHashMap::default() }
    }
}

#[inline]
fn inline_key(word: &str) -> Option<u128> {
    let b = word.as_bytes();
    let n = b.len();
    // Constant-time packing with overlapping loads (no loop, no memmove call): the scorer
    // builds one key per word.
    let (lo, hi) = if n > INLINE {
        return None;
    } else if n >= 8 {
        let lo = u64::from_le_bytes(b[..8].try_into().ok()?);
        let tail = u64::from_le_bytes(b[n - 8..].try_into().ok()?);
        // `tail` holds bytes n-8..n; shift out the ones `lo` already has.
        (lo, tail.checked_shr(8 * (16 - n) as u32).unwrap_or(0))
    } else if n >= 4 {
        let head = u32::from_le_bytes(b[..4].try_into().ok()?) as u64;
        let tail = u32::from_le_bytes(b[n - 4..].try_into().ok()?) as u64;
        (head | tail << (8 * (n - 4)), 0)
    } else {
        (b.iter().enumerate().fold(0u64, |k, (i, &c)| k | (c as u64) << (8 * i)), 0)
    };
    Some(lo as u128 | (hi as u128) << 64 | (n as u128) << 120)
}

fn word_of(key: &u128) -> String {
    let buf = key.to_le_bytes();
    let len = (buf[15] as usize).min(INLINE);
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

impl<V> WordMap<V> {
    #[inline]
    pub(crate) fn get(&self, word: &str) -> Option<&V> {
        match inline_key(word) {
            Some(k) => self.short.get(&k),
            None => self.long.get(word),
        }
    }

    pub(crate) fn contains_key(&self, word: &str) -> bool {
        self.get(word).is_some()
    }

    pub(crate) fn insert(&mut self, word: &str, value: V) -> Option<V> {
        match inline_key(word) {
            Some(k) => self.short.insert(k, value),
            None => self.long.insert(word.into(), value),
        }
    }

    /// The value for `word`, inserted with `make` if absent.
    pub(crate) fn get_or_insert_with(&mut self, word: &str, make: impl FnOnce() -> V) -> &mut V {
        match inline_key(word) {
            Some(k) => self.short.entry(k).or_insert_with(make),
            None => self.long.entry(word.into()).or_insert_with(make),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.short.len() + self.long.len()
    }

    /// Every key, as an owned string (for building other tables at load time, not for hot
    /// paths).
    pub(crate) fn words(&self) -> impl Iterator<Item = String> + '_ {
        self.short.keys().map(word_of).chain(self.long.keys().map(|k| k.to_string()))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_generational_memo_stays_bounded_and_keeps_what_is_used() {
        const CAPACITY: usize = 5_000;
        let mut g = Generations::default();
        g.insert("hot", 7, CAPACITY);
        for i in 0..(3 * CAPACITY) {
            g.insert(&format!("w{i}"), 1, CAPACITY);
            if i % 100 == 0 {
                assert_eq!(g.get("hot", CAPACITY), Some(7), "a word in use survives generations");
            }
        }
        assert!(g.current.len() + g.old.len() <= 2 * CAPACITY);
        assert_eq!(g.get("w0", CAPACITY), None, "the long tail cycles out");
    }
    use super::*;

    #[test]
    fn keys_hold_every_byte_at_every_length() {
        let text = "abcdefghijklmno";
        let mut seen = std::collections::HashSet::new();
        for n in 0..=15 {
            let w = &text[..n];
            let k = inline_key(w).unwrap();
            assert_eq!(word_of(&k), w);
            assert!(seen.insert(k));
            // Changing any one byte changes the key.
            for i in 0..n {
                let mut v = w.as_bytes().to_vec();
                v[i] = b'z';
                assert_ne!(inline_key(std::str::from_utf8(&v).unwrap()), Some(k), "{w} byte {i}");
            }
        }
        assert_eq!(inline_key("sixteen-bytes-ab"), None);
    }

    #[test]
    fn short_and_long_words_round_trip() {
        let mut m = WordMap::default();
        let long = "konstantynopolitańczykowianeczka";
        for (i, w) in ["a", "ab", "żółć", "exactly15bytes!", "sixteen-bytes-ab", long].iter().enumerate() {
            assert_eq!(m.insert(w, i), None);
        }
        assert_eq!(m.get("a"), Some(&0));
        assert_eq!(m.get("żółć"), Some(&2));
        assert_eq!(m.get("exactly15bytes!"), Some(&3));
        assert_eq!(m.get("sixteen-bytes-ab"), Some(&4));
        assert_eq!(m.get(long), Some(&5));
        assert_eq!(m.get(""), None);
        assert_eq!(m.get("a\0"), None, "length is part of the key");
        let mut words: Vec<String> = m.words().collect();
        words.sort();
        assert_eq!(words.len(), 6);
        assert!(words.contains(&long.to_string()) && words.contains(&"żółć".to_string()));
    }
}

/// A bounded memo in two generations: when the current one is full it becomes the old one
/// (and the old one is dropped); a hit in the old one is copied forward. Frequent words stay,
/// the long tail cycles out, and memory stays under two generations' worth.
#[derive(Debug)]
pub struct Generations<V> {
    current: WordMap<V>,
    old: WordMap<V>,
}

impl<V> Default for Generations<V> {
    fn default() -> Self {
        Generations { current: WordMap::default(), old: WordMap::default() }
    }
}

impl<V: Copy> Generations<V> {
    pub fn get(&mut self, word: &str, capacity: usize) -> Option<V> {
        if let Some(&v) = self.current.get(word) {
            return Some(v);
        }
        let v = *self.old.get(word)?;
        self.insert(word, v, capacity);
        Some(v)
    }

    pub fn insert(&mut self, word: &str, v: V, capacity: usize) {
        if self.current.len() >= capacity {
            self.old = std::mem::take(&mut self.current);
        }
        self.current.insert(word, v);
    }
}
