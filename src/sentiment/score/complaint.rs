//! Reading complaints that a word list misses, after the words have been scored:
//!
//! * **constructions** made of cues that mean nothing alone (`cue::CueFamily`): a number
//!   before a time unit ("52 minutes", "drie weken") is a *duration*, and with a wait, a
//!   "since" or any other complaint it is *waiting*; "still" before a negation or a wait is
//!   *still not* ("wciąż nie ma zwrotu", "har fortfarande inte fått"); "again" or "3 times"
//!   with a complaint is *again*; a "why" question with a complaint is a *question* at the
//!   brand. Each adds an item to the explanation, once per text.
//! * **sarcasm**: praise turned against the brand. Irony markers (🙃, "ja hoor", "no
//!   pewnie"), praise in scare quotes, or praise and thanks next to a complaint invert every
//!   positive item, unless the text says the problem was solved ("thanks for fixing it so
//!   fast" stays thanks) or the praise comes after a "but".
//!
//! Negated cues are no evidence ("didn't have to wait").

use crate::sentiment::cue::CueFamily;
use crate::sentiment::rules::{self, Rules};
use crate::sentiment::signs::SignLexicon;
use crate::sentiment::tokenize::{flag, TokenKind};

use super::{Analysis, Hit, HitSource, Slot};
use crate::model::CrisisCategory;
use crate::sentiment::lexicon::Role;

/// How many slots after "still" a negation or a wait may stand ("still haven't got",
/// "nog steeds geen", "har fortfarande inte fått").
const STILL_REACH: usize = 4;

/// Texts longer than this many words are reviews and threads, not posts: praise and a
/// complaint in them are a mixed verdict ("gripping book, a few hours well spent, but the
/// ending is weak"), not sarcasm, and a negative word far away says nothing about a
/// duration. A post of 280 characters has at most about 50 words.
const POST_WORDS: usize = 50;

/// How negative a word after "still" must be to make it a complaint ("still awful"): mild
/// words are everyday ("my hope still is to leave …").
const STILL_NEGATIVE: f32 = -1.5;

/// Category weight of a construction that points at service (waiting, still no answer).
const CONSTRUCTION_CATEGORY_WEIGHT: f32 = 1.0;

/// Crisis weight from which a crisis term counts as a complaint for the sarcasm rule
/// ("storing", "data breach"); topic words ("klantenservice", 1.0) do not.
const COMPLAINT_CRISIS_WEIGHT: f32 = 1.5;

/// Where each cue family was first seen (a slot index), not negated.
#[derive(Debug, Default)]
struct Evidence {
    first: [Option<u32>; CueFamily::COUNT],
    /// The first number directly followed by a time unit: the unit's slot.
    duration: Option<u32>,
    /// A duration right after "in"/"within": something was fast.
    fast: bool,
    /// A number directly followed by "times" ("3 times"): the slot of "times".
    repetition: Option<u32>,
    /// Irony emoji that are enough alone (🙃 🙄) and applause (👏 👌) that needs a complaint.
    irony_signs: u32,
    applause_signs: u32,
    /// Some word stands in quotation marks.
    quotation: bool,
    /// Words in the text: a post, or a review whose praise and complaints are mixed.
    words: usize,
}

impl Evidence {
    fn at(&self, f: CueFamily) -> Option<usize> {
        self.first[f as usize].map(|i| i as usize)
    }

    fn has(&self, f: CueFamily) -> bool {
        self.first[f as usize].is_some()
    }
}

impl Analysis {
    pub(super) fn read_complaints(&mut self, signs: &SignLexicon) {
        let Some(lex) = self.lexicon else { return };
        let mut ev = Evidence::default();
        let caps_matter = self.tokens.caps_contrast();
        let mut previous_number = false;
        // "within" right before the number of a duration.
        let mut within_before_number = false;
        let mut previous_within = false;
        // "1 hour" is a duration though not a repetition.
        let mut previous_one = false;
        for i in 0..self.slots.len() {
            let Slot::Word { token, found, role, .. } = self.slots[i] else {
                previous_number = false;
                previous_one = false;
                previous_within = false;
                continue;
            };
            let word = self.tokens.str(&self.tokens.tokens[token as usize]);
            let digits = word.bytes().next().is_some_and(|b| b.is_ascii_digit());
            let cue = found.and_then(|r| lex.term(r.term).cue).filter(|_| role == Role::Plain);
            // "52min", "3h": a number with its unit in one token.
            let glued_unit = digits && {
                let unit = word.trim_start_matches(|c: char| c.is_ascii_digit() || c == ',' || c == '.');
                !unit.is_empty()
                    && lex
                        .exact(unit)
                        .resolved
                        .and_then(|r| lex.term(r.term).cue)
                        .is_some_and(|c| c.family == CueFamily::Unit)
            };
            let family = cue.map(|c| c.family);
            if family == Some(CueFamily::Unit) && (previous_number || previous_one) || glued_unit {
                let fast = if glued_unit { previous_within } else { within_before_number };
                if fast {
                    ev.fast = true;
                } else {
                    ev.duration.get_or_insert(i as u32);
                }
            }
            if digits || family == Some(CueFamily::Number) {
                within_before_number = previous_within;
            }
            previous_within = family == Some(CueFamily::Within);
            if family == Some(CueFamily::Times) && previous_number {
                ev.repetition.get_or_insert(i as u32);
            }
            // "1 keer", "in 1 time" repeat nothing: a repetition needs two or more.
            let one = word == "1";
            previous_one = one;
            previous_number = digits && !one || family == Some(CueFamily::Number);
            // Only the first unnegated occurrence of each family is kept; the look-back for a
            // negator runs only until it is found.
            if let Some(f) = family.filter(|f| ev.first[*f as usize].is_none()) {
                if f.negation_is_part_of_it() || !self.context(i, caps_matter).0 {
                    ev.first[f as usize] = Some(i as u32);
                }
            }
        }
        for t in &self.tokens.tokens {
            match t.kind {
                TokenKind::Word => {
                    ev.words += 1;
                    ev.quotation |= t.has(flag::QUOTED);
                }
                TokenKind::Emoji => match self.tokens.str(t).chars().next().and_then(|c| signs.irony(c)) {
                    Some(true) => ev.irony_signs += 1,
                    Some(false) => ev.applause_signs += 1,
                    None => {}
                },
                _ => {}
            }
        }
        let post = ev.words <= POST_WORDS;
        self.constructions(&ev, post);
        if !(post && self.sarcasm(&ev)) {
            self.de_escalate(&ev);
        }
    }

    /// Whether something already reads as a complaint: a negative crisis term that is more
    /// than a topic word, a complaint cue, or a construction; a merely negative word is not.
    fn has_complaint(&self) -> bool {
        self.hits.iter().any(|h| {
            h.score < 0.0 && (h.complaint.is_some() || h.category.is_some_and(|(_, w)| w >= COMPLAINT_CRISIS_WEIGHT))
        })
    }

    fn has_negative(&self) -> bool {
        self.hits.iter().any(|h| h.score < 0.0)
    }

    fn constructions(&mut self, ev: &Evidence, post: bool) {
        let waiting_context = ev.has(CueFamily::Wait)
            || ev.has(CueFamily::Since)
            || ev.has(CueFamily::Still)
            || ev.has(CueFamily::Unanswered)
            || post && self.has_negative();
        // A duration alone is no complaint: "finished it in 2 days", "12 minutes by scooter".
        if let Some(at) = ev.duration.filter(|_| waiting_context) {
            let category = ev.has(CueFamily::Wait).then_some((CrisisCategory::Service, CONSTRUCTION_CATEGORY_WEIGHT));
            self.add_construction(at as usize, "waiting", rules::WAITING_VALENCE, category);
        }
        if let Some(at) = ev.at(CueFamily::Still).filter(|&s| self.still_not_follows(s)) {
            self.add_construction(
                at,
                "still not",
                rules::STILL_NOT_VALENCE,
                Some((CrisisCategory::Service, CONSTRUCTION_CATEGORY_WEIGHT)),
            );
        }
        // "Again" and "why" are everyday words: only a complaint makes them part of one
        // ("can't wait to see you again", "czemu tak dawno nie słuchałam").
        let complaint = self.has_complaint();
        let again = ev.at(CueFamily::Again).or(ev.repetition.map(|i| i as usize));
        if let Some(at) = again.filter(|_| complaint) {
            self.add_construction(at, "again", rules::AGAIN_VALENCE, None);
        }
        if let Some(at) = ev.at(CueFamily::Question).filter(|&q| complaint && self.in_question(q)) {
            self.add_construction(at, "question at the brand", rules::QUESTION_VALENCE, None);
        }
    }

    /// "still" followed, within the clause, by a negation, a wait, no answer or a negative
    /// item.
    fn still_not_follows(&self, still: usize) -> bool {
        let lex = self.lexicon;
        for j in still + 1..(still + 1 + STILL_REACH).min(self.slots.len()) {
            match self.slots[j] {
                Slot::Boundary { .. } => return false,
                Slot::Word { role: Role::Negator(_), .. } => return true,
                Slot::Word { found: Some(r), .. } => {
                    let Some(lex) = lex else { return false };
                    let t = lex.term(r.term);
                    let waits = t.cue.is_some_and(|c| matches!(c.family, CueFamily::Wait | CueFamily::Unanswered));
                    let bad = t.valence <= STILL_NEGATIVE || t.crisis.is_some_and(|(_, w)| w > 1.0);
                    let complains = t.cue.is_some_and(|c| c.family.standalone_valence().is_some());
                    if waits || bad || complains {
                        return true;
                    }
                }
                _ => {}
            }
        }
        false
    }

    /// Whether the sentence around slot `at` ends with a question mark.
    fn in_question(&self, at: usize) -> bool {
        let Slot::Word { token, .. } = self.slots[at] else { return false };
        self.tokens.tokens[token as usize..]
            .iter()
            .find(|t| t.kind == TokenKind::SentenceEnd)
            .is_some_and(|t| t.has(flag::QUESTION))
    }

    fn add_construction(
        &mut self,
        at: usize,
        name: &'static str,
        valence: f32,
        category: Option<(CrisisCategory, f32)>,
    ) {
        let Some(Slot::Word { token, len, found, .. }) = self.slots.get(at).copied() else { return };
        let r = self.tokens.tokens[token as usize].range();
        let source = match found {
            Some(f) if len > 1 => HitSource::Phrase(f.term),
            _ => HitSource::Word { text: r.start as u32..r.end as u32, term: None },
        };
        let mut rules = Rules::default();
        rules.insert(Rules::COMPLAINT);
        self.add_hit(Hit { source, base: valence, score: valence, rules, category, complaint: Some(name) });
    }

    /// A report of an incident by someone else ("X says the outage was caused by …"), or an
    /// incident solved ("is now fixed", "refund in 2 days") is no complaint: the crisis and
    /// complaint terms keep their category but lose the valence they only had as crisis
    /// terms. Words that judge ("terrible") keep theirs.
    fn de_escalate(&mut self, ev: &Evidence) {
        let rule = if ev.has(CueFamily::Resolved) || ev.fast {
            Rules::RESOLVED
        } else if ev.has(CueFamily::Report) {
            Rules::REPORTED
        } else {
            return;
        };
        self.rescore(rule, |h| {
            let borrowed = h.rules.contains(Rules::CRISIS_WEIGHT) || h.rules.contains(Rules::COMPLAINT);
            (borrowed && h.score < 0.0).then_some(0.0)
        });
    }

    /// Gives the hits `new` picks a new score (the rest keep theirs), marks them with `rule`
    /// and keeps the sum in step; says whether any changed.
    fn rescore(&mut self, rule: Rules, new: impl Fn(&Hit) -> Option<f32>) -> bool {
        let mut changed = false;
        for h in &mut self.hits {
            if let Some(score) = new(h) {
                self.sum += score - h.score;
                h.score = score;
                h.rules.insert(rule);
                changed = true;
            }
        }
        changed
    }

    /// Inverts praise when the text is ironic: a marker says so, or the praise stands next
    /// to a complaint with nothing solved. Says whether it turned anything.
    fn sarcasm(&mut self, ev: &Evidence) -> bool {
        let complaint = self.has_complaint();
        let resolved = ev.has(CueFamily::Resolved) || ev.fast;
        // Scare quotes and applause are ironic next to something bad; alone they are
        // quotation ("the 'TV Lover' badge") and applause.
        // Two of them together are irony enough ("„Nowa, ulepszona receptura” … Dziękujemy 👌").
        let weak = [ev.has(CueFamily::Thanks), ev.applause_signs > 0, ev.quotation];
        let weak_markers = weak.iter().filter(|w| **w).count();
        // Thanks next to a merely negative word is often genuine ("thanks for the support,
        // haters gonna hate"); next to a complaint it is bitter.
        let bitter_frame = weak_markers > 0 && complaint;
        let markers = ev.irony_signs > 0 || ev.has(CueFamily::Sarcasm) || weak_markers >= 2;
        let ironic = markers || !resolved && (complaint || bitter_frame);
        if !ironic {
            return false;
        }
        let inverted_any = self.rescore(Rules::SARCASM, |h| {
            let genuine = h.rules.contains(Rules::NEGATED) || h.rules.contains(Rules::AFTER_CONTRAST);
            (h.score > 0.0 && !genuine).then_some(h.score * rules::SARCASM_SCALAR)
        });
        // A bitter set phrase with no praise left to turn is the complaint itself: "Tack för
        // ingenting", "dzięki za nic".
        if let Some(at) = ev.at(CueFamily::Sarcasm).filter(|_| !inverted_any) {
            self.add_construction(at, "irony", rules::IRONY_VALENCE, None);
            return true;
        }
        inverted_any
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Label, Lang};
    use crate::sentiment::{Analysis, Rules, Scorer};

    fn analyze(lang: Lang, text: &str) -> Analysis {
        let scorer = Scorer::builtin().expect("built-in lexicons load");
        let mut a = Analysis::default();
        scorer.analyze(text, Some(lang), &mut a);
        a
    }

    /// The text is negative and the named complaint family or construction is among its
    /// hits.
    fn complaint(lang: Lang, text: &str, family: &str) {
        let a = analyze(lang, text);
        let families: Vec<_> = a.hits().filter_map(|h| h.complaint).collect();
        assert_eq!(a.label(), Label::Neg, "{text}: {families:?}, compound {}", a.compound());
        assert!(families.contains(&family), "{text}: expected {family}, got {families:?}");
    }

    fn sarcastic(lang: Lang, text: &str) {
        let a = analyze(lang, text);
        assert_eq!(a.label(), Label::Neg, "{text}: compound {}", a.compound());
        assert!(a.hits().any(|h| h.rules.contains(Rules::SARCASM)), "{text}: no praise inverted");
    }

    #[test]
    fn waiting_is_a_number_before_a_unit_in_a_complaint() {
        complaint(Lang::En, "On hold for 52 minutes with @QuickBank", "waiting");
        complaint(Lang::Nl, "Al drie weken wachten op een monteur", "waiting");
        complaint(Lang::Sv, "40 minuter i telefonkö", "waiting");
        complaint(Lang::Pl, "1 h 14 min na infolinii i nic", "waiting");
    }

    #[test]
    fn still_reads_the_negation_after_it() {
        complaint(Lang::En, "Still haven't heard anything from @SkyAir", "still not");
        complaint(Lang::Nl, "Nog steeds geen antwoord van de klantenservice", "still not");
        complaint(Lang::Sv, "Har fortfarande inte fått någon återbetalning", "still not");
        complaint(Lang::Pl, "Wciąż nie ma zwrotu", "still not");
    }

    #[test]
    fn again_counts_only_with_a_complaint() {
        complaint(Lang::En, "Why is the app down for the third time this week?", "again");
        complaint(Lang::Nl, "Alweer een storing bij de bank", "again");
        complaint(Lang::Sv, "Driftstörningen igen, tredje gången denna vecka", "again");
        complaint(Lang::Pl, "Znowu awaria aplikacji", "again");
        let a = analyze(Lang::En, "Can't wait to see you again");
        assert!(a.hits().all(|h| h.complaint.is_none()), "'again' alone is no complaint");
    }

    #[test]
    fn broken_states_harm_and_refunds_are_complaints_on_their_own() {
        complaint(Lang::En, "The update deleted all my saved cards", "broken");
        complaint(Lang::Pl, "Aplikacja wylogowuje co 5 minut", "broken");
        complaint(Lang::Sv, "Laddaren blev varm och luktade bränt", "harm");
        complaint(Lang::Sv, "Har fortfarande inte fått någon återbetalning", "refund");
    }

    #[test]
    fn questions_at_the_brand_count_only_with_a_complaint() {
        complaint(Lang::En, "Why is the app down for the third time this week?", "question at the brand");
        let a = analyze(Lang::En, "Why do cats purr?");
        assert!(a.hits().all(|h| h.complaint.is_none()));
    }

    #[test]
    fn praise_turns_bitter_next_to_a_complaint_or_an_irony_marker() {
        sarcastic(Lang::En, "Great job @QuickBank, the app crashed again 🙃");
        sarcastic(Lang::En, "Love how the 'upgrade' deleted all my saved cards");
        sarcastic(Lang::Nl, "Wat een topservice weer 👏 twee weken wachten op een monteur");
        sarcastic(Lang::Sv, "Jaja, helt fantastiskt");
        sarcastic(Lang::Pl, "Trzeci dzień bez prądu. Dziękuję bardzo, naprawdę świetna robota");
        complaint(Lang::Sv, "Tack för ingenting @Telia", "irony");
    }

    #[test]
    fn genuine_praise_stays_praise() {
        for (lang, text) in [
            (Lang::En, "Thanks for fixing it so fast, great support!"),
            (Lang::En, "Refund in 2 days, great service 👌"),
            (Lang::En, "Finished the book in 2 days, loved it"),
            (Lang::En, "I was just awarded the \"TV Lover\" badge"),
            (Lang::En, "The outage was annoying but the support team was great"),
            (Lang::Nl, "Storing snel opgelost, top service!"),
        ] {
            let a = analyze(lang, text);
            assert_eq!(a.label(), Label::Pos, "{text}: compound {}", a.compound());
            assert!(a.hits().all(|h| !h.rules.contains(Rules::SARCASM)), "{text}");
        }
    }

    #[test]
    fn negated_cues_are_no_evidence() {
        let a = analyze(Lang::En, "Didn't have to wait, 5 minutes and done");
        assert!(a.hits().all(|h| h.complaint != Some("waiting")), "{:?}", a.hits().collect::<Vec<_>>());
    }

    #[test]
    fn reports_and_solved_incidents_are_no_complaints() {
        let a = analyze(Lang::En, "QuickBank says the outage this morning is being investigated");
        assert_ne!(a.label(), Label::Neg, "compound {}", a.compound());
        assert_eq!(a.categories().next(), Some(crate::model::CrisisCategory::Outage), "the category stays");
        let a = analyze(Lang::Nl, "De storing bij Kroon Bank is verholpen");
        assert_ne!(a.label(), Label::Neg, "compound {}", a.compound());
    }

    #[test]
    fn categories_are_ranked_by_evidence() {
        let a = analyze(Lang::En, "Data breach at QuickBank: my card was used for fraud, and support is useless");
        let cats: Vec<_> = a.categories().collect();
        assert_eq!(cats.first(), Some(&crate::model::CrisisCategory::PrivacyFraud), "{cats:?}");
    }
}
