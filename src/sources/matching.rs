//! Which watches a mention belongs to.
//!
//! A mention belongs to every watch one of whose `terms` it contains and none of whose
//! `exclude` terms. Matching is case-insensitive, folds diacritics (Polish posts often drop
//! them: "lodz" finds "Łódź", and "kroon bánk" finds "Kroon Bank"), and respects word
//! boundaries: "kroon bank" matches "Kroon Bank's" and "#kroonbank" matches "#KroonBank",
//! but "kroon bank" does not match "kroonbankier". All terms of all watches go into one
//! Aho-Corasick automaton, so a mention costs one pass over its text however many watches
//! there are.

use aho_corasick::{AhoCorasick, MatchKind};

/// What matching needs of a watch (`config::WatchSpec::terms` gives it).
#[derive(Debug, Clone, Copy)]
pub struct WatchTerms<'a> {
    pub name: &'a str,
    /// Phrases, `#hashtags` and `@handles`; a mention matching any belongs to the watch.
    pub terms: &'a [String],
    /// A mention matching any of these does not belong, whatever else it matches.
    pub exclude: &'a [String],
    /// Sources that feed this watch; `None` means all.
    pub sources: Option<&'a [String]>,
}

#[derive(Debug, Clone, Copy)]
struct Pattern {
    watch: usize,
    exclude: bool,
}

/// The compiled terms of all watches.
#[derive(Debug)]
pub struct Matcher {
    automaton: Option<AhoCorasick>,
    patterns: Vec<Pattern>,
    watches: Vec<WatchScope>,
}

#[derive(Debug, Clone)]
struct WatchScope {
    name: String,
    /// `None`: every source feeds this watch.
    sources: Option<Vec<String>>,
}

impl Matcher {
    pub fn new<'a>(watches: impl IntoIterator<Item = WatchTerms<'a>>) -> Matcher {
        let watches: Vec<WatchTerms<'a>> = watches.into_iter().collect();
        let mut needles = Vec::new();
        let mut patterns = Vec::new();
        for (w, spec) in watches.iter().enumerate() {
            for (terms, exclude) in [(spec.terms, false), (spec.exclude, true)] {
                for term in terms {
                    let folded = fold(term);
                    if !folded.trim().is_empty() {
                        needles.push(folded);
                        patterns.push(Pattern { watch: w, exclude });
                    }
                }
            }
        }
        // Standard semantics with overlapping search: every occurrence of every term is seen,
        // so a short term inside a longer one ("kroon" in "kroon bank") is not hidden.
        let automaton =
            AhoCorasick::builder().match_kind(MatchKind::Standard).build(&needles).ok().filter(|_| !needles.is_empty());
        let watches = watches
            .iter()
            .map(|w| WatchScope { name: w.name.to_string(), sources: w.sources.map(<[String]>::to_vec) })
            .collect();
        Matcher { automaton, patterns, watches }
    }

    /// The names of the watches `text` (from `source`) belongs to, in configuration order.
    pub(crate) fn watches_for(&self, source: &str, text: &str) -> Vec<&str> {
        self.watch_indices(source, text).into_iter().map(|i| self.watches[i].name.as_str()).collect()
    }

    /// Like `watches_for`, as indices into the watches the matcher was built from.
    pub fn watch_indices(&self, source: &str, text: &str) -> Vec<usize> {
        let Some(ac) = &self.automaton else { return Vec::new() };
        let folded = fold(text);
        let bytes = folded.as_bytes();
        let mut included = vec![false; self.watches.len()];
        let mut excluded = vec![false; self.watches.len()];
        for m in ac.find_overlapping_iter(&folded) {
            if !on_word_boundaries(bytes, m.start(), m.end(), &folded) {
                continue;
            }
            let p = self.patterns[m.pattern().as_usize()];
            if p.exclude {
                excluded[p.watch] = true;
            } else {
                included[p.watch] = true;
            }
        }
        self.watches
            .iter()
            .enumerate()
            .filter(|(i, w)| {
                included[*i] && !excluded[*i] && w.sources.as_ref().is_none_or(|s| s.iter().any(|s| s == source))
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// A term or text, lower-cased with diacritics removed and whitespace runs made one space.
pub fn fold(text: &str) -> String {
    if text.is_ascii() {
        return fold_ascii(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        for l in c.to_lowercase() {
            match strip_diacritic(l) {
                Some(base) => out.push_str(base),
                None => out.push(l),
            }
        }
    }
    out
}

/// `fold` for ASCII text (most English posts): byte by byte, no case tables. Whitespace is
/// what `char::is_whitespace` calls so in ASCII: space and `\t` to `\r`.
fn fold_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for &b in text.as_bytes() {
        if b == b' ' || (b'\t'..=b'\r').contains(&b) {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(b.to_ascii_lowercase() as char);
    }
    out
}

/// The base letter(s) of a Latin letter with a diacritic, for the four languages and their
/// neighbours; other characters are kept as they are.
fn strip_diacritic(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ą' | 'ā' => "a",
        'ç' | 'ć' | 'č' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'ę' | 'ē' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ł' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ő' => "o",
        'ś' | 'š' => "s",
        'ù' | 'ú' | 'û' | 'ü' | 'ů' | 'ű' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'ĳ' => "ij",
        '’' => "'",
        _ => return None,
    })
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A match counts when it does not continue a word on either side. `#` and `@` count as part
/// of a word on the left, so "kroonbank" does not match inside "#kroonbank" or "@kroonbank".
fn on_word_boundaries(bytes: &[u8], start: usize, end: usize, text: &str) -> bool {
    let left_ok = !text[..start].chars().next_back().is_some_and(|c| is_word(c) || c == '#' || c == '@');
    let right_ok = end == bytes.len() || !text[end..].chars().next().is_some_and(is_word);
    left_ok && right_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WatchSpec;

    fn watch(name: &str, terms: &[&str], exclude: &[&str], sources: Option<&[&str]>) -> WatchSpec {
        WatchSpec {
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            sources: sources.map(|s| s.iter().map(|x| x.to_string()).collect()),
            ..WatchSpec::new(name, terms)
        }
    }

    #[test]
    fn the_ascii_fold_agrees_with_the_general_one() {
        let general = |t: &str| {
            // The general path, forced by a non-ASCII character that folds away at the end.
            let f = fold(&format!("{t} é"));
            f.strip_suffix(" e").map(str::to_string).unwrap_or(f)
        };
        for t in ["Kroon BANK's  app\t\n is\x0bDOWN", "  leading and trailing  ", "#KroonBank @Kroon_Bank!", "a\r\nb"] {
            assert_eq!(fold(t), general(t), "{t:?}");
        }
    }

    fn matcher() -> Matcher {
        let watches = [
            watch("kroon", &["kroon bank", "#kroonbank", "@kroonbank"], &["kroon bank holiday"], None),
            watch("lodz", &["Łódź"], &[], None),
            watch("rss-only", &["outage"], &[], Some(&["news"])),
        ];
        Matcher::new(watches.iter().map(WatchSpec::terms))
    }

    #[test]
    fn phrases_match_on_word_boundaries_case_insensitively() {
        let m = matcher();
        assert_eq!(m.watches_for("x", "Down again at KROON  BANK's branch"), ["kroon"]);
        assert!(m.watches_for("x", "a kroonbankier says hi").is_empty());
        assert!(m.watches_for("x", "mykroon bank").is_empty());
    }

    #[test]
    fn hashtags_and_handles_match_only_as_such() {
        let m = matcher();
        assert_eq!(m.watches_for("x", "#KroonBank is down"), ["kroon"]);
        assert_eq!(m.watches_for("x", "ping @KroonBank!"), ["kroon"]);
        assert!(m.watches_for("x", "#KroonBankHoliday").is_empty(), "a longer hashtag is another hashtag");
        assert!(m.watches_for("x", "kroonbank").is_empty(), "the bare word is not the hashtag");
    }

    #[test]
    fn diacritics_are_folded_both_ways() {
        let m = matcher();
        assert_eq!(m.watches_for("x", "Byłem w Łodzi? nie, w ŁÓDŹ"), ["lodz"]);
        assert_eq!(m.watches_for("x", "lodz is nice"), ["lodz"]);
    }

    #[test]
    fn an_exclude_term_wins_and_sources_scope_a_watch() {
        let m = matcher();
        assert!(m.watches_for("x", "Kroon Bank holiday opening hours").is_empty());
        assert_eq!(m.watches_for("news", "outage at kroon bank"), ["kroon", "rss-only"]);
        assert_eq!(m.watches_for("mastodon", "outage at kroon bank"), ["kroon"]);
    }

    #[test]
    fn no_watches_no_matches() {
        assert!(Matcher::new([]).watches_for("x", "anything").is_empty());
    }
}
