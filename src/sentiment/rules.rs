//! The rules that turn looked-up valences into a text's score, after VADER (Hutto & Gilbert,
//! 2014) and made language-aware.
//!
//! Each sentiment-bearing item (a word, phrase, emoji or emoticon) starts from its lexicon
//! valence and is then adjusted, in this order:
//! 1. capitals ("BAD" in a text that is not all capitals) and elongation ("baaad") add
//!    emphasis;
//! 2. intensifiers up to three words before it add to (boosters) or take from (dampeners)
//!    its magnitude, less the further away they stand;
//! 3. a negator up to three words before it, or for `both`-scope negators one or two words
//!    after it ("werkt niet"), flips and dampens it — once, however many negators there are
//!    (Polish and Dutch stack negations for emphasis: "nikt nic nie zrobił");
//! 4. within a sentence that contains a contrast word ("but", "maar", "men", "ale"), items
//!    before it count half and items after it count one and a half times.
//!
//! Negation and intensification never reach across a clause boundary (`,` `;` `:` or the
//! end of a sentence). The sum of all items gets `!`/`?` emphasis and is squashed into
//! [-1, 1] by `normalize`.

/// Factor applied to a negated valence: flips it and weakens it ("not good" is less bad
/// than "bad" is bad). VADER's empirically derived value.
pub(crate) const NEGATION_SCALAR: f32 = -0.74;

/// Factor for a negated *negative* word: "not racist", "I hope I don't die" deny something
/// bad rather than praise, so they are only weakly positive.
pub(crate) const NEGATED_NEGATIVE_SCALAR: f32 = -0.3;

/// How much capitals add to a word's magnitude (VADER's C_INCR).
pub(crate) const CAPS_BOOST: f32 = 0.733;

/// How much an elongated word ("sooo", "nieeee") adds; the size of one booster.
pub(crate) const ELONGATION_BOOST: f32 = 0.293;

/// An intensifier's effect by distance: right before the word, two before, three before.
pub(crate) const INTENSIFIER_DECAY: [f32; 3] = [1.0, 0.95, 0.9];

/// How many words before an item negators and intensifiers are looked for.
pub(crate) const LOOK_BACK: usize = 3;

/// How many words after an item a `both`-scope negator ("niet", "inte") is looked for.
pub(crate) const LOOK_AHEAD: usize = 2;

/// Weights of the items before and after a contrast word in the same sentence.
pub(crate) const BEFORE_CONTRAST: f32 = 0.5;
pub(crate) const AFTER_CONTRAST: f32 = 1.5;

/// Emphasis per `!`, up to four of them.
pub(crate) const EXCLAMATION_BOOST: f32 = 0.292;
pub(crate) const MAX_EXCLAMATIONS: u32 = 4;

/// Emphasis for two or three `?` each, and for more than three in all.
pub(crate) const QUESTION_BOOST: f32 = 0.18;
pub(crate) const MANY_QUESTIONS_BOOST: f32 = 0.96;

/// Normalization constant: `s / sqrt(s² + ALPHA)` gives about ±0.9 for a sum of ±8.
pub(crate) const ALPHA: f32 = 15.0;

/// Valence of a crisis term that no sentiment lexicon scores. Weight 1 marks a topic word
/// ("customer service", "klantenservice") that tags a category but says nothing about
/// sentiment; weight 3 an unambiguous one ("data breach") that scores like "terrible".
pub(crate) fn crisis_valence(weight: f32) -> f32 {
    if weight <= 1.0 {
        0.0
    } else {
        -(weight - 1.0) * CRISIS_VALENCE_PER_WEIGHT
    }
}

/// Valence per unit of crisis weight above 1.
pub(crate) const CRISIS_VALENCE_PER_WEIGHT: f32 = 1.25;

/// Factor for praise read as sarcasm: it turns against the brand, a little weaker than it
/// was said (like a negation: "great job" said bitterly is about as bad as "not good").
pub(crate) const SARCASM_SCALAR: f32 = -0.74;

/// Valences of the complaint constructions, sized like lexicon words: waiting an hour or
/// "still no answer" is about as bad as "annoying" (-1.8 in VADER), a bare "again" with a
/// complaint adds a little, a pointed question at the brand a little more.
pub(crate) const WAITING_VALENCE: f32 = -1.5;
pub(crate) const STILL_NOT_VALENCE: f32 = -1.5;
pub(crate) const AGAIN_VALENCE: f32 = -1.0;
pub(crate) const QUESTION_VALENCE: f32 = -0.8;
/// An irony set phrase with no praise to turn ("thanks for nothing") is about as bad as
/// "disappointed" (-1.9 in VADER).
pub(crate) const IRONY_VALENCE: f32 = -1.5;

/// Adds `amount` to the magnitude of `v` (subtracts for a negative amount), keeping its sign.
pub(crate) fn emphasize(v: f32, amount: f32) -> f32 {
    if v > 0.0 {
        v + amount
    } else if v < 0.0 {
        v - amount
    } else {
        v
    }
}

/// The extra emphasis `!` and `?` give the whole text's sum.
pub(crate) fn punctuation_emphasis(exclamations: u32, questions: u32) -> f32 {
    let ep = exclamations.min(MAX_EXCLAMATIONS) as f32 * EXCLAMATION_BOOST;
    let qm = match questions {
        0 | 1 => 0.0,
        2 | 3 => questions as f32 * QUESTION_BOOST,
        _ => MANY_QUESTIONS_BOOST,
    };
    ep + qm
}

/// Squashes a sum of valences into [-1, 1].
pub(crate) fn normalize(sum: f32) -> f32 {
    if sum == 0.0 {
        return 0.0;
    }
    (sum / (sum * sum + ALPHA).sqrt()).clamp(-1.0, 1.0)
}

/// Which rules changed an item, for the explanation shown to users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules(u32);

impl Rules {
    pub const NEGATED: Rules = Rules(1);
    pub(crate) const NEGATED_FORM: Rules = Rules(1 << 1);
    pub const BOOSTED: Rules = Rules(1 << 2);
    pub const DAMPENED: Rules = Rules(1 << 3);
    pub const CAPS: Rules = Rules(1 << 4);
    pub const ELONGATED: Rules = Rules(1 << 5);
    pub const BEFORE_CONTRAST: Rules = Rules(1 << 6);
    pub const AFTER_CONTRAST: Rules = Rules(1 << 7);
    pub const INFLECTED: Rules = Rules(1 << 8);
    pub(crate) const STEM: Rules = Rules(1 << 9);
    pub(crate) const CRISIS_WEIGHT: Rules = Rules(1 << 10);
    pub const PHRASE: Rules = Rules(1 << 11);
    /// Found as a part of a Dutch or Swedish compound ("betaalstoring" → "storing").
    pub const COMPOUND: Rules = Rules(1 << 12);
    /// A complaint read from facts: a broken state, harm, a refund, waiting, "still not".
    pub const COMPLAINT: Rules = Rules(1 << 13);
    /// Praise turned against the brand: sarcasm markers or a complaint around it.
    pub const SARCASM: Rules = Rules(1 << 14);
    /// In scare quotes: someone else's word, not the writer's praise.
    pub const QUOTED: Rules = Rules(1 << 15);
    /// A crisis term in a text that says the problem was solved: no complaint.
    pub const RESOLVED: Rules = Rules(1 << 16);
    /// A crisis term in someone else's report of the incident: no complaint.
    pub const REPORTED: Rules = Rules(1 << 17);

    const NAMES: [(Rules, &'static str); 18] = [
        (Rules::PHRASE, "phrase"),
        (Rules::INFLECTED, "inflected form"),
        (Rules::STEM, "matched by stem"),
        (Rules::COMPOUND, "compound part"),
        (Rules::CRISIS_WEIGHT, "crisis term"),
        (Rules::NEGATED_FORM, "negated form (nie-)"),
        (Rules::CAPS, "capitals"),
        (Rules::ELONGATED, "elongated"),
        (Rules::BOOSTED, "intensified"),
        (Rules::DAMPENED, "dampened"),
        (Rules::NEGATED, "negated"),
        (Rules::BEFORE_CONTRAST, "before contrast (x0.5)"),
        (Rules::AFTER_CONTRAST, "after contrast (x1.5)"),
        (Rules::COMPLAINT, "complaint"),
        (Rules::QUOTED, "in scare quotes"),
        (Rules::SARCASM, "sarcasm: praise inverted"),
        (Rules::RESOLVED, "resolved: no complaint"),
        (Rules::REPORTED, "reported: no complaint"),
    ];

    pub fn contains(self, other: Rules) -> bool {
        self.0 & other.0 == other.0
    }

    pub(crate) fn insert(&mut self, other: Rules) {
        self.0 |= other.0;
    }

    /// Human-readable names of the rules that applied, in the order they apply.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Rules::NAMES.into_iter().filter(move |(r, _)| self.contains(*r)).map(|(_, n)| n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_crisis_terms_have_no_valence() {
        assert_eq!(crisis_valence(1.0).to_bits(), 0.0f32.to_bits(), "+0.0, not -0.0, in JSON");
        assert_eq!(crisis_valence(3.0), -2.5);
    }

    #[test]
    fn normalize_is_bounded_and_odd() {
        assert_eq!(normalize(0.0), 0.0);
        assert!(normalize(1000.0) <= 1.0 && normalize(-1000.0) >= -1.0);
        assert!((normalize(2.0) + normalize(-2.0)).abs() < 1e-6);
        assert!(normalize(8.0) > 0.89 && normalize(8.0) < 0.91);
    }

    #[test]
    fn emphasis_keeps_the_sign_and_dampeners_shrink() {
        assert_eq!(emphasize(2.0, 0.5), 2.5);
        assert_eq!(emphasize(-2.0, 0.5), -2.5);
        assert_eq!(emphasize(-2.0, -0.5), -1.5);
        assert_eq!(emphasize(0.0, 0.5), 0.0);
    }

    #[test]
    fn punctuation_emphasis_is_capped() {
        assert_eq!(punctuation_emphasis(0, 1), 0.0);
        assert!((punctuation_emphasis(10, 0) - 4.0 * EXCLAMATION_BOOST).abs() < 1e-6);
        assert_eq!(punctuation_emphasis(0, 9), MANY_QUESTIONS_BOOST);
    }

    #[test]
    fn rule_names_follow_application_order() {
        let mut r = Rules::default();
        r.insert(Rules::NEGATED);
        r.insert(Rules::CAPS);
        assert_eq!(r.names().collect::<Vec<_>>(), ["capitals", "negated"]);
    }
}
