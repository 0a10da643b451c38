//! Text written by strangers, made inert for each place it is shown. A leaf: alert media
//! (`notify::render`), the status page, the report and the command line all escape here, at
//! the last moment before output, and nowhere else.
//!
//! ```
//! use stormwatch::escape;
//! assert_eq!(escape::html("<b>hi</b>\u{1b}"), "&lt;b&gt;hi&lt;/b&gt; ");
//! assert_eq!(escape::slack("<!channel>"), "&lt;!channel&gt;");
//! ```

/// Drops control characters (terminal escapes, CR/LF that would split a header or a log
/// line) and keeps the rest.
pub fn plain(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Plain, and cut to `max` characters with an ellipsis.
pub(crate) fn cut(text: &str, max: usize) -> String {
    let p = plain(text);
    if p.chars().count() <= max {
        return p;
    }
    let mut s: String = p.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// For HTML text and attribute-free content: plain, then entity-escaped.
pub fn html(text: &str) -> String {
    html_escape::encode_text(&plain(text)).into_owned()
}

/// An `href` value: only http(s) links become links; anything else (javascript:, data:) is
/// `None` and stays text.
pub(crate) fn href(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| html_escape::encode_double_quoted_attribute(u.as_str()).into_owned())
}

/// Slack's three entities: with them escaped, no post can mention `<!channel>`, `<!here>`,
/// `<@U…>` or hide a link behind `<url|label>`.
pub fn slack(text: &str) -> String {
    plain(text).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Teams markdown renders `[label](url)` as a link: a zero-width space between the brackets
/// and the parenthesis keeps a post's text from becoming one, and `<`/`>` are entity-escaped.
pub(crate) fn teams(text: &str) -> String {
    plain(text).replace("](", "]\u{200b}(").replace('<', "&lt;").replace('>', "&gt;")
}

/// For a terminal: control characters (escapes) are shown as `\u{1b}`, not obeyed.
pub fn terminal(text: &str) -> String {
    text.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_medium_gets_its_own_escaping() {
        assert_eq!(plain("a\r\nb\u{1b}[2J"), "a  b [2J");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(html("<script>&"), "&lt;script&gt;&amp;");
        assert_eq!(href("javascript:alert(1)"), None);
        assert_eq!(href("https://example.org/a?b=\"c\"").as_deref(), Some("https://example.org/a?b=%22c%22"));
        assert_eq!(teams("[x](https://evil.example)"), "[x]\u{200b}(https://evil.example)");
        assert_eq!(terminal("a\u{1b}[31m"), "a\\u{1b}[31m");
    }
}
