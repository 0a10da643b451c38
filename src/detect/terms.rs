//! The terms of a mention that topic detection counts: its words, lower-cased, with stop
//! words, numbers, very short tokens, URLs and `@handles` left out, Snowball-stemmed so
//! inflections count together ("storing", "storingen"), and hashed to a `u64` once.
//!
//! The words come from the scorer's own tokenizer (`sentiment::tokenize`: URLs and handles
//! dropped, hashtags split into words, text lower-cased into one buffer), and the stop words
//! are the scorer's per-language lists (`lexicons/*/stopwords.txt`). Detection only sees a
//! `Mention` and its `Sentiment`, also when it recounts from the journal after a restart, so
//! it tokenizes the text a second time rather than depend on the scorer's scratch space; what
//! that costs is kept small by one reusable buffer per thread, a per-thread memo of stems
//! (stemming costs more than tokenizing) and a cache of the last text (a mention matching
//! several watches is extracted once).

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};
use std::ops::Range;
use std::sync::OnceLock;

use frostem::{Algorithm, Stemmer};
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use crate::model::Lang;
use crate::sentiment::signs::SignLexicon;
use crate::sentiment::tokenize::{self, TokenKind, Tokens};

/// Terms taken from one mention, at most: a real post has fewer distinct content words;
/// a long article's tail adds nothing a topic needs and would cost pairs.
pub(crate) const MAX_TERMS: usize = 16;

/// Words shorter than this (in characters) are not terms: "ok", "xd", "ja".
const MIN_CHARS: usize = 3;

/// Stems remembered per thread before the memo starts over (about 2.5 MB at most).
const MEMO_CAPACITY: usize = 100_000;

/// One term of a mention: its stem's hash and the word as written (lower-cased), a range
/// into `Extracted::text`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Term {
    pub(crate) hash: u64,
    pub(crate) word: Range<usize>,
}

/// The distinct terms of one text, in text order.
#[derive(Debug, Default)]
pub(crate) struct Extracted {
    pub(crate) text: String,
    pub(crate) terms: Vec<Term>,
}

impl Extracted {
    pub(crate) fn word(&self, t: &Term) -> &str {
        self.text.get(t.word.clone()).unwrap_or("")
    }
}

/// A 64-bit hash of a string: Fx, fast and good enough for counting (collisions only blur a
/// count, as the hashed tables do on purpose anyway).
pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h = FxBuildHasher.build_hasher();
    h.write(s.as_bytes());
    h.write_u8(0xff);
    // Fx mixes weakly in the low bits; the tables index with them.
    mix(h.finish())
}

/// A strong 64-bit finalizer (splitmix64), so bits are usable as table indexes.
pub(crate) fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The stem hashes of the words of a watch's own terms ("kroon bank", "#kroonbank"): every
/// mention carries them, so they name no topic.
pub(crate) fn own_term_hashes(terms: &[String]) -> Vec<u64> {
    let mut out = Vec::new();
    for term in terms {
        for lang in Lang::ALL {
            // The handle or hashtag itself, and each of its words.
            with_terms(term, Some(lang), &[], |e| out.extend(e.terms.iter().map(|t| t.hash)));
            out.push(stem_hash(lang, &term.trim_start_matches(['#', '@']).to_lowercase()));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Runs `f` with the terms of `text` in `lang` (all four stop lists when the language is not
/// known), leaving out the hashes in `exclude` (sorted).
pub(crate) fn with_terms<R>(text: &str, lang: Option<Lang>, exclude: &[u64], f: impl FnOnce(&Extracted) -> R) -> R {
    thread_local! {
        static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    }
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => {
            s.extract(text, lang, exclude);
            f(&s.out)
        }
        // Only re-entry from inside `f` could get here; it gets its own scratch.
        Err(_) => {
            let mut s = Scratch::default();
            s.extract(text, lang, exclude);
            f(&s.out)
        }
    })
}

fn stem_hash(lang: Lang, word: &str) -> u64 {
    hash_str(&stemmers()[lang.index()].stem(word))
}

fn stemmers() -> &'static [Stemmer; 4] {
    static STEMMERS: OnceLock<[Stemmer; 4]> = OnceLock::new();
    STEMMERS
        .get_or_init(|| [Algorithm::English, Algorithm::Dutch, Algorithm::Swedish, Algorithm::Polish].map(Stemmer::new))
}

/// Stop words per language, by hash, from the scorer's lists.
fn stop_words() -> &'static [FxHashSet<u64>; 4] {
    static STOP: OnceLock<[FxHashSet<u64>; 4]> = OnceLock::new();
    STOP.get_or_init(|| {
        let lists = [
            include_str!("../../lexicons/en/stopwords.txt"),
            include_str!("../../lexicons/nl/stopwords.txt"),
            include_str!("../../lexicons/sv/stopwords.txt"),
            include_str!("../../lexicons/pl/stopwords.txt"),
        ];
        lists.map(|src| {
            src.lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split('\t').next())
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .map(hash_str)
                .collect()
        })
    })
}

#[derive(Default)]
struct Scratch {
    tokens: Tokens,
    out: Extracted,
    /// (language, word hash) → stem hash.
    memo: FxHashMap<u64, u64>,
    /// The text, language and exclusions the output was made from.
    last: Option<(u64, Option<Lang>, u64)>,
}

impl Scratch {
    fn extract(&mut self, text: &str, lang: Option<Lang>, exclude: &[u64]) {
        let key = (hash_str(text), lang, exclude.first().copied().unwrap_or(0) ^ exclude.len() as u64);
        if self.last == Some(key) {
            return;
        }
        self.last = Some(key);
        self.out.text.clear();
        self.out.terms.clear();
        let Ok(signs) = SignLexicon::builtin() else { return };
        tokenize::tokenize(text, signs, &mut self.tokens);
        let stop = stop_words();
        if self.memo.len() > MEMO_CAPACITY {
            self.memo.clear();
        }
        for t in &self.tokens.tokens {
            if t.kind != TokenKind::Word || self.out.terms.len() >= MAX_TERMS {
                continue;
            }
            let word = self.tokens.str(t);
            if word.chars().nth(MIN_CHARS - 1).is_none() || word.bytes().any(|b| b.is_ascii_digit()) {
                continue;
            }
            let h = hash_str(word);
            let is_stop = match lang {
                Some(l) => stop[l.index()].contains(&h),
                None => stop.iter().any(|s| s.contains(&h)),
            };
            if is_stop {
                continue;
            }
            let stem = match lang {
                Some(l) => {
                    let key = h ^ (l.index() as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    *self.memo.entry(key).or_insert_with(|| stem_hash(l, word))
                }
                None => h,
            };
            if exclude.binary_search(&h).is_ok()
                || exclude.binary_search(&stem).is_ok()
                || self.out.terms.iter().any(|x| x.hash == stem)
            {
                continue;
            }
            let start = self.out.text.len();
            self.out.text.push_str(word);
            self.out.terms.push(Term { hash: stem, word: start..self.out.text.len() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str, lang: Lang, exclude: &[u64]) -> Vec<String> {
        with_terms(text, Some(lang), exclude, |e| e.terms.iter().map(|t| e.word(t).to_string()).collect())
    }

    fn hashes(text: &str, lang: Lang) -> Vec<u64> {
        with_terms(text, Some(lang), &[], |e| e.terms.iter().map(|t| t.hash).collect())
    }

    #[test]
    fn stop_words_numbers_links_handles_and_short_words_are_not_terms() {
        let got =
            words("De storing bij @kroonbank is er weer, 500 klanten ok https://x.example/a #Inloggen", Lang::Nl, &[]);
        // "weer" (again) is a Dutch stop word.
        assert_eq!(got, ["storing", "klanten", "inloggen"]);
    }

    #[test]
    fn inflections_share_a_term_and_a_repeated_word_counts_once() {
        assert_eq!(hashes("storingen", Lang::Nl), hashes("storing", Lang::Nl));
        assert_eq!(hashes("prices", Lang::En), hashes("price", Lang::En));
        assert_eq!(words("price price PRICE", Lang::En, &[]), ["price"]);
    }

    #[test]
    fn a_watchs_own_terms_are_left_out() {
        let own = own_term_hashes(&["kroon bank".into(), "#kroonbank".into()]);
        assert_eq!(words("Kroon Bank verhoogt de prijzen #kroonbank", Lang::Nl, &own), ["verhoogt", "prijzen"]);
    }
}
