//! Tells Dutch, Swedish, Polish and English apart in texts as short as a tweet.
//!
//! A feed's declared language always wins; this is for the posts that come without one.
//! General-purpose identifiers were measured on our short texts (`tools/langid-compare`)
//! and lose most of their accuracy there because they weigh a hundred languages. Knowing
//! there are only four, and having four large word lists, we can do better with a small
//! generative model built only from the lexicons:
//!
//! * each word is scored, per language, by how likely that language is to produce it:
//!   a stop-word by its frequency rank (Zipf), a word of the lexicon (lemmas, inflected
//!   forms, slang, crisis terms) as one of that many, any other word by a character-trigram
//!   model trained on the lexicon's own word forms;
//! * a text's language is the one with the highest total log-likelihood.
//!
//! Nothing here was fitted to labelled data; the few constants below were chosen on the
//! `dev` split and are documented with the figures they reached.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use crate::model::Lang;

use super::lexicon::{data_lines, Lexicon, LexiconError};
use super::signs::SignLexicon;
use super::tokenize::{self, flag, TokenKind, Tokens};

/// Share of running words that are stop-words, spread over the list by Zipf's law.
const STOPWORD_MASS: f32 = 0.45;
/// Share of running words that are (other) lexicon words, spread evenly over the forms.
const LEXICON_MASS: f32 = 0.25;
/// Share of running words that no list knows; those are spelled by the character model.
const UNKNOWN_MASS: f32 = 0.30;
/// Add-k smoothing of the character model.
const SMOOTHING: f32 = 0.5;
/// Words from split hashtags are often names or English loans; they count this much.
const HASHTAG_WEIGHT: f32 = 0.5;

#[derive(Debug, Clone)]
pub struct LanguageDetector {
    lexicons: [&'static Lexicon; 4],
    /// 1-based rank of a word in each language's stop-word list; 0 when it is not in it.
    stop_ranks: FxHashMap<Box<str>, [u16; 4]>,
    /// ln P(stop-word at rank r) per language, indexed by rank - 1.
    stop_logp: [Vec<f32>; 4],
    /// ln P(one given lexicon word) per language.
    lexicon_logp: [f32; 4],
    chars: CharModel,
}

impl LanguageDetector {
    pub fn builtin() -> Result<LanguageDetector, LexiconError> {
        static CACHE: OnceLock<Result<LanguageDetector, LexiconError>> = OnceLock::new();
        CACHE
            .get_or_init(|| {
                let lexicons = [
                    Lexicon::builtin(Lang::En)?,
                    Lexicon::builtin(Lang::Nl)?,
                    Lexicon::builtin(Lang::Sv)?,
                    Lexicon::builtin(Lang::Pl)?,
                ];
                let stopwords = [
                    include_str!("../../lexicons/en/stopwords.txt"),
                    include_str!("../../lexicons/nl/stopwords.txt"),
                    include_str!("../../lexicons/sv/stopwords.txt"),
                    include_str!("../../lexicons/pl/stopwords.txt"),
                ];
                Ok(LanguageDetector::new(lexicons, stopwords))
            })
            .clone()
    }

    pub fn new(lexicons: [&'static Lexicon; 4], stopwords: [&str; 4]) -> LanguageDetector {
        let mut stop_ranks: FxHashMap<Box<str>, [u16; 4]> = FxHashMap::default();
        let mut stop_logp: [Vec<f32>; 4] = Default::default();
        for (l, src) in stopwords.iter().enumerate() {
            let words: Vec<&str> = data_lines(src).map(|(_, cols)| cols[0]).collect();
            let harmonic: f32 = (1..=words.len()).map(|r| 1.0 / r as f32).sum();
            for (r, w) in words.iter().enumerate() {
                let ranks = stop_ranks.entry((*w).into()).or_default();
                if ranks[l] == 0 {
                    ranks[l] = (r + 1) as u16;
                }
                stop_logp[l].push((STOPWORD_MASS / ((r + 1) as f32 * harmonic)).ln());
            }
        }
        let lexicon_logp = lexicons.map(|lex| (LEXICON_MASS / lex.forms().max(1) as f32).ln());
        let chars = CharModel::train(lexicons.map(|lex| lex.words()));
        LanguageDetector { lexicons, stop_ranks, stop_logp, lexicon_logp, chars }
    }

    /// The language of `text`, or `None` when it has no words to tell by.
    pub fn detect(&self, text: &str) -> Option<Lang> {
        let signs = SignLexicon::builtin().ok()?;
        let mut tokens = Tokens::default();
        tokenize::tokenize(text, signs, &mut tokens);
        self.detect_tokens(&tokens)
    }

    /// The language of already tokenized text.
    pub fn detect_tokens(&self, tokens: &Tokens) -> Option<Lang> {
        let scores = self.log_likelihoods(tokens)?;
        let best = (0..4).max_by(|&a, &b| scores[a].total_cmp(&scores[b]))?;
        Some(Lang::ALL[best])
    }

    /// Per-language log-likelihood of the text's words; `None` without any word.
    pub fn log_likelihoods(&self, tokens: &Tokens) -> Option<[f32; 4]> {
        let mut scores = [0.0f32; 4];
        let mut seen = false;
        for t in &tokens.tokens {
            if t.kind != TokenKind::Word {
                continue;
            }
            let word = tokens.str(t);
            if !word.chars().any(char::is_alphabetic) {
                continue;
            }
            seen = true;
            let weight = if t.has(flag::FROM_HASHTAG) { HASHTAG_WEIGHT } else { 1.0 };
            let ranks = self.stop_ranks.get(word);
            let mut spelled: Option<[f32; 4]> = None;
            for l in 0..4 {
                let lp = match ranks.map(|r| r[l]).filter(|&r| r > 0) {
                    Some(rank) => self.stop_logp[l][rank as usize - 1],
                    None if self.lexicons[l].knows(word) => self.lexicon_logp[l],
                    None => UNKNOWN_MASS.ln() + spelled.get_or_insert_with(|| self.chars.log_prob(word))[l],
                };
                scores[l] += weight * lp;
            }
        }
        seen.then_some(scores)
    }
}

/// The convenience entry point: the language of `text` by the built-in detector.
pub fn detect_language(text: &str) -> Option<Lang> {
    LanguageDetector::builtin().ok()?.detect(text)
}

/// Character-trigram model per language: P(c | two characters before), with word
/// boundaries as spaces, trained on each lexicon's word forms (each form once).
#[derive(Debug, Clone, Default)]
struct CharModel {
    trigrams: FxHashMap<u64, [u32; 4]>,
    contexts: FxHashMap<u64, [u32; 4]>,
    /// Distinct characters seen per language (the smoothing denominator's alphabet).
    alphabet: [f32; 4],
}

fn pack(a: char, b: char, c: char) -> u64 {
    ((a as u64) << 42) | ((b as u64) << 21) | c as u64
}

impl CharModel {
    fn train<'a, I: Iterator<Item = &'a str>>(words: [I; 4]) -> CharModel {
        let mut m = CharModel::default();
        for (l, words) in words.into_iter().enumerate() {
            let mut alphabet = rustc_hash::FxHashSet::default();
            for w in words {
                if w.starts_with('#') {
                    continue;
                }
                let mut a = ' ';
                let mut b = ' ';
                for c in w.chars().chain([' ']) {
                    alphabet.insert(c);
                    m.trigrams.entry(pack(a, b, c)).or_default()[l] += 1;
                    m.contexts.entry(pack(a, b, '\0')).or_default()[l] += 1;
                    a = b;
                    b = c;
                }
            }
            m.alphabet[l] = alphabet.len().max(1) as f32;
        }
        m
    }

    fn log_prob(&self, word: &str) -> [f32; 4] {
        let mut lp = [0.0f32; 4];
        let mut a = ' ';
        let mut b = ' ';
        for c in word.chars().chain([' ']) {
            let tri = self.trigrams.get(&pack(a, b, c)).copied().unwrap_or_default();
            let ctx = self.contexts.get(&pack(a, b, '\0')).copied().unwrap_or_default();
            for l in 0..4 {
                lp[l] += ((tri[l] as f32 + SMOOTHING) / (ctx[l] as f32 + SMOOTHING * self.alphabet[l])).ln();
            }
            a = b;
            b = c;
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
        ];
        for (text, want) in cases {
            assert_eq!(detect_language(text), Some(want), "{text}");
        }
    }

    #[test]
    fn no_words_no_language() {
        assert_eq!(detect_language("👍👍 :) https://t.co/x @kroonbank 12345"), None);
        assert_eq!(detect_language(""), None);
    }
}
