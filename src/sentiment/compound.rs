//! Splitting Dutch and Swedish compounds against the lexicon, for words no other lookup found.
//!
//! Dutch and Swedish write compounds as one word: "betaalstoring" (payment outage),
//! "driftstörningen" (the operational disruption), "klantenservicemedewerker" (customer
//! service employee). No lexicon lists them all, but their parts are lexicon words. Two
//! readings are tried, in this order:
//!
//! 1. **The last part carries the meaning** (in Germanic compounds the head comes last):
//!    the longest known ending of the word, so "driftstörningen" is "störningen" (itself an
//!    inflected form of "störning") and "betaalstoring" is "storing".
//! 2. **A crisis term at the start** names the topic even when the rest is unknown:
//!    "klantenservice|medewerker", "storings|melding" (with the linking "-s-"). Compounds
//!    that say the opposite ("storingsvrij", outage-free; "bedrägerisäker", fraud-proof) are
//!    not split this way.
//!
//! Short parts are where false hits come from: "on|aardig" and "o|trevlig" are negations,
//! "ver|goed" is a verb, "lock|down" no outage. A known part has at least
//! `MIN_KNOWN_CHARS` letters, an unknown first part at least `MIN_PART_CHARS`, and a first
//! part that is a verb particle ("voor|goed" is "for good", not "good") blocks the split.
//! Which lexicon words may be parts is the caller's choice: the lexicon allows only the
//! team's crisis terms.
//!
//! The lookups take string slices of the word, so splitting allocates nothing; it probes the
//! lexicon at most twice per letter, and its answer is memoized with the stem lookups.

use crate::model::Lang;

use super::lexicon::TermId;

/// A known part (the lexicon word a split finds) has at least this many letters: shorter
/// crisis terms hide inside unrelated words (Dutch "lock|down" is not an outage, and
/// "plat|teland", countryside, not "plat", down).
const MIN_KNOWN_CHARS: usize = 5;

/// An unknown first part has at least this many letters ("bank|appen").
const MIN_PART_CHARS: usize = 4;

/// The unknown rest after a known crisis term at the start has at least this many letters
/// ("storingsmail" → "storing" + s + "mail").
const MIN_REST_CHARS: usize = 3;

/// What a language allows between and around the parts.
struct CompoundRules {
    /// Linking elements a first part may end with ("storing|s|melding", "klant|en|service").
    links: &'static [&'static str],
    /// First parts that are verb particles or prepositions, not words of a compound.
    particles: &'static [&'static str],
    /// Beginnings of last parts that negate the first part ("storingsvrij", "felfri").
    privative: &'static [&'static str],
}

const DUTCH: CompoundRules = CompoundRules {
    links: &["en", "s", "e"],
    particles: &[
        "voor", "over", "onder", "door", "tegen", "achter", "terug", "samen", "mede", "boven", "binnen", "buiten",
        "langs", "rond", "voorbij", "weg",
    ],
    privative: &["vrij", "loos", "loze", "bestendig", "proof", "arm"],
};

const SWEDISH: CompoundRules = CompoundRules {
    links: &["s", "a", "u", "e", "o"],
    particles: &[
        "över", "under", "efter", "genom", "förbi", "fram", "bort", "till", "ihop", "emot", "sönder", "tillbaka",
        "omkring", "utom", "inom",
    ],
    privative: &["fri", "lös", "säker", "säkr"],
};

fn rules(lang: Lang) -> Option<&'static CompoundRules> {
    match lang {
        Lang::Nl => Some(&DUTCH),
        Lang::Sv => Some(&SWEDISH),
        Lang::En | Lang::Pl => None,
    }
}

/// The lexicon term `word` is a compound of, if any. `head` answers for a candidate last
/// part, `modifier` for a candidate first part (callers allow only crisis terms there).
pub(crate) fn split(
    lang: Lang,
    word: &str,
    head: impl Fn(&str) -> Option<TermId>,
    modifier: impl Fn(&str) -> Option<TermId>,
) -> Option<TermId> {
    let rules = rules(lang)?;
    let chars = word.chars().count();
    if chars < MIN_PART_CHARS + MIN_REST_CHARS {
        return None;
    }
    // Split points as (byte index, letters before it), left to right.
    let points = || word.char_indices().map(|(i, _)| i).zip(0..).skip(MIN_PART_CHARS);

    // 1. The longest known last part: left to right, the first hit is the longest.
    for (i, before) in points() {
        if chars - before < MIN_KNOWN_CHARS {
            break;
        }
        let (first, last) = word.split_at(i);
        if rules.particles.contains(&first) {
            continue;
        }
        if let Some(term) = head(last) {
            return Some(term);
        }
    }

    // 2. The longest known crisis term at the start, with or without a linking element.
    // "storingsvrij" and "bedrägerisäker" say the crisis is absent: a rest that starts with
    // a privative part at any split that finds the term ("bedrägeri|säker", not only the
    // longer "bedrägeri-s|äker") leaves the word unsplit.
    let mut found = None;
    for (i, before) in points() {
        if chars - before < MIN_REST_CHARS {
            break;
        }
        if before < MIN_KNOWN_CHARS {
            continue;
        }
        let (first, rest) = word.split_at(i);
        let Some(term) = modifier(first).or_else(|| unlinked(first, rules.links).and_then(&modifier)) else {
            continue;
        };
        let rest = rest.trim_start_matches('-');
        if rules.privative.iter().any(|p| rest.starts_with(p)) {
            return None;
        }
        found = Some(term);
    }
    found
}

/// `first` without the linking element it ends with, if what is left is long enough.
fn unlinked<'w>(first: &'w str, links: &[&str]) -> Option<&'w str> {
    links.iter().filter_map(|l| first.strip_suffix(l)).find(|stem| stem.chars().count() >= MIN_KNOWN_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy lexicon: heads and crisis terms by id.
    fn lookup(words: &'static [&'static str]) -> impl Fn(&str) -> Option<TermId> {
        move |w| words.iter().position(|x| *x == w).map(|i| i as TermId)
    }

    fn split_as(
        lang: Lang,
        word: &str,
        heads: &'static [&'static str],
        crisis: &'static [&'static str],
    ) -> Option<&'static str> {
        let id = split(lang, word, lookup(heads), |w| lookup(crisis)(w).map(|i| i + 100))?;
        Some(if id >= 100 { crisis[(id - 100) as usize] } else { heads[id as usize] })
    }

    #[test]
    fn the_last_part_carries_the_meaning() {
        let heads = &["storing", "störningen", "appen", "slecht"];
        assert_eq!(split_as(Lang::Nl, "betaalstoring", heads, &[]), Some("storing"));
        assert_eq!(split_as(Lang::Sv, "driftstörningen", heads, &[]), Some("störningen"));
        assert_eq!(split_as(Lang::Sv, "bankappen", heads, &[]), Some("appen"));
        assert_eq!(split_as(Lang::Nl, "bank-storing", heads, &[]), Some("storing"));
    }

    #[test]
    fn the_longest_known_last_part_wins() {
        let heads = &["tjänsten", "kundtjänsten"];
        assert_eq!(split_as(Lang::Sv, "bankkundtjänsten", heads, &[]), Some("kundtjänsten"));
    }

    #[test]
    fn a_crisis_term_at_the_start_names_the_topic() {
        let crisis = &["klantenservice", "storing", "bedrägeri"];
        assert_eq!(split_as(Lang::Nl, "klantenservicemedewerker", &[], crisis), Some("klantenservice"));
        assert_eq!(split_as(Lang::Nl, "storingsmelding", &[], crisis), Some("storing"));
        assert_eq!(split_as(Lang::Sv, "bedrägeriförsök", &[], crisis), Some("bedrägeri"));
    }

    #[test]
    fn compounds_that_deny_the_crisis_are_not_split() {
        let crisis = &["storing", "bedrägeri", "fel"];
        assert_eq!(split_as(Lang::Nl, "storingsvrij", &[], crisis), None);
        assert_eq!(split_as(Lang::Nl, "storingsvrije", &[], crisis), None);
        assert_eq!(split_as(Lang::Sv, "bedrägerisäker", &[], crisis), None);
    }

    #[test]
    fn short_parts_and_particles_do_not_split() {
        let heads = &["aardig", "trevlig", "goed", "storing"];
        // Negations and verb prefixes are shorter than a part.
        assert_eq!(split_as(Lang::Nl, "onaardig", heads, &[]), None);
        assert_eq!(split_as(Lang::Sv, "otrevlig", heads, &[]), None);
        assert_eq!(split_as(Lang::Nl, "vergoed", heads, &[]), None);
        // "voorgoed" is "for good".
        assert_eq!(split_as(Lang::Nl, "voorgoed", heads, &[]), None);
        // Known parts of four letters or fewer are too short to trust.
        assert_eq!(split_as(Lang::Nl, "lockdown", &["down"], &[]), None);
        assert_eq!(split_as(Lang::Nl, "platteland", &[], &["plat"]), None);
    }

    #[test]
    fn only_dutch_and_swedish_are_split() {
        assert_eq!(split_as(Lang::En, "paymentoutage", &["outage"], &[]), None);
        assert_eq!(split_as(Lang::Pl, "superawaria", &["awaria"], &[]), None);
    }
}
