//! Splits a post into the tokens the scorer looks at, in one pass and without allocating
//! per token.
//!
//! Words are lower-cased into one reusable buffer (`Tokens::text`) and referred to by byte
//! ranges. What a social-media post contains beyond words is classified here too:
//! URLs and `@handles` are dropped (they name things, they do not judge them), hashtags are
//! kept whole (for `#term` lexicon entries) *and* split into words on case changes
//! (`#BoycottKroonBank` → `boycott`, `kroon`, `bank`), emoji and emoticons become tokens of
//! their own, and sentence punctuation becomes a boundary that limits negation and contrast.
//!
//! The tokenizer does not know any language: the same tokens feed language identification
//! and scoring.

use std::ops::Range;

/// Words longer than this are not in any lexicon (they are hashes, base64, URLs without a
/// scheme); they are skipped rather than lower-cased.
const MAX_WORD_BYTES: usize = 64;

/// A text yields at most this many tokens; the rest is not looked at. Keeps scoring a 1 MB
/// paste linear and bounded (a real post has well under 200).
pub const MAX_TOKENS: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A word (letters, digits, inner `'` or `-`), lower-cased.
    Word,
    /// A whole hashtag, lower-cased, with its `#`. Its words follow as `Word` tokens.
    Hashtag,
    /// One emoji (modifiers, variation selectors and joined sequences folded into the first).
    Emoji,
    /// An emoticon such as `:-)` or `<3`, lower-cased.
    Emoticon,
    /// `.` `!` `?` `…`: ends a sentence (contrast and negation stop here).
    SentenceEnd,
    /// `,` `;` `:`: ends a clause (negation stops here).
    ClauseEnd,
}

/// Flags on a token; a plain bit set keeps `Token` at 12 bytes.
pub(crate) mod flag {
    /// Written in capitals ("NEVER") in a text that is not all capitals.
    pub(crate) const CAPS: u8 = 1;
    /// A letter repeated three or more times ("sooo", "nieeee").
    pub(crate) const ELONGATED: u8 = 2;
    /// Came from splitting a hashtag.
    pub(crate) const FROM_HASHTAG: u8 = 4;
    /// Inside quotation marks of at most `MAX_QUOTED_WORDS` words: scare quotes
    /// ("the 'upgrade'", „jak u babci”) put a word in someone else's mouth.
    pub(crate) const QUOTED: u8 = 8;
    /// On a sentence end: the sentence ended with `?`.
    pub(crate) const QUESTION: u8 = 16;
}

/// Quotations longer than this are citations, not scare quotes.
const MAX_QUOTED_WORDS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub flags: u8,
    start: u32,
    end: u32,
}

impl Token {
    pub fn range(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    pub(crate) fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    pub(crate) fn is_boundary(&self) -> bool {
        matches!(self.kind, TokenKind::SentenceEnd | TokenKind::ClauseEnd)
    }
}

/// Which strings are emoticons and which characters are emoji: the tokenizer needs to know
/// both to cut a chunk like `great:)` or `top👍👍` correctly.
pub trait Signs {
    fn is_emoticon(&self, lowered: &str) -> bool;
    /// Could an emoticon start with this ASCII byte? A cheap pre-check before a lookup.
    fn may_start_emoticon(&self, b: u8) -> bool;
    /// Could `chunk` be an emoticon at all? Cheap checks that spare most words a lookup:
    /// the first byte, the length, and whether it has anything but letters and digits.
    fn may_be_emoticon(&self, chunk: &str) -> bool;
    fn is_emoji(&self, c: char) -> bool;
}

/// The tokens of one text. Reused between texts: `tokenize` clears it first.
#[derive(Debug, Default)]
pub struct Tokens {
    /// Lower-cased token text; tokens point into it.
    pub text: String,
    pub tokens: Vec<Token>,
    pub exclamations: u32,
    pub questions: u32,
    /// Word tokens written in capitals, and all word tokens with at least two letters:
    /// emphasis by capitals only counts when some words are not in capitals.
    pub caps_words: u32,
    pub cased_words: u32,
    /// The text had more than `MAX_TOKENS` tokens; the rest was not looked at.
    pub truncated: bool,
    /// Scratch for a chunk with HTML entities decoded.
    decoded: String,
}

impl Tokens {
    pub(crate) fn str(&self, t: &Token) -> &str {
        &self.text[t.range()]
    }

    /// True when emphasis by capitals means something: some, but not all, words are in
    /// capitals (a text in all capitals is shouting throughout, which says nothing per word).
    pub(crate) fn caps_contrast(&self) -> bool {
        self.caps_words > 0 && self.caps_words < self.cased_words
    }

    fn clear(&mut self) {
        self.text.clear();
        self.tokens.clear();
        self.exclamations = 0;
        self.questions = 0;
        self.caps_words = 0;
        self.cased_words = 0;
        self.truncated = false;
    }

    fn push(&mut self, kind: TokenKind, flags: u8, start: usize) {
        // Offsets fit u32: the token cap keeps `text` far below 4 GiB.
        self.tokens.push(Token { kind, flags, start: start as u32, end: self.text.len() as u32 });
    }

    fn push_boundary(&mut self, kind: TokenKind) {
        // Repeated punctuation ("!!!", "?!") is one boundary.
        if let Some(last) = self.tokens.last() {
            if last.is_boundary() {
                if kind == TokenKind::SentenceEnd && last.kind == TokenKind::ClauseEnd {
                    self.tokens.pop();
                } else {
                    return;
                }
            }
        }
        let at = self.text.len();
        self.push(kind, 0, at);
    }

    /// Flags the words from token `from` on as quoted, if they are few enough to be scare
    /// quotes.
    fn mark_quoted(&mut self, from: usize) {
        let quoted = &mut self.tokens[from..];
        if quoted.iter().filter(|t| t.kind == TokenKind::Word).count() <= MAX_QUOTED_WORDS {
            quoted.iter_mut().filter(|t| t.kind == TokenKind::Word).for_each(|t| t.flags |= flag::QUOTED);
        }
    }

    fn full(&mut self) -> bool {
        if self.tokens.len() >= MAX_TOKENS {
            self.truncated = true;
        }
        self.truncated
    }
}

/// Tokenizes `text` into `out` (cleared first).
pub fn tokenize(text: &str, signs: &impl Signs, out: &mut Tokens) {
    out.clear();
    let mut decoded = std::mem::take(&mut out.decoded);
    // The first token after an opening quotation mark that is not closed yet.
    let mut quote_from: Option<usize> = None;
    for chunk in (Chunks { rest: text }) {
        if out.full() {
            break;
        }
        if is_url_or_handle(chunk) {
            continue;
        }
        // Feeds and exports often leave HTML entities in text ("&lt;3", "AT&amp;T").
        let chunk = if chunk.amp && decode_entities(chunk.text, &mut decoded) { decoded.as_str() } else { chunk.text };
        if try_emoticon(chunk, signs, out) {
            continue;
        }
        let opens = chunk.starts_with(is_quote) && chunk.chars().count() > 1;
        if opens {
            quote_from = Some(out.tokens.len());
        }
        tokenize_chunk(chunk, signs, out);
        if let Some(from) = quote_from {
            let closes = chunk.trim_end_matches(|c| ".,!?;:…)".contains(c)).ends_with(is_quote);
            if closes {
                out.mark_quoted(from);
                quote_from = None;
            } else if out.tokens.len() - from > MAX_QUOTED_WORDS {
                quote_from = None;
            }
        }
    }
    out.decoded = decoded;
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '\'' | '`' | '“' | '”' | '„' | '‘' | '’' | '‚' | '«' | '»')
}

/// Splits on whitespace like `str::split(char::is_whitespace)` minus the empty pieces, but
/// looks at bytes and decodes only non-ASCII characters (most posts are mostly ASCII), and
/// notes on the way the bytes that call for a closer look.
struct Chunks<'a> {
    rest: &'a str,
}

#[derive(Clone, Copy)]
struct Chunk<'a> {
    text: &'a str,
    /// Contains `@`, `:` (handles, e-mail, URLs) or `&` (HTML entities).
    at: bool,
    colon: bool,
    amp: bool,
}

/// Byte classes for chunk splitting: plain, ASCII whitespace, a byte that calls for a closer
/// look (`@`, `:`, `&`), or the start of a multi-byte character.
const PLAIN: u8 = 0;
const SPACE: u8 = 1;
const AT: u8 = 2;
const COLON: u8 = 3;
const AMP: u8 = 4;
const MULTI: u8 = 5;

const fn byte_classes() -> [u8; 256] {
    let mut t = [PLAIN; 256];
    let mut b = 0x80;
    while b < 256 {
        t[b] = MULTI;
        b += 1;
    }
    t[b' ' as usize] = SPACE;
    t[b'\t' as usize] = SPACE;
    t[b'\n' as usize] = SPACE;
    t[b'\r' as usize] = SPACE;
    t[0x0b] = SPACE;
    t[0x0c] = SPACE;
    t[b'@' as usize] = AT;
    t[b':' as usize] = COLON;
    t[b'&' as usize] = AMP;
    t
}

static CLASS: [u8; 256] = byte_classes();

impl<'a> Iterator for Chunks<'a> {
    type Item = Chunk<'a>;

    #[inline]
    fn next(&mut self) -> Option<Chunk<'a>> {
        let bytes = self.rest.as_bytes();
        let mut i = 0;
        // Skip whitespace.
        while i < bytes.len() {
            match CLASS[bytes[i] as usize] {
                SPACE => i += 1,
                MULTI => {
                    let c = next_char(self.rest, i);
                    if !c.is_whitespace() {
                        break;
                    }
                    i += c.len_utf8();
                }
                _ => break,
            }
        }
        if i == bytes.len() {
            self.rest = "";
            return None;
        }
        let start = i;
        let (mut at, mut colon, mut amp) = (false, false, false);
        loop {
            // Tight inner loop over plain bytes; everything else is handled below.
            i += bytes[i..].iter().position(|&b| CLASS[b as usize] != PLAIN).unwrap_or(bytes.len() - i);
            let Some(&b) = bytes.get(i) else { break };
            match CLASS[b as usize] {
                SPACE => break,
                AT => at = true,
                COLON => colon = true,
                AMP => amp = true,
                _ => {
                    let c = next_char(self.rest, i);
                    if c.is_whitespace() {
                        break;
                    }
                    i += c.len_utf8() - 1;
                }
            }
            i += 1;
        }
        let text = &self.rest[start..i];
        self.rest = &self.rest[i..];
        Some(Chunk { text, at, colon, amp })
    }
}

/// Decodes `&lt;` `&gt;` `&amp;` `&quot;` `&apos;` `&nbsp;` and numeric entities in `chunk`
/// into `out`; returns false (and leaves `out` alone) when there is nothing to decode.
fn decode_entities(chunk: &str, out: &mut String) -> bool {
    let mut rest = chunk;
    let mut changed = false;
    let mut buf = String::new();
    while let Some(amp) = rest.find('&') {
        buf.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let entity = after.find(';').filter(|&end| end <= 8).and_then(|end| {
            let name = &after[..end];
            let c = match name {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match entity {
            Some((c, end)) => {
                buf.push(c);
                rest = &after[end + 1..];
                changed = true;
            }
            None => {
                buf.push('&');
                rest = after;
            }
        }
    }
    if changed {
        buf.push_str(rest);
        out.clear();
        out.push_str(&buf);
    }
    changed
}

#[inline]
fn is_url_or_handle(chunk: Chunk<'_>) -> bool {
    let text = chunk.text;
    let b = text.as_bytes();
    let lower_starts = |p: &str| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    (chunk.at && (b[0] == b'@' || text.find('@').is_some_and(|at| text[at..].contains('.'))))
        || (chunk.colon && text.contains("://"))
        || lower_starts("www.")
}

/// Emits `chunk` as one emoticon if it is one (case-insensitively: `:D`, `XD`).
#[inline]
fn try_emoticon(chunk: &str, signs: &impl Signs, out: &mut Tokens) -> bool {
    if !signs.may_be_emoticon(chunk) {
        return false;
    }
    let start = out.text.len();
    out.text.push_str(chunk);
    out.text[start..].make_ascii_lowercase();
    if signs.is_emoticon(&out.text[start..]) {
        out.push(TokenKind::Emoticon, 0, start);
        true
    } else {
        out.text.truncate(start);
        false
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn is_joiner(c: char) -> bool {
    matches!(c, '\'' | '’' | '-')
}

/// Variation selectors, skin tones and zero-width joiners that belong to the emoji before.
fn is_emoji_modifier(c: char) -> bool {
    matches!(c, '\u{FE0E}' | '\u{FE0F}' | '\u{200D}' | '\u{20E3}' | '\u{1F3FB}'..='\u{1F3FF}')
        || ('\u{E0020}'..='\u{E007F}').contains(&c)
}

#[inline(always)]
fn tokenize_chunk(chunk: &str, signs: &impl Signs, out: &mut Tokens) {
    let bytes = chunk.as_bytes();
    let mut i = 0;
    let mut hashtag = false;
    while i < bytes.len() {
        if out.full() {
            return;
        }
        let c = if bytes[i] < 0x80 { bytes[i] as char } else { next_char(chunk, i) };
        let len = c.len_utf8();
        if !hashtag && (c.is_ascii_alphanumeric() || (c as u32) >= 0xC0 && (c as u32) <= 0x17F) {
            // The common case, in one pass: find the word's end, count its capitals and
            // repeats, copy it lower-cased.
            if let Some(w) = scan_ascii_word(bytes, i).or_else(|| scan_latin_word(bytes, i)) {
                if w.end > i {
                    push_latin_word(&chunk[i..w.end], w, out);
                    i = w.end;
                    continue;
                }
            }
        }
        if is_word_char(c) {
            let end = word_end(chunk, i);
            if hashtag {
                push_hashtag(&chunk[i..end], out);
                hashtag = false;
            } else {
                push_word(&chunk[i..end], 0, out);
            }
            i = end;
            continue;
        }
        hashtag = false;
        match c {
            '#' => hashtag = true,
            '@' => {
                // A handle inside a chunk ("RT:@kroonbank"): skip its name.
                i = word_end(chunk, i + 1).max(i + 1);
                continue;
            }
            '!' => {
                out.exclamations += 1;
                out.push_boundary(TokenKind::SentenceEnd);
            }
            '?' => {
                out.questions += 1;
                out.push_boundary(TokenKind::SentenceEnd);
                if let Some(end) = out.tokens.last_mut() {
                    end.flags |= flag::QUESTION;
                }
            }
            _ if c.is_ascii_punctuation() || c == '…' => {
                // The rest of the chunk may be an emoticon: "great:)", "ok:-(".
                if try_emoticon_tail(chunk, i, signs, out) {
                    return;
                }
                match c {
                    '.' | '…' => out.push_boundary(TokenKind::SentenceEnd),
                    ',' | ';' | ':' => out.push_boundary(TokenKind::ClauseEnd),
                    _ => {}
                }
            }
            _ if signs.is_emoji(c) => {
                let start = out.text.len();
                out.text.push(c);
                out.push(TokenKind::Emoji, 0, start);
                // Fold modifiers and joined sequences (👩‍💻, 👍🏽) into this emoji.
                let mut j = i + len;
                while j < bytes.len() {
                    let m = next_char(chunk, j);
                    if m == '\u{200D}' {
                        j += m.len_utf8();
                        if j < bytes.len() {
                            j += next_char(chunk, j).len_utf8();
                        }
                    } else if is_emoji_modifier(m) {
                        j += m.len_utf8();
                    } else {
                        break;
                    }
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += len;
    }
}

fn next_char(s: &str, i: usize) -> char {
    // `i` is always on a char boundary; the fallback is unreachable but panics are not allowed.
    s[i..].chars().next().unwrap_or(' ')
}

/// End of the word starting at `i`: word characters, with `'` or `-` allowed between them.
fn word_end(chunk: &str, i: usize) -> usize {
    // ASCII fast path; hands over to the general loop at the first non-ASCII byte.
    let b = chunk.as_bytes();
    let mut j = i;
    while j < b.len() && b[j] < 0x80 {
        let joiner = (b[j] == b'\'' || b[j] == b'-') && j > i && j + 1 < b.len() && b[j + 1].is_ascii_alphanumeric();
        if b[j].is_ascii_alphanumeric() || joiner {
            j += 1;
        } else {
            return j;
        }
    }
    if j == b.len() {
        return j;
    }
    word_end_unicode(chunk, i)
}

fn word_end_unicode(chunk: &str, i: usize) -> usize {
    let mut end = i;
    let mut iter = chunk[i..].char_indices().peekable();
    while let Some((off, c)) = iter.next() {
        if is_word_char(c) {
            end = i + off + c.len_utf8();
        } else if is_joiner(c) && end == i + off && iter.peek().is_some_and(|&(_, n)| is_word_char(n)) {
            continue;
        } else {
            break;
        }
    }
    end
}

/// Tries to read the rest of the chunk from `i` as an emoticon (`great:)` → `:)`), also
/// with trailing `!`/`.` removed (`great:)!!`).
fn try_emoticon_tail(chunk: &str, i: usize, signs: &impl Signs, out: &mut Tokens) -> bool {
    let tail = &chunk[i..];
    if tail.len() < 2 || tail.len() > 12 || !signs.may_start_emoticon(tail.as_bytes()[0].to_ascii_lowercase()) {
        return false;
    }
    // Glued to a word, only a face made of punctuation counts ("great:)", "love<3"): Swedish
    // genitives ("SVT:s") and abbreviations ("(FP):") would otherwise read as ":s" and "):".
    let after_word = chunk[..i].chars().next_back().is_some_and(is_word_char);
    if after_word
        && (!matches!(tail.as_bytes()[0], b':' | b';' | b'=' | b'<') || tail.bytes().any(|b| b.is_ascii_alphabetic()))
    {
        return false;
    }
    let trimmed = tail.trim_end_matches(['!', '.', '?']);
    for candidate in [tail, trimmed] {
        if candidate.len() >= 2 && try_emoticon(candidate, signs, out) {
            let rest = &tail[candidate.len()..];
            out.exclamations += rest.matches('!').count() as u32;
            out.questions += rest.matches('?').count() as u32;
            return true;
        }
    }
    false
}

/// What one scan of a Latin-script word found.
#[derive(Clone, Copy)]
struct LatinWord {
    end: usize,
    letters: u32,
    upper: u32,
    elongated: bool,
    /// Has a character outside ASCII (all of them in U+00C0..=U+017F).
    extended: bool,
}

impl LatinWord {
    fn start(i: usize) -> LatinWord {
        LatinWord { end: i, letters: 0, upper: 0, elongated: false, extended: false }
    }

    /// Counts one letter or digit (`lower` is its lower-cased code point); `run` and `prev`
    /// track repeats for elongation.
    #[inline(always)]
    fn count(&mut self, lower: u32, is_alpha: bool, is_upper: bool, run: &mut u32, prev: &mut u32) {
        self.letters += is_alpha as u32;
        self.upper += is_upper as u32;
        *run = if lower == *prev { *run + 1 } else { 1 };
        self.elongated |= *run >= 3 && is_alpha;
        *prev = lower;
    }
}

/// Case of a letter in U+00C0..=U+017F (Latin-1 Supplement and Latin Extended-A, which hold
/// every Dutch, Swedish and Polish letter): `(is_upper, lower)`, or `None` for the few code
/// points that are not letters or do not lower-case to one character (×, ÷, İ). A table-free
/// rule: Unicode's general case lookup dominated scoring Polish.
#[inline]
fn latin_case(c: char) -> Option<(bool, char)> {
    let u = c as u32;
    let shifted = |d: u32| char::from_u32(u + d);
    match u {
        0xD7 | 0xF7 | 0x130 => None,
        0xC0..=0xDE => Some((true, shifted(0x20)?)),
        0xDF..=0xFF => Some((false, c)),
        0x178 => Some((true, 'ÿ')),
        // Pairs: upper at even code points, lower at odd ones...
        0x100..=0x137 | 0x14A..=0x177 => Some(if u.is_multiple_of(2) { (true, shifted(1)?) } else { (false, c) }),
        // ...and the other way round here.
        0x139..=0x148 | 0x179..=0x17E => Some(if u % 2 == 1 { (true, shifted(1)?) } else { (false, c) }),
        0x138 | 0x149 | 0x17F => Some((false, c)),
        _ => None,
    }
}

/// Decodes the two-byte character at `b[j]` if it is in U+00C0..=U+017F (lead byte C3..C5).
#[inline]
fn latin_at(b: &[u8], j: usize) -> Option<char> {
    let lead = b[j];
    let cont = *b.get(j + 1)?;
    if !(0xC3..=0xC5).contains(&lead) || cont & 0xC0 != 0x80 {
        return None;
    }
    char::from_u32(((lead as u32 & 0x1F) << 6) | (cont as u32 & 0x3F))
}

/// Scans the word starting at `i` made of ASCII letters and digits and Latin letters up to
/// U+017F, with `'` or `-` between them; `None` if it runs into anything else non-ASCII
/// (then the general Unicode path takes the word).
// Out of line: for English the rare path, and inlining it makes the common one slower.
#[inline(never)]
fn scan_latin_word(b: &[u8], i: usize) -> Option<LatinWord> {
    let mut w = LatinWord::start(i);
    let (mut run, mut prev) = (0u32, 0u32);
    let mut j = i;
    while j < b.len() {
        let c = b[j];
        if c < 0x80 {
            let class = WORD_CLASS[c as usize];
            if class & ALNUM != 0 {
                w.count((c | (class & UPPER)) as u32, class & ALPHA != 0, class & UPPER != 0, &mut run, &mut prev);
                j += 1;
            } else if (c == b'\'' || c == b'-') && j > i && is_latin_word_byte_at(b, j + 1) {
                (run, prev) = (1, c as u32);
                j += 1;
            } else if c == b'\'' && b.get(j + 1).is_some_and(|&n| n >= 0x80) {
                return None;
            } else {
                break;
            }
        } else {
            let (is_upper, lower) = latin_at(b, j).and_then(latin_case)?;
            w.extended = true;
            w.count(lower as u32, true, is_upper, &mut run, &mut prev);
            j += 2;
        }
    }
    w.end = j;
    Some(w)
}

/// The ASCII-only special case of `scan_latin_word`, kept separate because its tighter loop
/// is measurably cheaper (about 5% of an English post's instructions); `None` at the first
/// non-ASCII byte.
#[inline]
fn scan_ascii_word(b: &[u8], i: usize) -> Option<LatinWord> {
    let mut w = LatinWord::start(i);
    let (mut run, mut prev) = (0u32, 0u32);
    let mut j = i;
    while j < b.len() {
        let c = b[j];
        let class = WORD_CLASS[c as usize];
        if class & ALNUM != 0 {
            w.count((c | (class & UPPER)) as u32, class & ALPHA != 0, class & UPPER != 0, &mut run, &mut prev);
            j += 1;
        } else if c >= 0x80 {
            return None;
        } else if (c == b'\'' || c == b'-')
            && j > i
            && b.get(j + 1).is_some_and(|&n| WORD_CLASS[n as usize] & ALNUM != 0)
        {
            (run, prev) = (1, c as u32);
            j += 1;
        } else if c == b'\'' && b.get(j + 1).is_some_and(|&n| n >= 0x80) {
            return None;
        } else {
            break;
        }
    }
    w.end = j;
    Some(w)
}

/// Whether a word of the fast path continues at `j` (after a `'` or `-`).
#[inline]
fn is_latin_word_byte_at(b: &[u8], j: usize) -> bool {
    match b.get(j) {
        Some(&c) if c < 0x80 => WORD_CLASS[c as usize] & ALNUM != 0,
        Some(_) => latin_at(b, j).and_then(latin_case).is_some(),
        None => false,
    }
}

#[inline]
fn push_latin_word(word: &str, w: LatinWord, out: &mut Tokens) {
    if word.len() > MAX_WORD_BYTES {
        return;
    }
    let start = out.text.len();
    if w.upper == 0 {
        out.text.push_str(word);
    } else if !w.extended {
        // ASCII only, so pushing each lower-cased byte as a char is exact.
        out.text.extend(word.bytes().map(|b| b.to_ascii_lowercase() as char));
    } else {
        out.text.extend(word.chars().map(|c| latin_case(c).map_or(c.to_ascii_lowercase(), |(_, l)| l)));
    }
    let mut flags = if w.elongated { flag::ELONGATED } else { 0 };
    if w.letters >= 2 {
        out.cased_words += 1;
        if w.upper == w.letters {
            out.caps_words += 1;
            flags |= flag::CAPS;
        }
    }
    out.push(TokenKind::Word, flags, start);
}

/// Bits of `WORD_CLASS`. `UPPER` is 0x20, the bit that lower-cases an ASCII capital.
const ALNUM: u8 = 1;
const ALPHA: u8 = 2;
const UPPER: u8 = 0x20;

const fn word_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_digit() {
            t[b] = ALNUM;
        } else if c.is_ascii_lowercase() {
            t[b] = ALNUM | ALPHA;
        } else if c.is_ascii_uppercase() {
            t[b] = ALNUM | ALPHA | UPPER;
        }
        b += 1;
    }
    t
}

static WORD_CLASS: [u8; 256] = word_classes();

fn push_word(word: &str, flags: u8, out: &mut Tokens) {
    if word.len() > MAX_WORD_BYTES {
        return;
    }
    let start = out.text.len();
    let mut letters = 0u32;
    let mut upper = 0u32;
    let mut elongated = false;
    let mut prev = '\0';
    let mut run = 0;
    if word.is_ascii() {
        for &b in word.as_bytes() {
            letters += b.is_ascii_alphabetic() as u32;
            upper += b.is_ascii_uppercase() as u32;
            let c = b.to_ascii_lowercase() as char;
            run = if c == prev { run + 1 } else { 1 };
            elongated |= run >= 3 && c.is_ascii_alphabetic();
            prev = c;
        }
        out.text.push_str(word);
        out.text[start..].make_ascii_lowercase();
    } else {
        for c in word.chars() {
            let c = if c == '’' { '\'' } else { c };
            letters += c.is_alphabetic() as u32;
            upper += c.is_uppercase() as u32;
            let mut lower = c.to_lowercase();
            let first = lower.next().unwrap_or(c);
            out.text.push(first);
            out.text.extend(lower);
            run = if first == prev { run + 1 } else { 1 };
            elongated |= run >= 3 && first.is_alphabetic();
            prev = first;
        }
    }
    let mut flags = flags;
    if elongated {
        flags |= flag::ELONGATED;
    }
    if letters >= 2 && flags & flag::FROM_HASHTAG == 0 {
        out.cased_words += 1;
        if upper == letters {
            out.caps_words += 1;
            flags |= flag::CAPS;
        }
    }
    out.push(TokenKind::Word, flags, start);
}

/// Emits `#body` whole, then its words split at lower→upper and letter↔digit changes and
/// underscores: `BoycottKroonBank` → boycott, kroon, bank; `MH17` → mh, 17.
fn push_hashtag(body: &str, out: &mut Tokens) {
    if body.len() > MAX_WORD_BYTES {
        return;
    }
    let start = out.text.len();
    out.text.push('#');
    for c in body.chars() {
        out.text.extend(c.to_lowercase());
    }
    out.push(TokenKind::Hashtag, 0, start);

    let mut part_start = 0;
    let mut prev: Option<char> = None;
    for (off, c) in body.char_indices() {
        if let Some(p) = prev {
            let split = (p.is_lowercase() && c.is_uppercase())
                || (p.is_alphabetic() && c.is_numeric())
                || (p.is_numeric() && c.is_alphabetic())
                || !is_word_char(c);
            if split && off > part_start {
                push_word(body[part_start..off].trim_matches(|c| !is_word_char(c)), flag::FROM_HASHTAG, out);
                part_start = off;
            }
        }
        prev = Some(c);
    }
    let last = body[part_start..].trim_matches(|c| !is_word_char(c));
    if !last.is_empty() {
        push_word(last, flag::FROM_HASHTAG, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TestSigns;
    impl Signs for TestSigns {
        fn is_emoticon(&self, s: &str) -> bool {
            matches!(s, ":)" | ":-(" | ":d" | "<3" | "xd")
        }
        fn may_start_emoticon(&self, b: u8) -> bool {
            matches!(b, b':' | b'<' | b'x')
        }
        fn may_be_emoticon(&self, chunk: &str) -> bool {
            chunk.len() <= 4 && self.may_start_emoticon(chunk.as_bytes()[0].to_ascii_lowercase())
        }
        fn is_emoji(&self, c: char) -> bool {
            matches!(c, '😡' | '👍')
        }
    }

    fn toks(text: &str) -> Vec<(TokenKind, String)> {
        let mut out = Tokens::default();
        tokenize(text, &TestSigns, &mut out);
        out.tokens.iter().map(|t| (t.kind, out.str(t).to_string())).collect()
    }

    fn words(text: &str) -> Vec<String> {
        toks(text).into_iter().filter(|(k, _)| *k == TokenKind::Word).map(|(_, w)| w).collect()
    }

    #[test]
    fn urls_handles_and_emails_are_ignored() {
        assert_eq!(
            words("RT @KroonBank: down again https://t.co/abc www.x.nl mail me@x.org ok"),
            ["rt", "down", "again", "mail", "ok"]
        );
    }

    #[test]
    fn lower_cases_swedish_polish_and_dutch_letters() {
        assert_eq!(words("ÅÄÖ ĄĘŁŃÓŚŹŻ IJSSEL Över"), ["åäö", "ąęłńóśźż", "ijssel", "över"]);
    }

    #[test]
    fn hashtags_are_kept_whole_and_split_on_case_changes() {
        let t = toks("#BoycottKroonBank #storing #MH17");
        let kinds: Vec<_> = t.iter().map(|(k, s)| (*k, s.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (TokenKind::Hashtag, "#boycottkroonbank"),
                (TokenKind::Word, "boycott"),
                (TokenKind::Word, "kroon"),
                (TokenKind::Word, "bank"),
                (TokenKind::Hashtag, "#storing"),
                (TokenKind::Word, "storing"),
                (TokenKind::Hashtag, "#mh17"),
                (TokenKind::Word, "mh"),
                (TokenKind::Word, "17"),
            ]
        );
    }

    #[test]
    fn emoticons_stand_alone_or_after_a_word() {
        let t = toks("great:) :D XD <3 :-(!!");
        let emoticons: Vec<_> = t.iter().filter(|(k, _)| *k == TokenKind::Emoticon).map(|(_, s)| s.as_str()).collect();
        assert_eq!(emoticons, [":)", ":d", "xd", "<3", ":-("]);
    }

    #[test]
    fn genitives_and_abbreviations_are_not_emoticons() {
        let t = toks("SVT:s (FP): great:) x:D");
        let emoticons: Vec<_> = t.iter().filter(|(k, _)| *k == TokenKind::Emoticon).map(|(_, s)| s.as_str()).collect();
        assert_eq!(emoticons, [":)"]);
    }

    #[test]
    fn emoji_sequences_fold_into_their_first_emoji() {
        let t = toks("top👍🏽👍 😡\u{fe0f}");
        let emoji: Vec<_> = t.iter().filter(|(k, _)| *k == TokenKind::Emoji).map(|(_, s)| s.as_str()).collect();
        assert_eq!(emoji, ["👍", "👍", "😡"]);
        assert_eq!(words("top👍🏽👍"), ["top"]);
    }

    #[test]
    fn latin_letters_lower_case_like_unicode_says() {
        for u in 0xC0u32..=0x17F {
            let Some(c) = char::from_u32(u) else { continue };
            if let Some((upper, lower)) = latin_case(c) {
                assert_eq!(upper, c.is_uppercase(), "{c} U+{u:04X}");
                assert_eq!(Some(lower), c.to_lowercase().next(), "{c} U+{u:04X}");
                assert_eq!(c.to_lowercase().count(), 1, "{c}");
                assert!(c.is_alphabetic(), "{c}");
            } else {
                assert!(
                    !c.is_alphabetic() || c.to_lowercase().count() != 1,
                    "{c} U+{u:04X} is left to the general path"
                );
            }
        }
    }

    #[test]
    fn fast_and_general_word_paths_agree() {
        let text = "ŻÓŁW żółw Łódź ÅÄÖ åäö Éé IJSSEL café's rip-off ZAŻÓŁĆ gęślą jaźń ŚWIETNIE nieeeee Ö-läge ÿŸ";
        for word in text.split(' ') {
            let b = word.as_bytes();
            let w = scan_latin_word(b, 0).unwrap_or_else(|| panic!("{word} takes the fast path"));
            let mut fast = Tokens::default();
            push_latin_word(&word[..w.end], w, &mut fast);
            let mut general = Tokens::default();
            push_word(&word[..word_end(word, 0)], 0, &mut general);
            assert_eq!(
                (fast.text.as_str(), fast.tokens[0].flags),
                (general.text.as_str(), general.tokens[0].flags),
                "{word}"
            );
            assert_eq!((fast.caps_words, fast.cased_words), (general.caps_words, general.cased_words), "{word}");
        }
    }

    #[test]
    fn apostrophes_and_hyphens_stay_inside_words() {
        assert_eq!(
            words("can’t log-in, it's a rip-off -- 'quoted'"),
            ["can't", "log-in", "it's", "a", "rip-off", "quoted"]
        );
    }

    #[test]
    fn capitals_and_elongation_are_flagged() {
        let mut out = Tokens::default();
        tokenize("this is sooo BAD", &TestSigns, &mut out);
        let flags: Vec<_> = out.tokens.iter().map(|t| t.flags).collect();
        assert_eq!(flags, [0, 0, flag::ELONGATED, flag::CAPS]);
        assert!(out.caps_contrast());
        tokenize("ALL OF IT BAD", &TestSigns, &mut out);
        assert!(!out.caps_contrast(), "shouting throughout is not emphasis per word");
    }

    #[test]
    fn punctuation_becomes_boundaries_and_counts() {
        let mut out = Tokens::default();
        tokenize("bad!!! really?? ok, fine", &TestSigns, &mut out);
        let kinds: Vec<_> = out.tokens.iter().map(|t| t.kind).collect();
        use TokenKind::*;
        assert_eq!(kinds, [Word, SentenceEnd, Word, SentenceEnd, Word, ClauseEnd, Word]);
        assert_eq!((out.exclamations, out.questions), (3, 2));
    }

    #[test]
    fn html_entities_are_decoded() {
        let t = toks("love &lt;3 AT&amp;T &quot;ok&quot; &#233;t&#xE9; &bogus; &");
        let texts: Vec<_> =
            t.iter().filter(|(k, _)| !matches!(k, TokenKind::ClauseEnd)).map(|(_, s)| s.as_str()).collect();
        assert_eq!(texts, ["love", "<3", "at", "t", "ok", "été", "bogus"]);
        assert_eq!(t[1].0, TokenKind::Emoticon);
    }

    #[test]
    fn giant_input_is_capped() {
        let text = "word ".repeat(200_000);
        let mut out = Tokens::default();
        tokenize(&text, &TestSigns, &mut out);
        assert_eq!(out.tokens.len(), MAX_TOKENS);
        assert!(out.truncated);
    }

    #[test]
    fn odd_input_does_not_panic() {
        for text in ["", " ", "#", "@", "#@#", "’’", "--", "x\u{200D}", "👍\u{200D}", ":", "a'", "'a", "\u{0}"] {
            let _ = toks(text);
        }
    }
}
