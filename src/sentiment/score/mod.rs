//! Scores one text: tokenize, pick the language, resolve words against its lexicon, apply the
//! rules, and keep every step that moved the score so a user can see *why*.
//!
//! `Scorer` is immutable and shared (`&Scorer` across threads); `Analysis` is the caller's
//! reusable scratch space and result. Scoring a text allocates nothing once the scratch
//! has grown to fit, which is what makes hundreds of thousands of posts per second on one
//! core possible.
//!
//! ```
//! use stormwatch::model::{Lang, Label};
//! use stormwatch::sentiment::{Analysis, Scorer};
//!
//! let scorer = Scorer::builtin().unwrap();
//! let mut a = Analysis::default();
//! scorer.analyze("De app werkt niet, storing bij Kroon Bank!!", Some(Lang::Nl), &mut a);
//! assert_eq!(a.label(), Label::Neg);
//! assert!(a.hits().any(|h| h.term == "storing"));
//! ```

use std::ops::Range;

use crate::model::{CrisisCategory, Label, Lang, Sentiment, TermScore};

mod complaint;

use super::lang::{LanguageDetector, SpellMemo};
use super::lexicon::{Form, Lexicon, LexiconError, NegationScope, Resolved, Role, StemMemo};
use super::rules::{self, Rules};
use super::signs::SignLexicon;
use super::tokenize::{self, flag, TokenKind, Tokens};

/// Compound scores at or above `pos` are positive, at or below `neg` negative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelThresholds {
    pos: f32,
    neg: f32,
}

/// Label thresholds out of order or out of range.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("label thresholds must satisfy -1 <= neg <= 0 <= pos <= 1, got neg={neg}, pos={pos}")]
pub struct ThresholdError {
    pub neg: f32,
    pub pos: f32,
}

impl LabelThresholds {
    /// Negative at the first clear sign (VADER's -0.05), positive only when clearly so
    /// (0.3, not VADER's 0.05): lexicons lean positive on neutral posts (the Pollyanna
    /// effect), and a crisis tool should not hide a complaint behind a polite word. Chosen on
    /// the dev split: best mean macro-F1 over the seven evaluation sets (docs/sentiment.md).
    pub const DEFAULT: LabelThresholds = LabelThresholds { pos: 0.3, neg: -0.05 };

    pub fn new(neg: f32, pos: f32) -> Result<LabelThresholds, ThresholdError> {
        if !(-1.0..=0.0).contains(&neg) || !(0.0..=1.0).contains(&pos) || neg > pos {
            return Err(ThresholdError { neg, pos });
        }
        Ok(LabelThresholds { pos, neg })
    }

    pub const fn pos(&self) -> f32 {
        self.pos
    }

    pub const fn neg(&self) -> f32 {
        self.neg
    }

    pub fn label(&self, compound: f32) -> Label {
        if compound >= self.pos && compound > 0.0 {
            Label::Pos
        } else if compound <= self.neg && compound < 0.0 {
            Label::Neg
        } else {
            Label::Neu
        }
    }
}

impl Default for LabelThresholds {
    fn default() -> Self {
        LabelThresholds::DEFAULT
    }
}

/// How the language of an analysis was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LangSource {
    Given,
    Detected,
    /// No words to tell by; only emoji and emoticons were scored.
    Unknown,
}

/// The sentiment scorer for nl, sv, pl and en.
#[derive(Debug, Clone)]
pub struct Scorer {
    lexicons: [&'static Lexicon; 4],
    signs: &'static SignLexicon,
    thresholds: LabelThresholds,
}

impl Scorer {
    /// The scorer with the lexicons compiled into the binary (all four loaded).
    pub fn builtin() -> Result<Scorer, LexiconError> {
        let lexicons = [
            Lexicon::builtin(Lang::En)?,
            Lexicon::builtin(Lang::Nl)?,
            Lexicon::builtin(Lang::Sv)?,
            Lexicon::builtin(Lang::Pl)?,
        ];
        Ok(Scorer { lexicons, signs: SignLexicon::builtin()?, thresholds: LabelThresholds::DEFAULT })
    }

    pub fn with_thresholds(mut self, thresholds: LabelThresholds) -> Scorer {
        self.thresholds = thresholds;
        self
    }

    /// The language detector, built on first use (training its character model takes a
    /// moment that callers who always know the language should not pay).
    pub(crate) fn detector(&self) -> Result<&'static LanguageDetector, LexiconError> {
        LanguageDetector::builtin()
    }

    /// Scores `text` into `out`. `lang` is the language a feed declared; without it the
    /// language is detected.
    pub fn analyze(&self, text: &str, lang: Option<Lang>, out: &mut Analysis) {
        out.reset();
        tokenize::tokenize(text, self.signs, &mut out.tokens);
        let (lang, source) = match lang {
            Some(l) => (Some(l), LangSource::Given),
            None => match self.detector().ok().and_then(|d| d.detect_tokens_with(&out.tokens, &mut out.spell_memo)) {
                Some(l) => (Some(l), LangSource::Detected),
                None => (None, LangSource::Unknown),
            },
        };
        out.lang = lang;
        out.lang_source = source;
        out.lexicon = lang.map(|l| self.lexicons[l.index()]);
        out.resolve(self.signs);
        out.score();
        out.read_complaints(self.signs);
        out.emphasize();
        out.compound = rules::normalize(out.sum);
        out.label = self.thresholds.label(out.compound);
    }

    /// Scores `text` and returns an owned result, for callers that keep it.
    pub fn score(&self, text: &str, lang: Option<Lang>) -> Sentiment {
        let mut a = Analysis::default();
        self.analyze(text, lang, &mut a);
        a.to_sentiment()
    }
}

/// A resolved stretch of tokens: what the rules walk over.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Boundary {
        sentence: bool,
    },
    /// A word or phrase; `found` is `None` for words no lexicon knows (they still count for
    /// the distance of negators and intensifiers). `role` and `scores` are copied from the
    /// term once, so the rules' look-backs never touch the lexicon again.
    Word {
        token: u32,
        len: u8,
        flags: u8,
        found: Option<Resolved>,
        role: Role,
        scores: bool,
    },
    Sign {
        token: u32,
        valence: f32,
    },
}

/// What an explained item refers to.
#[derive(Debug, Clone)]
enum HitSource {
    /// Token range in `Tokens::text`, and the lexicon term if it differs from the text.
    Word {
        text: Range<u32>,
        term: Option<super::lexicon::TermId>,
    },
    /// A phrase: its lexicon term.
    Phrase(super::lexicon::TermId),
    Sign {
        text: Range<u32>,
    },
}

#[derive(Debug, Clone)]
struct Hit {
    source: HitSource,
    base: f32,
    score: f32,
    rules: Rules,
    /// The category the item points at, and how strongly (its crisis weight).
    category: Option<(CrisisCategory, f32)>,
    /// The complaint family or construction it was read as.
    complaint: Option<&'static str>,
}

/// One item that moved the score, explained.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained<'a> {
    /// The text as it appeared (lower-cased), or the phrase.
    pub term: &'a str,
    /// The lexicon entry it was found as, when that differs ("awarii" → "awaria").
    pub lemma: Option<&'a str>,
    /// The lexicon valence before the rules.
    pub base: f32,
    /// The contribution to the sum after the rules.
    pub score: f32,
    pub rules: Rules,
    pub category: Option<CrisisCategory>,
    /// The complaint family or construction ("waiting", "still not", "harm") it was read as.
    pub complaint: Option<&'static str>,
}

/// How strongly a complaint cue points at its category, next to crisis weights of 1 (a topic
/// word) to 3 (unambiguous).
const COMPLAINT_CATEGORY_WEIGHT: f32 = 1.5;

/// At most this many items are kept for the explanation; all of them count in the score.
const MAX_HITS: usize = 256;

/// Scratch space and result of one analysis; reuse it across texts.
#[derive(Debug)]
pub struct Analysis {
    tokens: Tokens,
    slots: Vec<Slot>,
    weights: Vec<f32>,
    hits: Vec<Hit>,
    memo: StemMemo,
    spell_memo: SpellMemo,
    lexicon: Option<&'static Lexicon>,
    lang: Option<Lang>,
    lang_source: LangSource,
    /// Evidence per crisis category (summed weights of the items pointing at it).
    categories: [f32; 7],
    sum: f32,
    emphasis: f32,
    compound: f32,
    label: Label,
}

impl Default for Analysis {
    fn default() -> Self {
        Analysis {
            tokens: Tokens::default(),
            slots: Vec::new(),
            weights: Vec::new(),
            hits: Vec::new(),
            memo: StemMemo::default(),
            spell_memo: SpellMemo::default(),
            lexicon: None,
            lang: None,
            lang_source: LangSource::Unknown,
            categories: [0.0; 7],
            sum: 0.0,
            emphasis: 0.0,
            compound: 0.0,
            label: Label::Neu,
        }
    }
}

impl Analysis {
    pub fn lang(&self) -> Option<Lang> {
        self.lang
    }

    pub fn lang_source(&self) -> LangSource {
        self.lang_source
    }

    pub fn compound(&self) -> f32 {
        self.compound
    }

    pub fn label(&self) -> Label {
        self.label
    }

    /// The emphasis `!` and `?` added to the sum.
    pub fn punctuation_emphasis(&self) -> f32 {
        self.emphasis
    }

    /// The text was longer than the scorer looks at (see `tokenize::MAX_TOKENS`).
    pub fn truncated(&self) -> bool {
        self.tokens.truncated
    }

    /// Crisis categories hit by items that were not negated, the best supported first (ties
    /// in a fixed order).
    pub fn categories(&self) -> impl Iterator<Item = CrisisCategory> + '_ {
        let mut ranked = CrisisCategory::ALL;
        // Stable: equal evidence keeps the fixed order.
        ranked.sort_by(|a, b| self.categories[*b as usize].total_cmp(&self.categories[*a as usize]));
        ranked.into_iter().filter(|c| self.categories[*c as usize] > 0.0)
    }

    /// Every item that moved the score, in text order.
    pub fn hits(&self) -> impl Iterator<Item = Explained<'_>> + '_ {
        self.hits.iter().map(move |h| {
            let text_of = |r: &Range<u32>| &self.tokens.text[r.start as usize..r.end as usize];
            let term_text = |id| self.lexicon.map(|l| l.term(id).text.as_ref()).unwrap_or("");
            let (term, lemma) = match &h.source {
                HitSource::Word { text, term } => (text_of(text), term.map(term_text)),
                HitSource::Phrase(id) => (term_text(*id), None),
                HitSource::Sign { text } => (text_of(text), None),
            };
            Explained {
                term,
                lemma,
                base: h.base,
                score: h.score,
                rules: h.rules,
                category: h.category.map(|(c, _)| c),
                complaint: h.complaint,
            }
        })
    }

    pub fn to_sentiment(&self) -> Sentiment {
        Sentiment {
            lang: self.lang,
            label: self.label,
            compound: self.compound,
            terms: self.hits().map(|h| TermScore { term: h.term.to_string(), score: h.score }).collect(),
            categories: self.categories().collect(),
        }
    }

    fn reset(&mut self) {
        self.slots.clear();
        self.weights.clear();
        self.hits.clear();
        self.lexicon = None;
        self.lang = None;
        self.categories = [0.0; 7];
        self.sum = 0.0;
        self.emphasis = 0.0;
        self.compound = 0.0;
        self.label = Label::Neu;
    }

    /// Turns tokens into slots: phrases first (so "nie działa" is one crisis term, not a
    /// negator and a verb), then single words, hashtags, emoji and emoticons.
    fn resolve(&mut self, signs: &SignLexicon) {
        let toks = &self.tokens.tokens;
        let text = &self.tokens.text;
        let mut i = 0;
        while i < toks.len() {
            let t = toks[i];
            let word = &text[t.range()];
            match t.kind {
                TokenKind::SentenceEnd | TokenKind::ClauseEnd => {
                    self.slots.push(Slot::Boundary { sentence: t.kind == TokenKind::SentenceEnd });
                }
                TokenKind::Emoji => {
                    if let Some(v) = word.chars().next().and_then(|c| signs.emoji(c)) {
                        self.slots.push(Slot::Sign { token: i as u32, valence: v });
                    }
                }
                TokenKind::Emoticon => {
                    if let Some(v) = signs.emoticon(word) {
                        self.slots.push(Slot::Sign { token: i as u32, valence: v });
                    }
                }
                TokenKind::Hashtag => {
                    // A hashtag is a statement of its own: no negator or intensifier before
                    // it reaches into it ("I wasn't strong anymore #sad").
                    if !matches!(self.slots.last(), None | Some(Slot::Boundary { .. })) {
                        self.slots.push(Slot::Boundary { sentence: false });
                    }
                    // A hashtag in the lexicon ("#boycott") stands for itself; its split
                    // words would count it twice.
                    let found = self.lexicon.and_then(|l| l.resolve(word, false, &mut self.memo));
                    if let Some(r) = found.filter(|r| r.form == Form::Exact) {
                        self.slots.push(word_slot(self.lexicon, i, 1, t.flags, Some(r)));
                        i += 1;
                        while i < toks.len() && toks[i].has(flag::FROM_HASHTAG) {
                            i += 1;
                        }
                        continue;
                    }
                }
                TokenKind::Word => {
                    let Some(lex) = self.lexicon else {
                        self.slots.push(word_slot(self.lexicon, i, 1, t.flags, None));
                        i += 1;
                        continue;
                    };
                    let exact = lex.exact(word);
                    if exact.starts_phrase {
                        let next = |k: usize| {
                            toks.get(i + 1 + k).filter(|n| n.kind == TokenKind::Word).map(|n| &text[n.range()])
                        };
                        if let Some((term, len)) = lex.match_phrase(word, next) {
                            let found = Some(Resolved { term, form: Form::Exact });
                            self.slots.push(word_slot(self.lexicon, i, len, t.flags, found));
                            i += len;
                            continue;
                        }
                    }
                    let found =
                        exact.resolved.or_else(|| lex.resolve_inexact(word, t.has(flag::ELONGATED), &mut self.memo));
                    self.slots.push(word_slot(self.lexicon, i, 1, t.flags, found));
                }
            }
            i += 1;
        }
    }

    fn role_at(&self, j: usize) -> Option<Role> {
        match self.slots[j] {
            Slot::Word { found: Some(_), role, .. } => Some(role),
            _ => None,
        }
    }

    /// Whether slot `j` is a word that carries sentiment of its own.
    fn scores_at(&self, j: usize) -> bool {
        matches!(self.slots.get(j), Some(Slot::Word { role: Role::Plain, scores: true, .. }))
    }

    fn weight(&self, i: usize) -> f32 {
        self.weights.get(i).copied().unwrap_or(1.0)
    }

    /// Per-slot contrast weight: within a sentence with a contrast word, items before it
    /// weigh `BEFORE_CONTRAST`, after it `AFTER_CONTRAST`.
    /// Per-slot contrast weights: within a sentence with a contrast word, items before it
    /// weigh `BEFORE_CONTRAST`, after it `AFTER_CONTRAST`.
    fn contrast_weights(&mut self) {
        self.weights.clear();
        // Most texts have no contrast word: then every weight is 1 and none is stored.
        if !self.slots.iter().any(|s| matches!(s, Slot::Word { role: Role::Contrast, .. })) {
            return;
        }
        self.weights.resize(self.slots.len(), 1.0);
        let mut start = 0;
        for end in 0..=self.slots.len() {
            let sentence_ends = end == self.slots.len() || matches!(self.slots[end], Slot::Boundary { sentence: true });
            if !sentence_ends {
                continue;
            }
            if let Some(c) = (start..end).find(|&j| self.role_at(j) == Some(Role::Contrast)) {
                for j in start..end {
                    self.weights[j] = match j.cmp(&c) {
                        std::cmp::Ordering::Less => rules::BEFORE_CONTRAST,
                        std::cmp::Ordering::Greater => rules::AFTER_CONTRAST,
                        std::cmp::Ordering::Equal => 1.0,
                    };
                }
            }
            start = end + 1;
        }
    }

    fn score(&mut self) {
        self.contrast_weights();
        let caps_matter = self.tokens.caps_contrast();
        for i in 0..self.slots.len() {
            let hit = match self.slots[i] {
                Slot::Boundary { .. } | Slot::Word { found: None, .. } => continue,
                Slot::Sign { token, valence } => {
                    let mut rules = Rules::default();
                    let w = self.weight(i);
                    note_contrast(w, &mut rules);
                    let r = self.tokens.tokens[token as usize].range();
                    Hit {
                        source: HitSource::Sign { text: r.start as u32..r.end as u32 },
                        base: valence,
                        score: valence * w,
                        rules,
                        category: None,
                        complaint: None,
                    }
                }
                Slot::Word { token, len, flags, found: Some(found), .. } => {
                    match self.score_word(i, token, len, flags, found, caps_matter) {
                        Some(hit) => hit,
                        None => continue,
                    }
                }
            };
            self.add_hit(hit);
        }
    }

    fn add_hit(&mut self, hit: Hit) {
        if let Some((c, w)) = hit.category {
            self.categories[c as usize] += w;
        }
        self.sum += hit.score;
        if self.hits.len() < MAX_HITS {
            self.hits.push(hit);
        }
    }

    /// `!` and `?` emphasis on the whole sum.
    fn emphasize(&mut self) {
        if self.sum != 0.0 {
            self.emphasis = rules::punctuation_emphasis(self.tokens.exclamations, self.tokens.questions);
            self.sum = rules::emphasize(self.sum, self.emphasis);
        }
    }

    fn score_word(&self, i: usize, token: u32, len: u8, flags: u8, found: Resolved, caps_matter: bool) -> Option<Hit> {
        let lex = self.lexicon?;
        let term = lex.term(found.term);
        match term.role {
            Role::Negator(_) | Role::Contrast => return None,
            // An intensifier with a valence of its own ("super!") scores only when it does
            // not modify the next word ("super goed").
            Role::Intensifier(_) if self.scores_at(i + 1) => return None,
            Role::Intensifier(_) | Role::Plain => {}
        }
        if !term.scores() {
            return None;
        }
        // A crisis term without a valence of its own is a topic word ("klantenservice"):
        // it still tags its category, but moves the score only by its crisis weight.
        let mut rules = Rules::default();
        // A complaint cue that names a complaint on its own ("crashed", "voedselvergiftiging").
        let complaint = term.cue.filter(|c| c.family.standalone_valence().is_some());
        let base = if term.valence != 0.0 {
            term.valence
        } else if let Some(crisis) = term.crisis {
            rules.insert(Rules::CRISIS_WEIGHT);
            rules::crisis_valence(crisis.1)
        } else {
            rules.insert(Rules::COMPLAINT);
            complaint.and_then(|c| c.family.standalone_valence()).unwrap_or(0.0)
        };
        let mut v = base;
        match found.form {
            Form::Exact | Form::Squeezed => {}
            Form::Inflected => rules.insert(Rules::INFLECTED),
            Form::Stem => rules.insert(Rules::STEM),
            Form::Compound => rules.insert(Rules::COMPOUND),
            Form::InflectedNegated => {
                rules.insert(Rules::INFLECTED);
                rules.insert(Rules::NEGATED_FORM);
                v *= rules::NEGATION_SCALAR;
            }
        }
        if len > 1 {
            rules.insert(Rules::PHRASE);
        }
        if caps_matter && flags & flag::CAPS != 0 {
            v = rules::emphasize(v, rules::CAPS_BOOST);
            rules.insert(Rules::CAPS);
        }
        if flags & flag::ELONGATED != 0 {
            v = rules::emphasize(v, rules::ELONGATION_BOOST);
            rules.insert(Rules::ELONGATED);
        }

        let (mut negated, mut intensity) = self.context(i, caps_matter);
        if complaint.is_some_and(|c| c.family.negation_is_part_of_it()) {
            negated = false;
        }
        if intensity != 0.0 {
            // A negated booster softens: "not very good" is milder than "not good".
            if negated && intensity > 0.0 {
                intensity = -intensity;
            }
            v = rules::emphasize(v, intensity);
            rules.insert(if intensity > 0.0 { Rules::BOOSTED } else { Rules::DAMPENED });
        }
        if negated {
            v *= if v < 0.0 { rules::NEGATED_NEGATIVE_SCALAR } else { rules::NEGATION_SCALAR };
            rules.insert(Rules::NEGATED);
        }
        if flags & flag::QUOTED != 0 {
            rules.insert(Rules::QUOTED);
        }
        let w = self.weight(i);
        note_contrast(w, &mut rules);
        v *= w;

        let t = self.tokens.tokens[token as usize].range();
        let source = if len > 1 {
            HitSource::Phrase(found.term)
        } else {
            // An exact match is the lexicon's own text; the others show what they matched.
            let differs = found.form != Form::Exact;
            HitSource::Word { text: t.start as u32..t.end as u32, term: differs.then_some(found.term) }
        };
        let negated_any = negated || found.form == Form::InflectedNegated;
        // Evidence cues ("wachten") point nowhere by themselves; complaint cues do.
        let category = match (term.crisis, complaint.and_then(|c| c.category)) {
            (Some(crisis), _) => Some(crisis),
            (None, Some(c)) => Some((c, COMPLAINT_CATEGORY_WEIGHT)),
            (None, None) => None,
        }
        .filter(|_| !negated_any);
        let complaint = complaint.filter(|_| !negated_any).map(|c| c.family.as_str());
        Some(Hit { source, base, score: v, rules, category, complaint })
    }

    /// Whether the item at slot `i` is negated, and how much intensifiers before it add:
    /// up to `LOOK_BACK` words back and, for `both`-scope negators ("werkt niet"),
    /// `LOOK_AHEAD` words on, never across a clause boundary or a contrast word.
    fn context(&self, i: usize, caps_matter: bool) -> (bool, f32) {
        let mut negated = false;
        let mut intensity = 0.0;
        let mut distance = 0;
        for j in (0..i).rev() {
            let (role, jflags) = match self.slots[j] {
                Slot::Boundary { .. } => break,
                Slot::Sign { .. } => continue,
                Slot::Word { flags, .. } => (self.role_at(j), flags),
            };
            distance += 1;
            if distance > rules::LOOK_BACK {
                break;
            }
            match role {
                Some(Role::Intensifier(delta)) => {
                    let mut s = delta * rules::INTENSIFIER_DECAY[distance - 1];
                    if caps_matter && jflags & flag::CAPS != 0 {
                        s = rules::emphasize(s, rules::CAPS_BOOST);
                    }
                    intensity += s;
                }
                Some(Role::Negator(_)) => negated = true,
                Some(Role::Contrast) => break,
                _ => {}
            }
        }
        if !negated {
            let ahead = (i + 1..self.slots.len()).take(rules::LOOK_AHEAD);
            for j in ahead {
                match (self.slots[j], self.role_at(j)) {
                    (Slot::Boundary { .. }, _) | (_, Some(Role::Contrast)) => break,
                    (_, Some(Role::Negator(NegationScope::Both))) => {
                        negated = true;
                        break;
                    }
                    _ => {}
                }
            }
        }
        (negated, intensity)
    }
}

/// The slot for a word or phrase, with the term's role copied in.
fn word_slot(lexicon: Option<&Lexicon>, token: usize, len: usize, flags: u8, found: Option<Resolved>) -> Slot {
    let (role, scores) = match (found, lexicon) {
        (Some(r), Some(lex)) => {
            let term = lex.term(r.term);
            (term.role, term.scores())
        }
        _ => (Role::Plain, false),
    };
    // Token indexes and phrase lengths are bounded by `tokenize::MAX_TOKENS` and 4 words.
    Slot::Word { token: token as u32, len: len as u8, flags, found, role, scores }
}

fn note_contrast(w: f32, rules: &mut Rules) {
    if w < 1.0 {
        rules.insert(Rules::BEFORE_CONTRAST);
    } else if w > 1.0 {
        rules.insert(Rules::AFTER_CONTRAST);
    }
}
