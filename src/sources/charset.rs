//! Feed bodies to UTF-8 before they are parsed.
//!
//! feed-rs hands the bytes to quick-xml, which trusts the XML declaration's `encoding` and
//! panics on UTF-16 without a byte order mark, or declared as `ucs-2`/`csunicode` (labels
//! that name UTF-16 little endian while the bytes are big endian). Feeds in the wild also name
//! their charset only in the HTTP `Content-Type`. So the body is decoded here, once, with
//! `encoding_rs`, and the parser only ever sees UTF-8 without a declaration that says
//! otherwise.
//!
//! Which encoding, first match wins (the XML specification's appendix F, and RFC 7303):
//! 1. a byte order mark (UTF-8, UTF-16 BE/LE, UTF-32 BE/LE);
//! 2. the first bytes of `<?` or `<` in UTF-16 or UTF-32 without a mark (a document is
//!    markup from its first byte, so `00 3C 00 3F` can only be UTF-16 BE);
//! 3. the XML declaration's `encoding`, for a body whose first bytes are ASCII;
//! 4. the `charset` of the HTTP `Content-Type`;
//! 5. UTF-8.
//!
//! The declaration comes before the header: the declaration is written with the file, the
//! header by a server configuration that often names a default (`ISO-8859-1`) for every file.
//! A UTF-16 or UTF-32 label on a body whose first bytes are ASCII is a mislabelled file and is
//! ignored. Bytes that are not valid in the chosen encoding become U+FFFD, as in a browser:
//! one bad byte does not cost the whole feed.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

/// The encodings a feed may be in: what `encoding_rs` decodes, and UTF-32, which it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Known(&'static Encoding),
    Utf32 { big_endian: bool },
}

/// The body as UTF-8 text, with an XML declaration that named another encoding left out. A
/// body that is UTF-8 already (the common case) is not copied.
pub(crate) fn feed_to_utf8<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    let (charset, bom) = detect(body, content_type);
    let text: Cow<'a, str> = match charset {
        Charset::Known(enc) => enc.decode_without_bom_handling(&body[bom..]).0,
        Charset::Utf32 { big_endian } => Cow::Owned(decode_utf32(&body[bom..], big_endian)),
    };
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(without_declaration_if_foreign(s).unwrap_or(s)),
        Cow::Owned(s) => match without_declaration_if_foreign(&s) {
            Some(rest) => Cow::Owned(rest.to_string()),
            None => Cow::Owned(s),
        },
    }
}

/// The encoding of `body` and the length of its byte order mark.
fn detect(body: &[u8], content_type: Option<&str>) -> (Charset, usize) {
    if let Some(found) = byte_order_mark(body) {
        return found;
    }
    match body {
        [0, 0, 0, b'<', ..] => return (Charset::Utf32 { big_endian: true }, 0),
        [b'<', 0, 0, 0, ..] => return (Charset::Utf32 { big_endian: false }, 0),
        [0, b'<', ..] => return (Charset::Known(UTF_16BE), 0),
        [b'<', 0, ..] => return (Charset::Known(UTF_16LE), 0),
        _ => {}
    }
    // The body's first bytes are ASCII-compatible here: a UTF-16 label cannot be right.
    let ascii_compatible = |e: &&'static Encoding| e.is_ascii_compatible();
    let declared = declared_label(body).and_then(|l| Encoding::for_label(l.as_bytes())).filter(ascii_compatible);
    let served = content_type.and_then(charset_param).and_then(|l| Encoding::for_label(l.as_bytes()));
    (Charset::Known(declared.or(served.filter(ascii_compatible)).unwrap_or(UTF_8)), 0)
}

fn byte_order_mark(body: &[u8]) -> Option<(Charset, usize)> {
    // UTF-32 LE before UTF-16 LE: its mark starts with UTF-16 LE's.
    Some(match body {
        [0xef, 0xbb, 0xbf, ..] => (Charset::Known(UTF_8), 3),
        [0, 0, 0xfe, 0xff, ..] => (Charset::Utf32 { big_endian: true }, 4),
        [0xff, 0xfe, 0, 0, ..] => (Charset::Utf32 { big_endian: false }, 4),
        [0xfe, 0xff, ..] => (Charset::Known(UTF_16BE), 2),
        [0xff, 0xfe, ..] => (Charset::Known(UTF_16LE), 2),
        _ => return None,
    })
}

/// The `encoding` of an XML declaration at the very start of an ASCII-compatible body.
fn declared_label(body: &[u8]) -> Option<String> {
    // A declaration is ASCII: what follows it may be in any encoding, or cut mid-character.
    let head = String::from_utf8_lossy(&body[..body.len().min(512)]);
    let decl = head.strip_prefix("<?xml")?;
    let decl = &decl[..decl.find("?>")?];
    pseudo_attribute(decl, "encoding")
}

/// The value of `name="value"` (or single quotes) in the text of a declaration.
fn pseudo_attribute(decl: &str, name: &str) -> Option<String> {
    let at = decl.find(name)?;
    let rest = decl[at + name.len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].trim().to_string())
}

/// The `charset` parameter of a `Content-Type` (`text/xml; charset="utf-8"`).
fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("charset").then(|| value.trim().trim_matches(['"', '\'']).trim().to_string())
    })
}

/// UTF-32 to a string; a code unit that is no character (or a cut-off last one) is U+FFFD.
fn decode_utf32(bytes: &[u8], big_endian: bool) -> String {
    let mut out: String = bytes
        .chunks_exact(4)
        .map(|b| {
            let unit = [b[0], b[1], b[2], b[3]];
            let n = if big_endian { u32::from_be_bytes(unit) } else { u32::from_le_bytes(unit) };
            char::from_u32(n).unwrap_or(char::REPLACEMENT_CHARACTER)
        })
        .collect();
    if !bytes.len().is_multiple_of(4) {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out
}

/// The text after its XML declaration when the declaration names an encoding other than
/// UTF-8 (the text is UTF-8 now; a parser that believed the declaration would decode it
/// again); `None` when the text can stay as it is.
fn without_declaration_if_foreign(text: &str) -> Option<&str> {
    let decl = text.strip_prefix("<?xml")?;
    let end = decl.find("?>")?;
    let label = pseudo_attribute(&decl[..end], "encoding")?;
    let foreign = Encoding::for_label(label.as_bytes()) != Some(UTF_8);
    foreign.then(|| &decl[end + 2..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str =
        "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss><channel><title>café \u{2014} ok</title></channel></rss>";
    const BODY: &str = "<rss><channel><title>café \u{2014} ok</title></channel></rss>";

    fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let units = bom.then_some(0xfeff).into_iter().chain(text.encode_utf16());
        units.flat_map(|u| if big_endian { u.to_be_bytes() } else { u.to_le_bytes() }).collect()
    }

    fn utf8(body: &[u8], content_type: Option<&str>) -> String {
        feed_to_utf8(body, content_type).into_owned()
    }

    #[test]
    fn utf16_with_or_without_a_mark_becomes_utf8_without_the_declaration() {
        for big_endian in [true, false] {
            for bom in [true, false] {
                assert_eq!(utf8(&utf16(DOC, big_endian, bom), None), BODY, "big endian {big_endian}, mark {bom}");
            }
        }
        let ucs2 = DOC.replace("utf-16", "ucs-2");
        assert_eq!(utf8(&utf16(&ucs2, true, false), Some("text/xml; charset=utf-8")), BODY, "the bytes win");
    }

    #[test]
    fn utf32_is_decoded_by_hand() {
        let be: Vec<u8> = DOC.chars().flat_map(|c| (c as u32).to_be_bytes()).collect();
        assert_eq!(utf8(&be, None), BODY);
        let le: Vec<u8> =
            [0xff, 0xfe, 0, 0].into_iter().chain(DOC.chars().flat_map(|c| (c as u32).to_le_bytes())).collect();
        assert_eq!(utf8(&le, None), BODY);
        assert_eq!(decode_utf32(&[0, 0, 0xd8, 0, 0, 0, 0, 0x41, 0], true), "\u{fffd}A\u{fffd}");
    }

    #[test]
    fn the_declaration_comes_before_the_header_and_utf8_is_not_copied() {
        let latin = b"<?xml version='1.0' encoding='ISO-8859-1'?><t>caf\xe9</t>";
        assert_eq!(utf8(latin, Some("text/xml; charset=utf-8")), "<t>café</t>");
        assert_eq!(utf8(b"<t>caf\xe9</t>", Some("text/xml; charset=\"windows-1252\"")), "<t>café</t>");
        let plain = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>café</t>".as_bytes();
        assert!(
            matches!(feed_to_utf8(plain, Some("text/xml; charset=iso-8859-1")), Cow::Borrowed(b) if b.as_bytes() == plain)
        );
        let marked = [&[0xef, 0xbb, 0xbf][..], b"<t>x</t>"].concat();
        assert_eq!(utf8(&marked, None), "<t>x</t>");
    }

    #[test]
    fn labels_that_cannot_be_right_or_are_unknown_fall_back_to_utf8() {
        // An ASCII body declared UTF-16 is a mislabelled UTF-8 file: the declaration goes too,
        // or the parser would decode it as UTF-16 again.
        let mislabelled = "<?xml version=\"1.0\" encoding=\"utf-16\"?><t>café</t>";
        assert_eq!(utf8(mislabelled.as_bytes(), Some("text/xml; charset=utf-16")), "<t>café</t>");
        let unknown = "<?xml version=\"1.0\" encoding=\"x-no-such\"?><t>café</t>";
        assert_eq!(utf8(unknown.as_bytes(), Some("text/xml; charset=nonsense")), "<t>café</t>");
        assert_eq!(utf8(b"<t>\xff</t>", None), "<t>\u{fffd}</t>", "a bad byte is one replacement character");
        assert_eq!(utf8(b"", None), "");
        assert_eq!(utf8(&[0xfe, 0xff, 0x00], None), "\u{fffd}");
    }

    #[test]
    fn charset_and_encoding_values_are_read_with_quotes_and_spaces() {
        assert_eq!(charset_param("text/xml;charset = \"us-ascii\"").as_deref(), Some("us-ascii"));
        assert_eq!(charset_param("text/xml; qs=0.9"), None);
        assert_eq!(pseudo_attribute(" version='1.0' encoding = 'koi8-r' ", "encoding").as_deref(), Some("koi8-r"));
        assert_eq!(pseudo_attribute(" version='1.0'", "encoding"), None);
    }
}
