//! Tells Dutch, Swedish, Polish and English apart in texts as short as a tweet.
//!
//! A feed's declared language always wins; this is for the posts that come without one.
//! General-purpose identifiers were measured on our short texts (`tools/langid-compare`)
//! and lose much of their accuracy there because they weigh dozens of languages. Knowing
//! there are only four, and having four large word lists, we can do better with a small
//! generative model built only from the lexicons:
//!
//! * each word is scored, per language, by how likely that language is to produce it: a
//!   frequent word (`stopwords.txt`, then `common.txt`) by its frequency rank (Zipf's law),
//!   a word of the lexicon (lemmas, inflected forms, slang, crisis terms) with one fixed
//!   probability, any other word by a character model trained on the lexicon's word forms;
//! * a text's language is the one with the highest total log-likelihood.
//!
//! Nothing here was fitted to labelled data; the few constants below were chosen on the
//! `dev` split (see `docs/sentiment.md` for the figures).

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use crate::model::Lang;

use super::lexicon::{data_lines, squeeze, Lexicon, LexiconError};
use super::signs::SignLexicon;
use super::tokenize::{self, flag, TokenKind, Tokens};
use super::wordmap::{Generations, WordMap};

/// Share of running words that are frequent words, spread over the ranked list by Zipf.
const FREQUENT_MASS: f32 = 0.45;
/// Probability of one given lexicon word, the same in every language: the lexicons differ
/// in size (Polish lists 180k inflected forms, Dutch a few thousand words) for reasons that
/// say nothing about how often a word is written, and a word two lexicons share (English
/// loans such as "thanks" in Dutch slang) should not favour the smaller one.
const LEXICON_WORD_P: f32 = 2e-5;
/// Share of running words that no list knows; those are spelled by the character model.
const UNKNOWN_MASS: f32 = 0.30;
/// Words from split hashtags are often names or English loans; they count this much.
const HASHTAG_WEIGHT: f32 = 0.5;
const SQUEEZE_UNKNOWN: usize = 1;
/// ln prior per language, in `Lang::ALL` order (en, nl, sv, pl): English loans and names
/// are common in posts in every language, so ties and near-ties go to English.
const PRIOR: [f32; 4] = [0.5, 0.0, 0.0, 0.0];

#[derive(Debug, Clone)]
pub struct LanguageDetector {
    lexicons: [&'static Lexicon; 4],
    /// 1-based rank of a word in each language's frequency list; 0 when it is not in it.
    ranks: WordMap<[u16; 4]>,
    /// ln P(word at rank r) per language, indexed by rank - 1.
    rank_logp: [Vec<f32>; 4],
    chars: CharModel,
}

impl LanguageDetector {
    /// The detector built from the lexicons compiled into the binary, once per process.
    pub fn builtin() -> Result<&'static LanguageDetector, LexiconError> {
        static CACHE: OnceLock<Result<LanguageDetector, LexiconError>> = OnceLock::new();
        CACHE
            .get_or_init(|| {
                let lexicons = [
                    Lexicon::builtin(Lang::En)?,
                    Lexicon::builtin(Lang::Nl)?,
                    Lexicon::builtin(Lang::Sv)?,
                    Lexicon::builtin(Lang::Pl)?,
                ];
                // Function words, then everyday words: one frequency ranking per language.
                let frequent = [
                    [include_str!("../../lexicons/en/stopwords.txt"), include_str!("../../lexicons/en/common.txt")],
                    [include_str!("../../lexicons/nl/stopwords.txt"), include_str!("../../lexicons/nl/common.txt")],
                    [include_str!("../../lexicons/sv/stopwords.txt"), include_str!("../../lexicons/sv/common.txt")],
                    [include_str!("../../lexicons/pl/stopwords.txt"), include_str!("../../lexicons/pl/common.txt")],
                ];
                Ok(LanguageDetector::new(lexicons, frequent))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// `frequent[l]` are word lists of language `l`, each most frequent first, read in order
    /// as one ranking.
    pub(crate) fn new<const N: usize>(lexicons: [&'static Lexicon; 4], frequent: [[&str; N]; 4]) -> LanguageDetector {
        let mut ranks: WordMap<[u16; 4]> = WordMap::default();
        let mut rank_logp: [Vec<f32>; 4] = Default::default();
        for (l, sources) in frequent.iter().enumerate() {
            let words: Vec<&str> = sources.iter().flat_map(|src| data_lines(src).map(|(_, cols)| cols[0])).collect();
            let harmonic: f32 = (1..=words.len()).map(|r| 1.0 / r as f32).sum();
            for (r, w) in words.iter().enumerate() {
                let rank = ranks.get_or_insert_with(w, Default::default);
                if rank[l] == 0 {
                    rank[l] = (r + 1) as u16;
                }
                rank_logp[l].push((FREQUENT_MASS / ((r + 1) as f32 * harmonic)).ln());
            }
        }
        let chars = CharModel::train(lexicons.map(|lex| lex.words()));
        LanguageDetector { lexicons, ranks, rank_logp, chars }
    }

    /// The language of `text`, or `None` when it has no words to tell by.
    pub(crate) fn detect(&self, text: &str) -> Option<Lang> {
        let signs = SignLexicon::builtin().ok()?;
        let mut tokens = Tokens::default();
        tokenize::tokenize(text, signs, &mut tokens);
        self.detect_tokens(&tokens)
    }

    /// The language of already tokenized text.
    pub(crate) fn detect_tokens(&self, tokens: &Tokens) -> Option<Lang> {
        self.detect_tokens_with(tokens, &mut SpellMemo::default())
    }

    /// `detect_tokens`, remembering in `memo` what the character model made of words no
    /// list knows: brand names and handles recur in every mention of a watch.
    pub(crate) fn detect_tokens_with(&self, tokens: &Tokens, memo: &mut SpellMemo) -> Option<Lang> {
        let scores = self.log_likelihoods(tokens, memo)?;
        // Strictly greater: on a tie the earlier language (English) wins, as the prior says.
        let mut best = 0;
        for l in 1..4 {
            if scores[l] > scores[best] {
                best = l;
            }
        }
        Some(Lang::ALL[best])
    }

    fn known(&self, word: &str) -> bool {
        self.ranks.contains_key(word) || self.lexicons.iter().any(|l| l.knows(word))
    }

    /// Per-language log-likelihood of the text's words plus the prior; `None` without any
    /// word.
    pub(crate) fn log_likelihoods(&self, tokens: &Tokens, memo: &mut SpellMemo) -> Option<[f32; 4]> {
        let mut scores = PRIOR;
        let mut seen = false;
        let mut squeezed;
        for t in &tokens.tokens {
            if t.kind != TokenKind::Word {
                continue;
            }
            let mut word = tokens.str(t);
            if !word.chars().any(char::is_alphabetic) {
                continue;
            }
            if t.has(flag::ELONGATED) {
                // "jeeestem" is "jestem", "goooood" is "good": one repeat if that is a word,
                // else two.
                let once = squeeze(word, 1);
                squeezed = if self.known(&once) { once } else { squeeze(word, SQUEEZE_UNKNOWN) };
                word = &squeezed;
            }
            seen = true;
            let weight = if t.has(flag::FROM_HASHTAG) { HASHTAG_WEIGHT } else { 1.0 };
            let ranks = self.ranks.get(word);
            let mut spelled: Option<[f32; 4]> = None;
            for (l, score) in scores.iter_mut().enumerate() {
                let lp = match ranks.map(|r| r[l]).filter(|&r| r > 0) {
                    Some(rank) => self.rank_logp[l][rank as usize - 1],
                    None if self.lexicons[l].knows(word) => LEXICON_WORD_P.ln(),
                    None => UNKNOWN_MASS.ln() + spelled.get_or_insert_with(|| memo.spelled(word, &self.chars))[l],
                };
                *score += weight * lp;
            }
        }
        seen.then_some(scores)
    }
}

/// What the character model made of words, remembered (bounded, in two generations).
#[derive(Debug, Default)]
pub(crate) struct SpellMemo(Generations<[f32; 4]>);

impl SpellMemo {
    const CAPACITY: usize = 20_000;

    fn spelled(&mut self, word: &str, chars: &CharModel) -> [f32; 4] {
        if let Some(lp) = self.0.get(word, Self::CAPACITY) {
            return lp;
        }
        let lp = chars.log_prob(word);
        self.0.insert(word, lp, Self::CAPACITY);
        lp
    }
}

/// The convenience entry point: the language of `text` by the built-in detector.
pub fn detect_language(text: &str) -> Option<Lang> {
    LanguageDetector::builtin().ok()?.detect(text)
}

/// Character model per language: P(c | two characters before), interpolated with the bigram
/// and unigram estimates and a small uniform floor, with word boundaries as spaces, trained
/// on each lexicon's word forms (each form once). Interpolation matters: with plain add-k
/// smoothing a language that never saw "ż" gives it a *higher* probability than Polish,
/// which has seen "ż" in many contexts, each with other followers.
#[derive(Debug, Clone, Default)]
struct CharModel {
    /// Counts per language of (a, b, c), (a, b, *), (b, c), (b, *) and (c).
    trigrams: FxHashMap<u64, [u32; 4]>,
    tri_contexts: FxHashMap<u64, [u32; 4]>,
    bigrams: FxHashMap<u64, [u32; 4]>,
    bi_contexts: FxHashMap<u64, [u32; 4]>,
    unigrams: FxHashMap<u64, [u32; 4]>,
    total: [u32; 4],
}

/// Interpolation weights of the trigram, bigram and unigram estimates and the floor.
const LAMBDAS: [f32; 4] = [0.6, 0.25, 0.148, 0.002];
/// Size of the alphabet the floor spreads over (letters of four languages, digits, `'`, `-`).
const ALPHABET: f32 = 64.0;
/// Stands for "any character" in the context keys.
const ANY: char = '\0';

fn pack(a: char, b: char, c: char) -> u64 {
    ((a as u64) << 42) | ((b as u64) << 21) | c as u64
}

impl CharModel {
    fn train<I: Iterator<Item = String>>(words: [I; 4]) -> CharModel {
        let mut m = CharModel::default();
        for (l, words) in words.into_iter().enumerate() {
            for w in words {
                if w.starts_with('#') {
                    continue;
                }
                let mut a = ' ';
                let mut b = ' ';
                for c in w.chars().chain([' ']) {
                    m.trigrams.entry(pack(a, b, c)).or_default()[l] += 1;
                    m.tri_contexts.entry(pack(a, b, ANY)).or_default()[l] += 1;
                    m.bigrams.entry(pack(ANY, b, c)).or_default()[l] += 1;
                    m.bi_contexts.entry(pack(ANY, b, ANY)).or_default()[l] += 1;
                    m.unigrams.entry(pack(ANY, ANY, c)).or_default()[l] += 1;
                    m.total[l] += 1;
                    a = b;
                    b = c;
                }
            }
        }
        m
    }

    fn log_prob(&self, word: &str) -> [f32; 4] {
        let get = |map: &FxHashMap<u64, [u32; 4]>, key| map.get(&key).copied().unwrap_or_default();
        let ratio = |n: u32, d: u32| if d == 0 { 0.0 } else { n as f32 / d as f32 };
        // Probabilities are multiplied in f64 and their log taken every `LOG_EVERY` letters,
        // not per letter: `ln` was a quarter of a replay's time. Each factor is at least
        // LAMBDAS[3] / ALPHABET, so 16 of them stay far from f64's underflow.
        const LOG_EVERY: usize = 16;
        let mut lp = [0.0f32; 4];
        let mut product = [1.0f64; 4];
        let mut a = ' ';
        let mut b = ' ';
        for (i, c) in word.chars().chain([' ']).enumerate() {
            if i > 0 && i % LOG_EVERY == 0 {
                for (lp, p) in lp.iter_mut().zip(product.iter_mut()) {
                    *lp += p.ln() as f32;
                    *p = 1.0;
                }
            }
            let tri = get(&self.trigrams, pack(a, b, c));
            let tri_ctx = get(&self.tri_contexts, pack(a, b, ANY));
            let bi = get(&self.bigrams, pack(ANY, b, c));
            let bi_ctx = get(&self.bi_contexts, pack(ANY, b, ANY));
            let uni = get(&self.unigrams, pack(ANY, ANY, c));
            for (l, product) in product.iter_mut().enumerate() {
                let p = LAMBDAS[0] * ratio(tri[l], tri_ctx[l])
                    + LAMBDAS[1] * ratio(bi[l], bi_ctx[l])
                    + LAMBDAS[2] * ratio(uni[l], self.total[l])
                    + LAMBDAS[3] / ALPHABET;
                *product *= p as f64;
            }
            a = b;
            b = c;
        }
        for (lp, p) in lp.iter_mut().zip(product) {
            *lp += p.ln() as f32;
        }
        lp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_posts_in_each_language() {
        let cases = [
            ("the app is down again, great job", Lang::En),
            ("de app ligt er weer uit, top gedaan", Lang::Nl),
            ("appen ligger nere igen, bra jobbat", Lang::Sv),
            ("aplikacja znowu nie działa, brawo", Lang::Pl),
            ("Screw today", Lang::En),
            ("Nou ja, het is wat het is", Lang::Nl),
            ("Jag vet inte", Lang::Sv),
            ("Jest też Gubariew", Lang::Pl),
            ("Ingen lunch idag fml", Lang::Sv),
            ("jeeestem", Lang::Pl),
            ("RAAAADOOOOOVIĆ!", Lang::Pl),
        ];
        for (text, want) in cases {
            assert_eq!(detect_language(text), Some(want), "{text}");
        }
    }

    #[test]
    fn letters_no_other_language_uses_decide_alone() {
        // Unknown words: only the character model speaks.
        assert_eq!(detect_language("Żyrooooooo!!!! 3:1!"), Some(Lang::Pl));
        assert_eq!(detect_language("Åstrand"), Some(Lang::Sv));
    }

    #[test]
    fn no_words_no_language() {
        assert_eq!(detect_language("👍👍 :) https://t.co/x @kroonbank 12345"), None);
        assert_eq!(detect_language(""), None);
    }
}
