//! Emoji and emoticons: signs that mean the same in every language, so one table serves all.
//!
//! `lexicons/emoji.tsv` and `lexicons/emoticons.tsv` are generated from VADER;
//! `lexicons/emoji-extra.tsv` holds the team's corrections and wins.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use super::lexicon::{data_lines, LexiconError};
use super::tokenize::Signs;

const STARTS: u8 = 1;
const STARTS_ALNUM: u8 = 2;

#[derive(Debug, Default)]
pub struct SignLexicon {
    emoji: FxHashMap<char, f32>,
    emoticons: FxHashMap<Box<str>, f32>,
    /// Per ASCII byte: `STARTS` if it starts an emoticon, `STARTS_ALNUM` if it starts an
    /// emoticon made only of letters and digits ("xd").
    starts: Vec<u8>,
    max_emoticon_len: usize,
    /// Longest emoticon made of letters and digits only ("xd"): longer plain words are never
    /// looked up.
    max_alnum_emoticon_len: usize,
    /// Emoji that mark irony (`complaint-signs.tsv`): few, so a slice scan beats a hash.
    /// `true`: irony alone (🙃 🙄); `false`: applause (👏 👌), ironic only next to a complaint.
    irony: Vec<(char, bool)>,
}

impl SignLexicon {
    pub fn builtin() -> Result<&'static SignLexicon, LexiconError> {
        static CACHE: OnceLock<Result<SignLexicon, LexiconError>> = OnceLock::new();
        CACHE
            .get_or_init(|| {
                SignLexicon::load(
                    include_str!("../../lexicons/emoji.tsv"),
                    include_str!("../../lexicons/emoji-extra.tsv"),
                    include_str!("../../lexicons/emoticons.tsv"),
                    include_str!("../../lexicons/emoticons-extra.tsv"),
                )
                .and_then(|s| s.with_complaint_signs(include_str!("../../lexicons/complaint-signs.tsv")))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    pub(crate) fn load(
        emoji: &str,
        emoji_extra: &str,
        emoticons: &str,
        emoticons_extra: &str,
    ) -> Result<SignLexicon, LexiconError> {
        let mut signs = SignLexicon { starts: vec![0; 128], ..SignLexicon::default() };
        for (file, src) in [("emoji.tsv", emoji), ("emoji-extra.tsv", emoji_extra)] {
            for (line, cols) in data_lines(src) {
                let mut chars = cols[0].chars();
                let (Some(c), None) = (chars.next(), chars.next()) else {
                    return Err(err(file, line, format!("{:?} is not a single emoji", cols[0])));
                };
                let v = valence(file, line, cols.get(1))?;
                if v == 0.0 {
                    signs.emoji.remove(&c);
                } else {
                    signs.emoji.insert(c, v);
                }
            }
        }
        let emoticon_files = [("emoticons.tsv", emoticons), ("emoticons-extra.tsv", emoticons_extra)];
        for (line, cols, file) in
            emoticon_files.iter().flat_map(|(f, src)| data_lines(src).map(move |(l, c)| (l, c, *f)))
        {
            let text = cols[0].to_lowercase();
            let v = valence(file, line, cols.get(1))?;
            if let Some(&b) = text.as_bytes().first().filter(|b| b.is_ascii()) {
                signs.starts[b as usize] |= STARTS;
            }
            signs.max_emoticon_len = signs.max_emoticon_len.max(text.len());
            if text.bytes().all(|b| b.is_ascii_alphanumeric()) {
                signs.max_alnum_emoticon_len = signs.max_alnum_emoticon_len.max(text.len());
                signs.starts[text.as_bytes()[0] as usize & 127] |= STARTS_ALNUM;
            }
            signs.emoticons.insert(text.into(), v);
        }
        Ok(signs)
    }

    /// Adds the irony markers of `complaint-signs.tsv` (`emoji<TAB>sarcasm`).
    pub(crate) fn with_complaint_signs(mut self, src: &str) -> Result<SignLexicon, LexiconError> {
        const FILE: &str = "complaint-signs.tsv";
        for (line, cols) in data_lines(src) {
            let mut chars = cols[0].chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return Err(err(FILE, line, format!("{:?} is not a single emoji", cols[0])));
            };
            match cols.get(1).copied() {
                Some("sarcasm") => self.irony.push((c, true)),
                Some("applause") => self.irony.push((c, false)),
                other => return Err(err(FILE, line, format!("family {other:?}: expected sarcasm or applause"))),
            }
        }
        Ok(self)
    }

    /// Whether the emoji `c` marks irony: `Some(true)` alone ("🙃", "🙄"), `Some(false)`
    /// next to a complaint (applause, "👏"), `None` not at all.
    pub(crate) fn irony(&self, c: char) -> Option<bool> {
        self.irony.iter().find(|(e, _)| *e == c).map(|(_, alone)| *alone)
    }

    pub(crate) fn emoji(&self, c: char) -> Option<f32> {
        self.emoji.get(&c).copied()
    }

    pub(crate) fn emoticon(&self, lowered: &str) -> Option<f32> {
        self.emoticons.get(lowered).copied()
    }
}

fn err(file: &str, line: usize, problem: String) -> LexiconError {
    LexiconError { file: file.to_string(), line, problem }
}

fn valence(file: &str, line: usize, raw: Option<&&str>) -> Result<f32, LexiconError> {
    let raw = raw.ok_or_else(|| err(file, line, "missing valence column".into()))?;
    match raw.parse::<f32>() {
        Ok(v) if (-4.0..=4.0).contains(&v) => Ok(v),
        _ => Err(err(file, line, format!("valence {raw:?} is not a number in -4..=4"))),
    }
}

impl Signs for SignLexicon {
    fn is_emoticon(&self, lowered: &str) -> bool {
        lowered.len() <= self.max_emoticon_len && self.emoticons.contains_key(lowered)
    }

    fn may_start_emoticon(&self, b: u8) -> bool {
        self.starts.get(b as usize).is_some_and(|s| s & STARTS != 0)
    }

    #[inline]
    fn may_be_emoticon(&self, chunk: &str) -> bool {
        let b = chunk.as_bytes();
        if b.is_empty() || b.len() > self.max_emoticon_len {
            return false;
        }
        let first = b[0].to_ascii_lowercase();
        let Some(&starts) = self.starts.get(first as usize) else { return false };
        if starts == 0 {
            return false;
        }
        if !first.is_ascii_alphanumeric() {
            return true;
        }
        // Emoticons that start with a letter or digit have punctuation within their first
        // three bytes ("o.o", "d:", "j/k", "8)"), or are laughter ("xd", "xddd"). Deciding
        // from at most three bytes spares every ordinary word a scan.
        let punct = |i: usize| b.get(i).is_some_and(|c| !c.is_ascii_alphanumeric());
        if punct(1) || punct(2) {
            return starts & STARTS != 0;
        }
        starts & STARTS_ALNUM != 0 && b.len() <= self.max_alnum_emoticon_len && b.iter().all(u8::is_ascii_alphanumeric)
    }

    fn is_emoji(&self, c: char) -> bool {
        // Unknown emoji still become tokens (with no valence), so that their modifiers and
        // joined sequences are folded away instead of read as text.
        self.emoji.contains_key(&c)
            || matches!(c, '\u{1F000}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}' | '\u{2B00}'..='\u{2BFF}')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_signs_load_with_team_corrections_applied() {
        let s = SignLexicon::builtin().unwrap();
        assert!(s.emoji('😡').is_some_and(|v| v < -2.0));
        assert!(s.emoji('👍').is_some_and(|v| v > 1.0));
        assert_eq!(s.emoji('🙉'), None, "a 0 in emoji-extra.tsv removes a wrongly scored emoji");
        assert!(s.emoticon(":)").is_some_and(|v| v > 0.0));
        assert!(s.emoticon(":d").is_some_and(|v| v > 0.0));
        assert!(s.may_start_emoticon(b':') && s.may_start_emoticon(b'<'));
        assert!(s.emoticon("xd").is_some_and(|v| v > 0.0), "laughter is an emoticon in every language");
        assert!(s.may_be_emoticon("xDD") && !s.may_be_emoticon("xylophone"));
        assert_eq!((s.irony('🙃'), s.irony('👏'), s.irony('😊')), (Some(true), Some(false), None));
    }

    #[test]
    fn a_bad_complaint_sign_names_file_and_line() {
        let err = SignLexicon::default().with_complaint_signs("🙃\tsarcasm\n🙄\tirony\n").unwrap_err();
        assert_eq!((err.file.as_str(), err.line), ("complaint-signs.tsv", 2), "{err}");
    }
}
