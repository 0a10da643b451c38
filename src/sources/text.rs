//! The text the scorer reads, from what a source's API sends: HTML for the kinds whose API
//! sends HTML (Mastodon `content`, RSS descriptions, Atom summaries, Hacker News comments:
//! `html_to_text`), plain text as written for the rest (pushed mentions, `file` lines, `json`
//! API fields: `plain_text`). Plain text is not HTML: `from <5 to >10 euro` and `a<b and c>d`
//! are what the user wrote, and `&amp;` is five characters they typed; stripping "tags" there
//! would cut the text and change what is scored. Both tidy whitespace the same way.
//!
//! Feed HTML is small and machine-written, so a tolerant one-pass reader is enough: tags are
//! dropped (their text kept: a link's text, a mention's `@name`), `<script>`/`<style>`
//! bodies dropped, block tags and `<br>` become line breaks, entities are decoded
//! (`html-escape`), and runs of whitespace collapse. Malformed input (an unclosed `<`, a
//! stray `&`) degrades to text, never to an error.

/// Plain text of an HTML fragment.
pub fn html_to_text(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return collapse_whitespace(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut skip_until: Option<&'static str> = None;
    while let Some(lt) = rest.find('<') {
        if skip_until.is_none() {
            out.push_str(&rest[..lt]);
        }
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            // An unclosed '<' is text.
            if skip_until.is_none() {
                out.push_str(&rest[lt..]);
            }
            rest = "";
            break;
        };
        let tag = &after[..gt];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let closing = tag.starts_with('/');
        match (&skip_until, name.as_str(), closing) {
            (Some(until), n, true) if *until == n => skip_until = None,
            (Some(_), _, _) => {}
            (None, "script", false) => skip_until = Some("script"),
            (None, "style", false) => skip_until = Some("style"),
            (None, "br" | "p" | "div" | "li" | "ul" | "ol" | "h1" | "h2" | "h3" | "h4" | "blockquote" | "tr", _) => {
                out.push('\n')
            }
            _ => {}
        }
        rest = &after[gt + 1..];
    }
    if skip_until.is_none() {
        out.push_str(rest);
    }
    collapse_whitespace(&html_escape::decode_html_entities(&out))
}

/// Text that is not markup, kept as written: only whitespace is tidied (`collapse_whitespace`).
pub fn plain_text(text: &str) -> String {
    collapse_whitespace(text)
}

/// Trims, turns runs of spaces and tabs into one space and runs of blank lines into one line
/// break. Other control characters are kept: the text is stored as it came, and each output
/// escapes them for its medium (`escape.rs`: visibly on a terminal, JSON-escaped in JSON).
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&words.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mastodon_content_becomes_plain_text() {
        let html = r#"<p>Storing bij <span class="h-card"><a href="https://x.social/@kroonbank" class="u-url mention">@<span>kroonbank</span></a></span> &amp; nog steeds geen app.</p><p><a href="https://x.social/tags/storing" class="mention hashtag" rel="tag">#<span>storing</span></a></p>"#;
        assert_eq!(html_to_text(html), "Storing bij @kroonbank & nog steeds geen app.\n#storing");
    }

    #[test]
    fn scripts_and_styles_are_dropped_and_breaks_kept() {
        assert_eq!(html_to_text("a<br>b<script>alert(1)</script><style>p{}</style> c"), "a\nb c");
    }

    #[test]
    fn plain_text_keeps_angle_brackets_and_entities_and_tidies_whitespace() {
        assert_eq!(plain_text("from <5 to >10 euro"), "from <5 to >10 euro");
        assert_eq!(plain_text("a<b and c>d, use <your-account-number>"), "a<b and c>d, use <your-account-number>");
        assert_eq!(plain_text("R&amp;D &lt;3 <b>x</b>"), "R&amp;D &lt;3 <b>x</b>");
        assert_eq!(plain_text(" a\tb  c\r\n\r\n\n d "), "a b c\nd");
        assert_eq!(plain_text("bell\u{7} kept"), "bell\u{7} kept", "escaped where shown, not here");
        assert_eq!(plain_text(""), "");
    }

    #[test]
    fn malformed_html_degrades_to_text() {
        assert_eq!(html_to_text("3 < 4 & fine"), "3 < 4 & fine");
        assert_eq!(html_to_text("x <b>bold"), "x bold");
        assert_eq!(html_to_text("&bogus; &lt;3"), "&bogus; <3");
        assert_eq!(html_to_text(""), "");
    }
}
