//! Regular adjective inflection the Snowball stemmers miss.
//!
//! The public Dutch lexicon (Pattern) lists adjectives in their base form, and posts use the
//! inflected ones: "een mooie dag", "mooier", "de mooiste". Snowball's Dutch stemmer only
//! strips endings inside a region that short words do not have, so "mooie", "sterke" and
//! "grote" stay as they are. Dutch and Swedish adjective inflection is regular enough to undo
//! with a few spelling rules; each candidate is only used if the lexicon lists it exactly.

use crate::model::Lang;

/// Possible base forms of `word`, most likely first (at most a handful; empty when no rule
/// applies).
pub(crate) fn base_forms(lang: Lang, word: &str) -> Vec<String> {
    match lang {
        Lang::Nl => dutch(word),
        Lang::Sv => swedish(word),
        Lang::En | Lang::Pl => Vec::new(),
    }
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y')
}

/// Dutch: -e (inflected), -er/-ere (comparative), -ste (superlative), then the spelling
/// changes the ending caused: "slimm" → "slim", "grot" → "groot", "liev" → "lief",
/// "viez" → "vies".
fn dutch(word: &str) -> Vec<String> {
    let mut out = Vec::new();
    for suffix in ["ste", "ere", "er", "e"] {
        let Some(stem) = word.strip_suffix(suffix) else { continue };
        if stem.chars().count() < 3 {
            continue;
        }
        let chars: Vec<char> = stem.chars().collect();
        let n = chars.len();
        let last = chars[n - 1];
        // Doubled consonant: "slimm(e)" → "slim", "dikk(e)" → "dik".
        if n >= 2 && last == chars[n - 2] && !is_vowel(last) {
            out.push(chars[..n - 1].iter().collect());
        }
        // v/z before the ending were f/s: "liev(e)" → "lief", "viez(e)" → "vies".
        let devoiced = match last {
            'v' => Some('f'),
            'z' => Some('s'),
            _ => None,
        };
        let base: String = match devoiced {
            Some(c) => chars[..n - 1].iter().chain([&c]).collect(),
            None => stem.to_string(),
        };
        // A single vowel before the last consonant was long: "grot(e)" → "groot",
        // "kal(e)" → "kaal".
        let b: Vec<char> = base.chars().collect();
        let m = b.len();
        if m >= 3 && !is_vowel(b[m - 1]) && is_vowel(b[m - 2]) && !is_vowel(b[m - 3]) && b[m - 2] != 'i' {
            let mut long: String = b[..m - 1].iter().collect();
            long.push(b[m - 2]);
            long.push(b[m - 1]);
            out.push(long);
        }
        out.push(base);
    }
    out
}

/// Swedish: -t (neuter), -a/-e (definite, plural), -are/-ast/-aste (comparison).
fn swedish(word: &str) -> Vec<String> {
    let mut out = Vec::new();
    for suffix in ["aste", "are", "ast", "a", "e", "t"] {
        let Some(stem) = word.strip_suffix(suffix) else { continue };
        if stem.chars().count() < 3 {
            continue;
        }
        out.push(stem.to_string());
        // "snygg(t)" keeps its double consonant; "gröna" → "grön" needs nothing more, but
        // "fint" comes from "fin": covered by the plain stem.
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(lang: Lang, word: &str, base: &str) -> bool {
        base_forms(lang, word).iter().any(|b| b == base)
    }

    #[test]
    fn dutch_adjective_forms_lead_back_to_the_base() {
        for (word, base) in [
            ("mooie", "mooi"),
            ("sterke", "sterk"),
            ("slimme", "slim"),
            ("grote", "groot"),
            ("lieve", "lief"),
            ("vieze", "vies"),
            ("mooier", "mooi"),
            ("mooiste", "mooi"),
            ("groter", "groot"),
            ("slechtste", "slecht"),
        ] {
            assert!(has(Lang::Nl, word, base), "{word} → {base}: {:?}", base_forms(Lang::Nl, word));
        }
    }

    #[test]
    fn swedish_adjective_forms_lead_back_to_the_base() {
        for (word, base) in [("snyggt", "snygg"), ("snygga", "snygg"), ("snyggare", "snygg"), ("snyggaste", "snygg")] {
            assert!(has(Lang::Sv, word, base), "{word} → {base}");
        }
    }

    #[test]
    fn short_words_and_other_languages_get_no_candidates() {
        assert!(base_forms(Lang::Nl, "de").is_empty());
        assert!(base_forms(Lang::En, "nicer").is_empty());
    }
}
