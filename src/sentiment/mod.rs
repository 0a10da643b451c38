//! Sentiment of short posts in Dutch, Swedish, Polish and English — the step between
//! `sources` (which hand over a `Mention`) and `detect` (which counts negative mentions).
//!
//! Lexicon-and-rules, after VADER: every word found in the language's lexicon carries a
//! valence, rules adjust it for negation, intensifiers, contrast, capitals, elongation and
//! punctuation, and the sum is squashed into a compound score in [-1, 1]. Lexicons are data
//! (`lexicons/`, credited in `lexicons/SOURCES.md`); the rules are code (`rules.rs`). Every
//! score comes with the terms that made it, so a crisis team can see *why* a post counts as
//! negative, and with the crisis categories (outage, fraud, …) its words point at.
//!
//! * `tokenize` — text to tokens, language-independent;
//! * `lang` — which of the four languages a text is in, when the feed does not say;
//! * `lexicon`, `signs` — what words, emoji and emoticons mean (`morphology` and `compound`
//!   find the lexicon words inside inflected forms and Dutch and Swedish compounds);
//! * `rules` — the adjustments and their constants;
//! * `score` — `Scorer` and its reusable `Analysis`;
//! * `batch`, `eval` — scoring JSON lines, and measuring the scorer on labelled data.

pub mod batch;
mod compound;
pub(crate) mod cue;
pub mod eval;
pub(crate) mod lang;
pub(crate) mod lexicon;
mod morphology;
pub(crate) mod rules;
pub(crate) mod score;
pub mod signs;
pub mod tokenize;
mod wordmap;

pub use lang::{detect_language, LanguageDetector};
pub(crate) use lexicon::LexiconError;
pub use rules::Rules;
pub use score::{Analysis, Explained, LabelThresholds, LangSource, Scorer};
