//! Per-language lexicons: what each word means to the scorer, loaded from the data files in
//! `lexicons/` (embedded in the binary; formats in `docs/lexicon-format.md`).
//!
//! A word resolves in this order, and the first hit wins:
//! 1. its exact form — the public lexicon, overridden by the team's `slang.tsv`, plus the
//!    team's crisis terms, negators, intensifiers and contrast words;
//! 2. an inflected form from the generated tables: `inflected.tsv` (Dutch and Swedish:
//!    Hunspell dictionaries; Polish: polvader's 168k forms) and Polish `inflected-sgjp.tsv`
//!    (Morfeusz SGJP forms of the team's crisis and slang lemmas);
//! 3. an elongated word with its repeats squeezed ("gooood" → "good");
//! 4. its Snowball stem (`frostem`), matched against the stems of the lexicon's own words,
//!    computed with the same stemmer at load time;
//! 5. Dutch and Swedish only: a compound whose last part, or whose first part if that is a
//!    crisis term, the lexicon knows ("driftstörningen" → "störningen" → störning; see
//!    `compound`).
//!
//! Exact and inflected forms share one hash map, so the common case is one probe. Stemming
//! and compound splitting are the expensive steps; `StemMemo` remembers their answers per
//! caller.

use std::sync::OnceLock;

use frostem::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;

use super::compound;
use super::cue::Cue;
use super::morphology;
use super::wordmap::{Generations, WordMap};

use crate::model::{CrisisCategory, Lang};

pub(crate) type TermId = u32;

/// Where a negator looks for what it negates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NegationScope {
    /// The next few words: "not good", "nie działa".
    Before,
    /// Also the word or two right before it, for languages that put the negation after the
    /// finite verb: "werkt niet", "jag gillar inte".
    Both,
}

/// What a term does besides carrying a valence. A term has one role.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Role {
    Plain,
    Negator(NegationScope),
    /// Added to the magnitude of the next sentiment word (boosters > 0, dampeners < 0).
    Intensifier(f32),
    /// "but": the clause after it weighs more than the clause before.
    Contrast,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Term {
    /// The lexicon's form: a lemma, a phrase or a `#hashtag`.
    pub text: Box<str>,
    /// VADER scale, -4..4; 0 when the term has no sentiment of its own.
    pub valence: f32,
    pub role: Role,
    pub crisis: Option<(CrisisCategory, f32)>,
    /// What the complaint rules read in it (`complaint.tsv`).
    pub cue: Option<Cue>,
}

impl Term {
    fn new(text: &str) -> Term {
        Term { text: text.into(), valence: 0.0, role: Role::Plain, crisis: None, cue: None }
    }

    /// Whether the term moves a score at all (negators and the like only modify others).
    pub(crate) fn scores(&self) -> bool {
        self.valence != 0.0
            || self.crisis.is_some()
            || self.cue.is_some_and(|c| c.family.standalone_valence().is_some())
    }

    /// Whether the scorer needs to find the term at all: it scores, or the complaint rules
    /// read it.
    fn matters(&self) -> bool {
        self.scores() || self.cue.is_some()
    }
}

/// How a word was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Exact,
    Inflected,
    /// An inflected form that is the lemma negated (Polish "nie-" forms).
    InflectedNegated,
    /// Found after squeezing repeated letters.
    Squeezed,
    Stem,
    /// A part of a Dutch or Swedish compound ("betaalstoring" → "storing").
    Compound,
}

/// The answer of an exact-form lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exact {
    pub resolved: Option<Resolved>,
    /// A phrase of the lexicon starts with this word.
    pub starts_phrase: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub term: TermId,
    pub form: Form,
}

const NO_TERM: u32 = u32::MAX;

/// One slot of the exact-form map.
#[derive(Debug, Clone, Copy)]
struct Entry {
    term: u32,
    form: Form,
    starts_phrase: bool,
}

#[derive(Debug)]
struct Phrase {
    /// The words after the first one (at least one).
    rest: Box<[Box<str>]>,
    term: TermId,
}

impl Phrase {
    fn second(&self) -> &str {
        self.rest.first().map_or("", |w| w.as_ref())
    }
}

/// An error in a lexicon file: which file, which line, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lexicon {file}, line {line}: {problem}")]
pub struct LexiconError {
    pub file: String,
    pub line: usize,
    pub problem: String,
}

/// The raw text of one language's lexicon files; missing files are empty.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LexiconSources<'a> {
    pub sentiment: &'a str,
    /// Generated inflected-form tables as (file name, text), loaded in order: a form listed
    /// by an earlier table keeps that table's lemma.
    pub inflected: &'a [(&'a str, &'a str)],
    pub slang: &'a str,
    pub negators: &'a str,
    pub intensifiers: &'a str,
    pub contrast: &'a str,
    pub crisis: &'a str,
    pub complaint: &'a str,
    pub stopwords: &'a str,
    pub common: &'a str,
}

impl LexiconSources<'static> {
    pub(crate) fn builtin(lang: Lang) -> LexiconSources<'static> {
        macro_rules! lang_files {
            ($l:literal, $inflected:expr) => {
                LexiconSources {
                    sentiment: include_str!(concat!("../../lexicons/", $l, "/sentiment.tsv")),
                    inflected: $inflected,
                    slang: include_str!(concat!("../../lexicons/", $l, "/slang.tsv")),
                    negators: include_str!(concat!("../../lexicons/", $l, "/negators.tsv")),
                    intensifiers: include_str!(concat!("../../lexicons/", $l, "/intensifiers.tsv")),
                    contrast: include_str!(concat!("../../lexicons/", $l, "/contrast.txt")),
                    crisis: include_str!(concat!("../../lexicons/", $l, "/crisis.tsv")),
                    complaint: include_str!(concat!("../../lexicons/", $l, "/complaint.tsv")),
                    stopwords: include_str!(concat!("../../lexicons/", $l, "/stopwords.txt")),
                    common: include_str!(concat!("../../lexicons/", $l, "/common.txt")),
                }
            };
        }
        match lang {
            Lang::En => lang_files!("en", &[]),
            Lang::Nl => lang_files!("nl", &[("inflected.tsv", include_str!("../../lexicons/nl/inflected.tsv"))]),
            // Swedish has no table: the Hunspell dictionary is LGPL-3 and the issue asks for a
            // permissive source (lexicons/SOURCES.md); the stemmer and compound split serve.
            Lang::Sv => lang_files!("sv", &[]),
            Lang::Pl => lang_files!(
                "pl",
                &[
                    ("inflected.tsv", include_str!("../../lexicons/pl/inflected.tsv")),
                    ("inflected-sgjp.tsv", include_str!("../../lexicons/pl/inflected-sgjp.tsv")),
                ]
            ),
        }
    }
}

/// Lines of a lexicon file with their 1-based numbers, comments and blanks skipped.
pub(crate) fn data_lines(src: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    src.lines().enumerate().filter_map(|(i, line)| {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || is_comment(line) {
            return None;
        }
        Some((i + 1, line.split('\t').map(str::trim).collect()))
    })
}

/// `# note` and a bare `#` are comments; `#boycott` is a hashtag term.
fn is_comment(line: &str) -> bool {
    line.strip_prefix('#').is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
}

fn stemmer_for(lang: Lang) -> Stemmer {
    Stemmer::new(match lang {
        Lang::En => Algorithm::English,
        Lang::Nl => Algorithm::Dutch,
        Lang::Sv => Algorithm::Swedish,
        Lang::Pl => Algorithm::Polish,
    })
}

/// Inflection rules only lead to lexicon words at least this polar: Pattern lists many
/// weakly polar adjectives (±0.4, "nieuw", "lang") whose inflected forms in neutral posts add
/// noise, and measured on dev the rules help only for clearly polar ones.
const MIN_DERIVED_VALENCE: f32 = 1.0;

/// Stems are only looked for in words at least this long; shorter words are function words
/// or already in the lexicon, and their stems collide with unrelated words.
const MIN_STEM_WORD_CHARS: usize = 4;

pub(crate) struct Lexicon {
    lang: Lang,
    terms: Vec<Term>,
    exact: WordMap<Entry>,
    phrases: WordMap<Vec<Phrase>>,
    /// Stem → the single-word scoring terms with that stem.
    stems: WordMap<Vec<TermId>>,
    stemmer: Stemmer,
}

impl std::fmt::Debug for Lexicon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lexicon")
            .field("lang", &self.lang)
            .field("terms", &self.terms.len())
            .field("forms", &self.exact.len())
            .field("phrases", &self.phrases.len())
            .field("stems", &self.stems.len())
            .finish()
    }
}

impl Lexicon {
    /// The lexicon compiled into the binary for `lang`, loaded once per process.
    pub(crate) fn builtin(lang: Lang) -> Result<&'static Lexicon, LexiconError> {
        static CACHE: [OnceLock<Result<Lexicon, LexiconError>>; 4] =
            [OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new()];
        CACHE[lang.index()]
            .get_or_init(|| Lexicon::load(lang, &LexiconSources::builtin(lang)))
            .as_ref()
            .map_err(Clone::clone)
    }

    pub(crate) fn load(lang: Lang, src: &LexiconSources<'_>) -> Result<Lexicon, LexiconError> {
        let mut b = Builder { lang, lex: Lexicon::empty(lang), ids: FxHashMap::default() };
        // Order matters. Public valences first; then the team's roles and function words,
        // which take the public valence away (polvader scores "nie" -1.7, the Swedish VADER
        // translation scores "typ" +2); then the team's slang, which may give any word, an
        // intensifier included, a valence of its own. Inflected forms come last and never
        // override an exact entry.
        b.valences("sentiment.tsv", src.sentiment)?;
        b.negators(src.negators)?;
        b.intensifiers(src.intensifiers)?;
        b.contrast(src.contrast)?;
        b.function_words(src.stopwords)?;
        b.valences("slang.tsv", src.slang)?;
        b.crisis(src.crisis)?;
        b.frequent_words(src.common)?;
        for (file, text) in src.inflected {
            b.inflected(file, text)?;
        }
        // Cues last: a cue word that is an inflected form ("pomógł") keeps its lemma's meaning.
        b.complaint(src.complaint)?;
        b.stems();
        Ok(b.lex)
    }

    fn empty(lang: Lang) -> Lexicon {
        Lexicon {
            lang,
            terms: Vec::new(),
            exact: WordMap::default(),
            phrases: WordMap::default(),
            stems: WordMap::default(),
            stemmer: stemmer_for(lang),
        }
    }

    pub(crate) fn term(&self, id: TermId) -> &Term {
        &self.terms[id as usize]
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.terms.len()
    }

    /// Every word form the lexicon knows exactly (for training the language detector).
    pub(crate) fn words(&self) -> impl Iterator<Item = String> + '_ {
        self.exact.words()
    }

    /// Whether `word` is a known form of this language (for language identification).
    pub(crate) fn knows(&self, word: &str) -> bool {
        self.exact.get(word).is_some_and(|e| e.term != NO_TERM)
    }

    /// Resolves one lower-cased word. `elongated` words are also tried with repeats squeezed.
    pub(crate) fn resolve(&self, word: &str, elongated: bool, memo: &mut StemMemo) -> Option<Resolved> {
        self.exact(word).resolved.or_else(|| self.resolve_inexact(word, elongated, memo))
    }

    /// The exact-form lookup alone: one hash probe that also says whether a phrase may start
    /// here, so the scorer needs a single probe for most words.
    pub(crate) fn exact(&self, word: &str) -> Exact {
        match self.exact.get(word) {
            Some(e) => Exact {
                resolved: (e.term != NO_TERM).then_some(Resolved { term: e.term, form: e.form }),
                starts_phrase: e.starts_phrase,
            },
            None => Exact { resolved: None, starts_phrase: false },
        }
    }

    /// The lookups after the exact form failed: squeezed repeats, then the stem.
    pub(crate) fn resolve_inexact(&self, word: &str, elongated: bool, memo: &mut StemMemo) -> Option<Resolved> {
        if elongated {
            for keep in [2, 1] {
                let squeezed = squeeze(word, keep);
                if let Some(e) = self.exact.get(squeezed.as_str()).filter(|e| e.term != NO_TERM) {
                    return Some(Resolved { term: e.term, form: Form::Squeezed });
                }
            }
            // "fireeee" is not an inflection of "fired": stem the squeezed word.
            return self.resolve_derived(&squeeze(word, 1), memo);
        }
        self.resolve_derived(word, memo)
    }

    /// The lexicon word `word` is a regular inflection of (Dutch and Swedish adjectives), or
    /// failing that its stem, memoized: this is the only costly lookup.
    fn resolve_derived(&self, word: &str, memo: &mut StemMemo) -> Option<Resolved> {
        if word.len() < MIN_STEM_WORD_CHARS || word.chars().count() < MIN_STEM_WORD_CHARS {
            return None;
        }
        if word.bytes().any(|b| b.is_ascii_digit()) {
            return None;
        }
        let memo = &mut memo.langs[self.lang.index()];
        if let Some(hit) = memo.get(word, StemMemo::CAPACITY) {
            return StemMemo::unpack(hit);
        }
        let found = self.derive(word);
        memo.insert(word, StemMemo::pack(found), StemMemo::CAPACITY);
        found
    }

    fn derive(&self, word: &str) -> Option<Resolved> {
        self.derive_by_rule(word).or_else(|| self.derive_by_stem(word)).or_else(|| self.derive_compound(word))
    }

    /// A Dutch or Swedish compound whose last part ("betaalstoring" → "storing") or first
    /// part ("klantenservicemedewerker" → "klantenservice") is one of the team's crisis
    /// terms. Parts are looked up among exact and inflected forms only, so
    /// "driftstörningen" finds "störningen" and through it "störning". Only crisis terms
    /// count as parts: the public lexicons' words hide inside unrelated compounds too often
    /// ("frank|rijk", rich; "slacht|offer" as "toffer", cooler; "ont|vangst" as "angst"), and
    /// measured on the dev split they cost more than they found.
    fn derive_compound(&self, word: &str) -> Option<Resolved> {
        let crisis_term = |w: &str, forms: &[Form]| {
            let e = self.exact.get(w).filter(|e| e.term != NO_TERM && forms.contains(&e.form))?;
            let term = &self.terms[e.term as usize];
            (term.role == Role::Plain && term.crisis.is_some()).then_some(e.term)
        };
        // A last part may be inflected ("störningen"); a first part is a term as listed
        // ("plat|teland" is countryside, not "platte", flat, down).
        let head = |w: &str| crisis_term(w, &[Form::Exact, Form::Inflected]);
        let modifier = |w: &str| crisis_term(w, &[Form::Exact]);
        let term = compound::split(self.lang, word, head, modifier)?;
        Some(Resolved { term, form: Form::Compound })
    }

    /// A regular inflection of a clearly polar lexicon word ("waardeloze" → "waardeloos").
    fn derive_by_rule(&self, word: &str) -> Option<Resolved> {
        let polar = |w: &str| {
            self.exact
                .get(w)
                .filter(|e| e.term != NO_TERM && self.terms[e.term as usize].valence.abs() >= MIN_DERIVED_VALENCE)
                .map(|e| e.term)
        };
        let term = morphology::base_forms(self.lang, word).iter().find_map(|b| polar(b))?;
        Some(Resolved { term, form: Form::Inflected })
    }

    fn derive_by_stem(&self, word: &str) -> Option<Resolved> {
        let candidates = self.stems.get(self.stemmer.stem(word).as_ref())?;
        let term = candidates.iter().copied().find(|&id| is_inflection_of(word, &self.terms[id as usize].text))?;
        Some(Resolved { term, form: Form::Stem })
    }

    /// The longest phrase starting with `first` whose following words are `next(0)`,
    /// `next(1)`, …; returns the phrase's term and how many words it spans.
    pub(crate) fn match_phrase<'t>(
        &self,
        first: &str,
        next: impl Fn(usize) -> Option<&'t str>,
    ) -> Option<(TermId, usize)> {
        let phrases = self.phrases.get(first)?;
        // Sorted by second word: frequent first words start many phrases (Polish "nie" over
        // a hundred), and only those with the right second word need a closer look.
        let second = next(0)?;
        let from = phrases.partition_point(|p| p.second() < second);
        let to = from + phrases[from..].partition_point(|p| p.second() == second);
        phrases[from..to]
            .iter()
            .filter(|p| p.rest.iter().enumerate().skip(1).all(|(i, w)| next(i) == Some(w.as_ref())))
            .max_by_key(|p| p.rest.len())
            .map(|p| (p.term, p.rest.len() + 1))
    }
}

/// Whether `word` can be an inflection of the lexicon word `lemma` they share a stem with.
/// Snowball stemmers also strip derivational affixes, and a derivation often means
/// something else: Dutch "lezen" (to read) and "gelezen" (well-read), "tijd" (time) and
/// "tijdig" (timely), "handen" (hands) and "handig" (handy), English "dark" and
/// "darkness". An inflection starts with the whole lemma ("prachtige" → "prachtig") and is
/// not shorter; a lemma of six letters or more may also change its last letter
/// ("disappointing" → "disappointed"). Short lemmas must match whole: Swedish "laget"
/// (the team) is not "lagen" (the law). Shape cannot tell every case ("körde", drove, does
/// start with "körd", screwed); the team's slang.tsv pins such words.
fn is_inflection_of(word: &str, lemma: &str) -> bool {
    let lemma_chars = lemma.chars().count();
    let word_chars = word.chars().count();
    let common = word.chars().zip(lemma.chars()).take_while(|(a, b)| a == b).count();
    let needed = if lemma_chars >= 6 { lemma_chars - 1 } else { lemma_chars };
    word_chars >= lemma_chars && common >= needed.max(3)
}

/// Collapses runs of a letter longer than `keep` to `keep` letters.
pub(crate) fn squeeze(word: &str, keep: usize) -> String {
    let mut out = String::with_capacity(word.len());
    let mut prev = '\0';
    let mut run = 0;
    for c in word.chars() {
        run = if c == prev { run + 1 } else { 1 };
        prev = c;
        if run <= keep {
            out.push(c);
        }
    }
    out
}

/// Remembers which stem lookups hit, per language. Stemming costs more than the rest of a
/// word's scoring; real posts repeat their words, so most stems are computed once.
#[derive(Debug, Default)]
pub(crate) struct StemMemo {
    langs: [Generations<u32>; 4],
}

impl StemMemo {
    /// Words remembered per language and generation.
    pub(crate) const CAPACITY: usize = 50_000;
    const BY_RULE: u32 = 1 << 31;
    const BY_COMPOUND: u32 = 1 << 30;

    /// Term ids stay far below 2^30 (a lexicon has tens of thousands of terms), so the top
    /// two bits say how the term was found.
    fn pack(found: Option<Resolved>) -> u32 {
        match found {
            None => NO_TERM,
            Some(Resolved { term, form: Form::Inflected }) => term | Self::BY_RULE,
            Some(Resolved { term, form: Form::Compound }) => term | Self::BY_COMPOUND,
            Some(Resolved { term, .. }) => term,
        }
    }

    fn unpack(v: u32) -> Option<Resolved> {
        match v {
            NO_TERM => None,
            v if v & Self::BY_RULE != 0 => Some(Resolved { term: v & !Self::BY_RULE, form: Form::Inflected }),
            v if v & Self::BY_COMPOUND != 0 => Some(Resolved { term: v & !Self::BY_COMPOUND, form: Form::Compound }),
            term => Some(Resolved { term, form: Form::Stem }),
        }
    }
}

struct Builder {
    lang: Lang,
    lex: Lexicon,
    /// Every term by its text, phrases included, so a term listed in several files is one term.
    ids: FxHashMap<Box<str>, TermId>,
}

impl Builder {
    fn err(&self, file: &str, line: usize, problem: impl Into<String>) -> LexiconError {
        LexiconError { file: format!("{}/{}", self.lang.code(), file), line, problem: problem.into() }
    }

    /// The term for `text`, created if new. Phrases are registered under their first word.
    fn term_mut(&mut self, text: &str) -> &mut Term {
        let id = match self.ids.get(text) {
            Some(&id) => id,
            None => self.add_term(text),
        };
        &mut self.lex.terms[id as usize]
    }

    fn add_term(&mut self, text: &str) -> TermId {
        let id = self.lex.terms.len() as TermId;
        self.lex.terms.push(Term::new(text));
        self.ids.insert(text.into(), id);
        let mut words = text.split(' ');
        let first = words.next().unwrap_or(text);
        let rest: Box<[Box<str>]> = words.map(Into::into).collect();
        if rest.is_empty() {
            let slot = self.lex.exact.get_or_insert_with(text, || Entry {
                term: NO_TERM,
                form: Form::Exact,
                starts_phrase: false,
            });
            slot.term = id;
            slot.form = Form::Exact;
        } else {
            let phrase = Phrase { rest, term: id };
            let list = self.lex.phrases.get_or_insert_with(first, Vec::new);
            let at = list.partition_point(|p| p.second() <= phrase.second());
            list.insert(at, phrase);
            self.lex
                .exact
                .get_or_insert_with(first, || Entry { term: NO_TERM, form: Form::Exact, starts_phrase: false })
                .starts_phrase = true;
        }
        id
    }

    fn term_text<'a>(&self, file: &str, line: usize, raw: &'a str) -> Result<&'a str, LexiconError> {
        let words = raw.split(' ').count();
        if raw.is_empty() || raw != raw.trim() || raw.contains("  ") {
            return Err(self.err(file, line, format!("bad term {raw:?}: words are separated by single spaces")));
        }
        if words > 4 {
            return Err(self.err(file, line, format!("phrase {raw:?} has {words} words; at most 4 are matched")));
        }
        if raw.chars().any(char::is_uppercase) {
            return Err(self.err(file, line, format!("term {raw:?} must be lower-case")));
        }
        Ok(raw)
    }

    fn number(
        &self,
        file: &str,
        line: usize,
        raw: Option<&&str>,
        range: std::ops::RangeInclusive<f32>,
    ) -> Result<f32, LexiconError> {
        let raw = raw.ok_or_else(|| self.err(file, line, "missing number column"))?;
        let v: f32 = raw.parse().map_err(|_| self.err(file, line, format!("{raw:?} is not a number")))?;
        if !range.contains(&v) {
            return Err(self.err(file, line, format!("{v} is outside {}..={}", range.start(), range.end())));
        }
        Ok(v)
    }

    fn valences(&mut self, file: &str, src: &str) -> Result<(), LexiconError> {
        for (line, cols) in data_lines(src) {
            let text = self.term_text(file, line, cols[0])?;
            let v = self.number(file, line, cols.get(1), -4.0..=4.0)?;
            self.term_mut(text).valence = v;
        }
        Ok(())
    }

    fn crisis(&mut self, src: &str) -> Result<(), LexiconError> {
        const FILE: &str = "crisis.tsv";
        for (line, cols) in data_lines(src) {
            let text = self.term_text(FILE, line, cols[0])?;
            let cat_raw = cols.get(1).ok_or_else(|| self.err(FILE, line, "missing category column"))?;
            let category: CrisisCategory = cat_raw.parse().map_err(|e: String| self.err(FILE, line, e))?;
            let weight = self.number(FILE, line, cols.get(2), 0.0..=4.0)?;
            self.term_mut(text).crisis = Some((category, weight));
        }
        Ok(())
    }

    fn complaint(&mut self, src: &str) -> Result<(), LexiconError> {
        const FILE: &str = "complaint.tsv";
        for (line, cols) in data_lines(src) {
            let text = self.term_text(FILE, line, cols[0])?;
            let family = cols.get(1).ok_or_else(|| self.err(FILE, line, "missing family column"))?;
            let cue = Cue::parse(family, cols.get(2).copied()).map_err(|e| self.err(FILE, line, e))?;
            let (valence, crisis) = self.inherited_meaning(text);
            let term = self.term_mut(text);
            term.cue = Some(cue);
            // A cue becomes an exact term, which would hide what its words meant: an evidence
            // phrase ("nice one", "tack för") keeps the sum of its words' valences, and a cue
            // word that was an inflected form ("pomógł", helped) keeps its lemma's meaning.
            if term.valence == 0.0 && term.crisis.is_none() && term.role == Role::Plain {
                term.valence = valence;
                term.crisis = crisis;
            }
        }
        Ok(())
    }

    /// What `text` meant before it became a cue: a word found as an inflected form means its
    /// lemma; a phrase the summed valence of its words.
    fn inherited_meaning(&self, text: &str) -> (f32, Option<(CrisisCategory, f32)>) {
        if !text.contains(' ') {
            return match self.lex.exact.get(text) {
                Some(e) if e.term != NO_TERM && e.form == Form::Inflected => {
                    let lemma = &self.lex.terms[e.term as usize];
                    (lemma.valence, lemma.crisis)
                }
                _ => (0.0, None),
            };
        }
        (self.phrase_valence(text), None)
    }

    /// The summed valence of a phrase's words, or 0 when one of them is a negator, an
    /// intensifier or a contrast word (the phrase's meaning is then not the sum).
    fn phrase_valence(&self, text: &str) -> f32 {
        let mut sum = 0.0;
        for word in text.split(' ') {
            let Some(e) = self.lex.exact.get(word).filter(|e| e.term != NO_TERM) else { continue };
            let t = &self.lex.terms[e.term as usize];
            if t.role != Role::Plain {
                return 0.0;
            }
            sum += t.valence;
        }
        sum.clamp(-4.0, 4.0)
    }

    fn negators(&mut self, src: &str) -> Result<(), LexiconError> {
        const FILE: &str = "negators.tsv";
        for (line, cols) in data_lines(src) {
            let text = self.term_text(FILE, line, cols[0])?;
            let scope = match cols.get(1).copied().unwrap_or("before") {
                "before" => NegationScope::Before,
                "both" => NegationScope::Both,
                other => return Err(self.err(FILE, line, format!("scope {other:?}: expected before or both"))),
            };
            let term = self.term_mut(text);
            term.role = Role::Negator(scope);
            term.valence = 0.0;
        }
        Ok(())
    }

    fn intensifiers(&mut self, src: &str) -> Result<(), LexiconError> {
        const FILE: &str = "intensifiers.tsv";
        for (line, cols) in data_lines(src) {
            let text = self.term_text(FILE, line, cols[0])?;
            let delta = self.number(FILE, line, cols.get(1), -1.0..=1.0)?;
            let term = self.term_mut(text);
            term.role = Role::Intensifier(delta);
            term.valence = 0.0;
        }
        Ok(())
    }

    fn contrast(&mut self, src: &str) -> Result<(), LexiconError> {
        for (line, cols) in data_lines(src) {
            let text = self.term_text("contrast.txt", line, cols[0])?;
            let term = self.term_mut(text);
            term.role = Role::Contrast;
            term.valence = 0.0;
        }
        Ok(())
    }

    /// Function words ("naar", "lub", "typ") carry no sentiment of their own, whatever a
    /// public lexicon says: Pattern scores Dutch "naar" as "nasty" where posts nearly always
    /// mean "to", polvader scores "nie" -1.7. They also must resolve as themselves: an
    /// inflected-form table or a stemmer must not turn them into something else (polvader
    /// lists "lub", "or", as a form of "lubić", "to like"). Only the team's `slang.tsv`,
    /// loaded after this, can give one a valence.
    fn function_words(&mut self, src: &str) -> Result<(), LexiconError> {
        for (line, cols) in data_lines(src) {
            let text = self.term_text("stopwords.txt", line, cols[0])?;
            self.term_mut(text).valence = 0.0;
        }
        Ok(())
    }

    /// Everyday words resolve exactly or by the explicit inflection rules ("mooie" as
    /// "mooi"), never by the stemmer: frequent words are the likeliest homographs ("zaraz",
    /// soon, is not "zaraza", plague). Resolved once here and stored as exact forms, so the
    /// words posts use most never reach the memoized stem lookup.
    fn frequent_words(&mut self, src: &str) -> Result<(), LexiconError> {
        for (line, cols) in data_lines(src) {
            let text = self.term_text("common.txt", line, cols[0])?;
            if self.lex.exact.get(text).is_some_and(|e| e.term != NO_TERM) || text.contains(' ') {
                continue;
            }
            match self.lex.derive_by_rule(text) {
                Some(r) => {
                    let e = self.lex.exact.get_or_insert_with(text, || Entry {
                        term: NO_TERM,
                        form: r.form,
                        starts_phrase: false,
                    });
                    e.term = r.term;
                    e.form = r.form;
                }
                None => {
                    self.term_mut(text);
                }
            }
        }
        Ok(())
    }

    fn inflected(&mut self, file: &str, src: &str) -> Result<(), LexiconError> {
        for (line, cols) in data_lines(src) {
            let (form, lemma) = match cols.as_slice() {
                [form, lemma, ..] => (*form, *lemma),
                _ => return Err(self.err(file, line, "expected form<TAB>lemma<TAB>polarity")),
            };
            let negated = match cols.get(2).copied().unwrap_or("+") {
                "+" => false,
                "-" => true,
                other => return Err(self.err(file, line, format!("polarity {other:?}: expected + or -"))),
            };
            let Some(&term) = self.ids.get(lemma) else {
                return Err(self.err(file, line, format!("lemma {lemma:?} is not in the lexicon")));
            };
            let form_kind = if negated { Form::InflectedNegated } else { Form::Inflected };
            // An exact entry (a lemma or a team word) always wins over an inflected form.
            let slot = self.lex.exact.get_or_insert_with(form, || Entry {
                term: NO_TERM,
                form: form_kind,
                starts_phrase: false,
            });
            if slot.term == NO_TERM {
                slot.term = term;
                slot.form = form_kind;
            }
        }
        Ok(())
    }

    /// Maps the stem of every single-word scoring term to the terms with that stem; the one
    /// that *is* the stem first, then in file order.
    fn stems(&mut self) {
        let lex = &mut self.lex;
        for (id, term) in lex.terms.iter().enumerate() {
            if !term.matters() || term.text.contains(' ') || term.text.starts_with('#') {
                continue;
            }
            if term.text.chars().count() < MIN_STEM_WORD_CHARS {
                continue;
            }
            let stem = lex.stemmer.stem(&term.text);
            let candidates = lex.stems.get_or_insert_with(stem.as_ref(), Vec::new);
            if stem.as_ref() == term.text.as_ref() {
                candidates.insert(0, id as TermId);
            } else {
                candidates.push(id as TermId);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentiment::cue::CueFamily;

    fn tiny() -> Lexicon {
        Lexicon::load(
            Lang::Pl,
            &LexiconSources {
                sentiment: "# comment\natrakcyjny\t2.4\nzły\t-2.5\nlubić\t2.9\n",
                inflected: &[(
                    "inflected.tsv",
                    "atrakcyjna\tatrakcyjny\t+\nnieatrakcyjna\tatrakcyjny\t-\nzły\tzły\t+\nlub\tlubić\t+\n",
                )],
                slang: "zły\t-3\nmasakra\t-2.5\n",
                negators: "nie\tbefore\n",
                intensifiers: "bardzo\t0.293\n",
                contrast: "ale\n",
                crisis: "awaria\toutage\t2\nnie działa\toutage\t2.5\n#bojkot\tboycott\t2\n",
                complaint: "wciąż\tstill\t-\nzwrot\trefund\tservice\n",
                stopwords: "lub\n",
                common: "",
            },
        )
        .unwrap()
    }

    #[test]
    fn complaint_cues_load_and_only_complaints_score() {
        let lex = tiny();
        let mut memo = StemMemo::default();
        let still = lex.term(lex.resolve("wciąż", false, &mut memo).unwrap().term);
        assert_eq!(still.cue.map(|c| c.family), Some(CueFamily::Still));
        assert!(!still.scores(), "evidence alone moves no score");
        let refund = lex.term(lex.resolve("zwrot", false, &mut memo).unwrap().term);
        assert!(refund.scores());
        assert_eq!(refund.cue.and_then(|c| c.category), Some(CrisisCategory::Service));
        let err = Lexicon::load(Lang::Nl, &LexiconSources { complaint: "nog steeds\tstil\t-\n", ..Default::default() })
            .unwrap_err();
        assert_eq!((err.file.as_str(), err.line), ("nl/complaint.tsv", 1), "{err}");
    }

    #[test]
    fn exact_forms_win_and_team_slang_overrides_the_public_lexicon() {
        let lex = tiny();
        let mut memo = StemMemo::default();
        let r = lex.resolve("zły", false, &mut memo).unwrap();
        assert_eq!(r.form, Form::Exact);
        assert_eq!(lex.term(r.term).valence, -3.0);
    }

    #[test]
    fn inflected_forms_resolve_to_their_lemma_and_nie_forms_are_negated() {
        let lex = tiny();
        let mut memo = StemMemo::default();
        let r = lex.resolve("atrakcyjna", false, &mut memo).unwrap();
        assert_eq!((lex.term(r.term).text.as_ref(), r.form), ("atrakcyjny", Form::Inflected));
        let r = lex.resolve("nieatrakcyjna", false, &mut memo).unwrap();
        assert_eq!(r.form, Form::InflectedNegated);
    }

    #[test]
    fn frequent_words_are_never_read_as_inflected_forms() {
        let lex = tiny();
        let mut memo = StemMemo::default();
        let r = lex.resolve("lub", false, &mut memo).unwrap();
        assert_eq!((lex.term(r.term).text.as_ref(), r.form), ("lub", Form::Exact));
        assert!(!lex.term(r.term).scores());
    }

    #[test]
    fn phrases_and_hashtags_are_terms() {
        let lex = tiny();
        assert!(lex.exact("nie").starts_phrase);
        let words = ["działa", "dziś"];
        let (id, len) = lex.match_phrase("nie", |i| words.get(i).copied()).unwrap();
        assert_eq!((lex.term(id).text.as_ref(), len), ("nie działa", 2));
        assert!(lex.match_phrase("nie", |_| Some("wiem")).is_none());
        let mut memo = StemMemo::default();
        assert!(lex.resolve("#bojkot", false, &mut memo).is_some());
        // "nie" is still a negator on its own.
        let r = lex.resolve("nie", false, &mut memo).unwrap();
        assert_eq!(lex.term(r.term).role, Role::Negator(NegationScope::Before));
    }

    #[test]
    fn elongated_words_are_squeezed() {
        assert_eq!(squeeze("gooood", 2), "good");
        assert_eq!(squeeze("sooo", 1), "so");
        let lex = tiny();
        let mut memo = StemMemo::default();
        assert_eq!(lex.resolve("masakraaaa", true, &mut memo).map(|r| r.form), Some(Form::Squeezed));
    }

    #[test]
    fn errors_name_the_file_line_and_problem() {
        let err = Lexicon::load(Lang::Nl, &LexiconSources { crisis: "storing\toutages\t2\n", ..Default::default() })
            .unwrap_err();
        assert_eq!((err.file.as_str(), err.line), ("nl/crisis.tsv", 1));
        assert!(err.problem.contains("outages"), "{err}");
        let err =
            Lexicon::load(Lang::Nl, &LexiconSources { sentiment: "goed\t9\n", ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
        let err = Lexicon::load(Lang::Nl, &LexiconSources { slang: "Goed\t1\n", ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("lower-case"), "{err}");
    }

    #[test]
    fn a_malformed_inflected_table_names_its_file_and_line() {
        let src = |inflected| LexiconSources { sentiment: "goed\t2\n", inflected, ..Default::default() };
        let err = Lexicon::load(Lang::Nl, &src(&[("inflected.tsv", "# header\ngoede\tgoed\t+\nbeter\n")])).unwrap_err();
        assert_eq!((err.file.as_str(), err.line), ("nl/inflected.tsv", 3), "{err}");
        let err =
            Lexicon::load(Lang::Nl, &src(&[("inflected.tsv", ""), ("extra.tsv", "goede\tgoed\t*\n")])).unwrap_err();
        assert_eq!((err.file.as_str(), err.line), ("nl/extra.tsv", 1), "{err}");
        assert!(err.problem.contains("polarity"), "{err}");
        let err = Lexicon::load(Lang::Nl, &src(&[("inflected.tsv", "mooie\tmooi\t+\n")])).unwrap_err();
        assert!(err.problem.contains("not in the lexicon"), "{err}");
    }

    fn resolve_builtin(lang: Lang, word: &str) -> Option<(String, Form, Option<CrisisCategory>)> {
        let lex = Lexicon::builtin(lang).unwrap();
        let r = lex.resolve(word, false, &mut StemMemo::default())?;
        let term = lex.term(r.term);
        Some((term.text.to_string(), r.form, term.crisis.map(|(c, _)| c)))
    }

    #[test]
    fn swedish_definite_and_plural_forms_find_their_lemma() {
        // No Swedish table ships (LGPL-3, lexicons/SOURCES.md): the stemmer finds them.
        let found = |w| resolve_builtin(Lang::Sv, w).map(|(lemma, _, category)| (lemma, category));
        assert_eq!(found("störningarna"), Some(("störning".into(), Some(CrisisCategory::Outage))));
        assert_eq!(found("kundtjänstens"), Some(("kundtjänst".into(), Some(CrisisCategory::Service))));
    }

    #[test]
    fn polish_case_forms_of_crisis_terms_keep_their_category() {
        // polvader has no crisis lemmas; SGJP gives "wyciek" (leak) its instrumental.
        assert_eq!(
            resolve_builtin(Lang::Pl, "wyciekiem"),
            Some(("wyciek".into(), Form::Inflected, Some(CrisisCategory::PrivacyFraud)))
        );
        let scorer = crate::sentiment::Scorer::builtin().unwrap();
        let mut a = crate::sentiment::Analysis::default();
        scorer.analyze("Znowu włamaniem na konta klientów się skończyło", Some(Lang::Pl), &mut a);
        assert_eq!(a.categories().collect::<Vec<_>>(), [CrisisCategory::PrivacyFraud]);
    }

    #[test]
    fn dutch_and_swedish_compounds_find_their_crisis_part() {
        assert_eq!(
            resolve_builtin(Lang::Sv, "nätverksstörningen"),
            Some(("störningen".into(), Form::Compound, Some(CrisisCategory::Outage)))
        );
        assert_eq!(
            resolve_builtin(Lang::Nl, "klantenservicemedewerker"),
            Some(("klantenservice".into(), Form::Compound, Some(CrisisCategory::Service)))
        );
        // The memo gives the same answer the second time.
        let lex = Lexicon::builtin(Lang::Nl).unwrap();
        let mut memo = StemMemo::default();
        let first = lex.resolve("klantenservicemedewerker", false, &mut memo);
        assert_eq!(lex.resolve("klantenservicemedewerker", false, &mut memo), first);
    }

    #[test]
    fn short_or_denying_compound_parts_do_not_split() {
        // "down" is a crisis term, but "lockdown" is no outage; "plat" is, "platteland" not.
        assert_ne!(resolve_builtin(Lang::Nl, "lockdown").map(|r| r.1), Some(Form::Compound));
        assert_ne!(resolve_builtin(Lang::Nl, "platteland").map(|r| r.1), Some(Form::Compound));
        assert_eq!(resolve_builtin(Lang::Nl, "storingsvrij"), None);
    }

    #[test]
    fn stems_only_match_inflections_not_derivations() {
        assert!(is_inflection_of("prachtige", "prachtig"));
        assert!(is_inflection_of("disappointingly", "disappoint"));
        assert!(!is_inflection_of("laget", "lagen"));
        assert!(!is_inflection_of("lezen", "gelezen"));
        assert!(!is_inflection_of("tijd", "tijdig"));
        assert!(!is_inflection_of("dark", "darkness"));
        assert!(!is_inflection_of("handen", "handig"));
        assert!(!is_inflection_of("jaren", "jarig"));
    }

    #[test]
    fn every_builtin_lexicon_loads() {
        for lang in Lang::ALL {
            let lex = Lexicon::builtin(lang).unwrap_or_else(|e| panic!("{e}"));
            assert!(lex.len() > 1000, "{lang}: {} terms", lex.len());
        }
    }

    #[test]
    fn stems_reach_unlisted_inflections() {
        let lex = Lexicon::builtin(Lang::En).unwrap();
        let mut memo = StemMemo::default();
        // VADER lists "disappoint" forms but not every one; the stem finds the rest.
        let r = lex.resolve("disappointingly", false, &mut memo);
        assert!(r.is_some_and(|r| lex.term(r.term).valence < 0.0), "{r:?}");
    }
}
