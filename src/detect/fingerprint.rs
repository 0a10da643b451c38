//! What a mention passes on, as one 64-bit key: the link it shares, or its text.
//!
//! Spreading stories (`stories.rs`) are found by counting mentions that share a key. Two
//! mentions get the same key when:
//!
//! * **they share a link**: the first `http(s)://` link in the text, with the scheme, a
//!   leading `www.`, the fragment, a trailing slash and tracking parameters (`utm_*`,
//!   `fbclid`, `gclid`, `si`...) left out, the host lower-cased and the remaining query
//!   parameters taken in any order. `https://Example.com/a/?utm_source=x#top` and
//!   `http://www.example.com/a` are one link. A mention that carries a link is keyed by it:
//!   people who share one article with different comments spread the same story;
//! * **or, without a link, they start with the same words**: the first 12 words of the
//!   text, lower-cased, with links, `@handles`, `RT`/`via`, punctuation, `#` and emoji left
//!   out. `RT @anna: Kroon Bank leaks customer data!! https://t.co/x` and `kroon bank
//!   leaks customer data via @bert` are one text. Texts of fewer than 5 such words get no
//!   key: "down again?" said by fifty people is a topic, not a story.
//!
//! Why a prefix of words and not MinHash or SimHash over shingles: reposts, retweets and
//! quotes of a post copy it verbatim, and what they change is around it (an `RT @x:` before,
//! a comment, a link or a handle after, a cut with "…" at a length limit), which the
//! normalization and the 12-word prefix absorb. An exact key is then found with one hash
//! lookup and costs nothing per mention beyond one pass over at most the first 12 words;
//! a similarity sketch needs a comparison with every story kept (or banded LSH keys, several
//! per mention) and a threshold to tune. What the prefix misses: a quote whose comment comes
//! *before* the quoted words, and edits inside the first 12 words.
//!
//! Nothing here allocates: keys are hashed as the text is read. Only when a story is shown
//! is its link written out (`normalized_link`).

use std::hash::Hasher;

use rustc_hash::FxHasher;

/// Words of a text that make its key.
const KEY_WORDS: usize = 12;
/// Texts with fewer words than this get no text key.
const MIN_WORDS: usize = 5;

/// Query parameters that say who sent the click, not what the link is.
const TRACKING: [&str; 17] = [
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "igshid", "mc_cid", "mc_eid", "yclid", "twclid",
    "ref_src", "ref_url", "_hsenc", "_hsmi", "mkt_tok", "si",
];

/// The key of what a mention passes on, if it has one: its link's, else its text's.
pub(crate) fn story_key(text: &str) -> Option<u64> {
    first_link(text).filter(|l| shared_link(text, l)).and_then(link_key).or_else(|| text_key(text))
}

/// Whether a link found in `text` names what is shared: not one cut at a length limit
/// (`http://t.co/…` of a long retweet; cut, the links of unrelated retweets all read
/// `http://t.co`), and not a bare site without a path.
fn shared_link(text: &str, link: &str) -> bool {
    let end = link.as_ptr() as usize - text.as_ptr() as usize + link.len();
    let cut = text[end..].starts_with('…') || text[end..].starts_with("...");
    !cut && parse_link(link).is_some_and(|l| !l.path.is_empty())
}

/// The first `http://` or `https://` link in a text, without the punctuation that usually
/// follows a link in prose (and the "…" of a cut one).
pub(crate) fn first_link(text: &str) -> Option<&str> {
    // A byte scan for ':' and a look around it: cheaper on short texts than a substring
    // search, and this runs for every mention.
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(p) = bytes[from..].iter().position(|&b| b == b':') {
        let colon = from + p;
        from = colon + 1;
        if !bytes[colon + 1..].starts_with(b"//") {
            continue;
        }
        let scheme = |n: usize, name: &[u8]| colon >= n && bytes[colon - n..colon].eq_ignore_ascii_case(name);
        let start = if scheme(5, b"https") {
            colon - 5
        } else if scheme(4, b"http") {
            colon - 4
        } else {
            continue;
        };
        // `start` is at an ASCII letter, so a character boundary.
        let rest = &text[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        return Some(rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'', '…', '>']));
    }
    None
}

/// The parts of a link that name what it points at.
struct Link<'a> {
    /// Host (and port), without a leading `www.`; compared case-insensitively.
    host: &'a str,
    /// Path without its trailing slashes; compared as written.
    path: &'a str,
    query: &'a str,
}

fn parse_link(link: &str) -> Option<Link<'_>> {
    let rest = link.split_once("://")?.1;
    let rest = rest.split('#').next().unwrap_or("");
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (host, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    // User info ("user@host") is not part of what the link points at.
    let host = host.rsplit('@').next().unwrap_or(host);
    // `get`, not indexing: a host may start with a letter of several bytes.
    let host = match host.get(..4) {
        Some(w) if w.eq_ignore_ascii_case("www.") && host.len() > 4 => &host[4..],
        _ => host,
    };
    if host.is_empty() {
        return None;
    }
    Some(Link { host, path: path.trim_end_matches('/'), query })
}

/// The query parameters that are part of what a link points at, in their order.
fn kept_params(query: &str) -> impl Iterator<Item = &str> {
    query.split('&').filter(|p| {
        let name = p.split('=').next().unwrap_or("");
        let tracking = name.get(..4).is_some_and(|n| n.eq_ignore_ascii_case("utm_"))
            || TRACKING.iter().any(|t| t.eq_ignore_ascii_case(name));
        !p.is_empty() && !tracking
    })
}

fn hash_str(s: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(s.as_bytes());
    h.finish()
}

/// The key of a link; `None` for something that is not one.
pub(crate) fn link_key(link: &str) -> Option<u64> {
    let l = parse_link(link)?;
    let mut h = FxHasher::default();
    // Link keys and text keys live in one table: a different start keeps them apart.
    h.write_u8(b'L');
    for b in l.host.bytes() {
        h.write_u8(b.to_ascii_lowercase());
    }
    h.write(l.path.as_bytes());
    // Parameters in any order: their hashes are summed.
    let params = kept_params(l.query).fold(0u64, |acc, p| acc.wrapping_add(hash_str(p)));
    h.write_u64(params);
    Some(h.finish())
}

/// A link as stories show it: what `link_key` keys, tracking parameters left out.
pub(crate) fn normalized_link(link: &str) -> Option<String> {
    let l = parse_link(link)?;
    let scheme = if link.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("http:")) { "http" } else { "https" };
    let mut out = format!("{scheme}://{}{}", l.host.to_ascii_lowercase(), l.path);
    for (i, p) in kept_params(l.query).enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(p);
    }
    Some(out)
}

/// The key of a text's first words; `None` when it has fewer than `MIN_WORDS`.
pub(crate) fn text_key(text: &str) -> Option<u64> {
    let mut key = KeyWriter::default();
    let mut words = 0;
    // Words split at ASCII white space only (a byte test, where `split_whitespace` decodes
    // every character): a no-break space joins two words, the same way in every copy.
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() && words < KEY_WORDS {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        // Both ends are at ASCII bytes or the end of the text: character boundaries.
        let word = &text[start..i];
        let b = word.as_bytes();
        let skipped = b.first() == Some(&b'@')
            || (b.contains(&b':') && word.contains("://"))
            || b.get(..4).is_some_and(|w| w.eq_ignore_ascii_case(b"www."))
            || b.eq_ignore_ascii_case(b"rt")
            || b.eq_ignore_ascii_case(b"via");
        if skipped {
            continue;
        }
        let before = key.written;
        if word.is_ascii() {
            key.push_ascii_word(b);
        } else {
            for c in word.chars().filter(|c| c.is_alphanumeric()) {
                for l in c.to_lowercase() {
                    let mut utf8 = [0u8; 4];
                    l.encode_utf8(&mut utf8).bytes().for_each(|x| key.push(x));
                }
            }
        }
        if key.written > before {
            // A word boundary, so "ab c" and "a bc" differ.
            key.push(b' ');
            words += 1;
        }
    }
    (words >= MIN_WORDS).then(|| key.finish())
}

/// Hashes normalized bytes through a small buffer: the hasher takes eight bytes at a time,
/// where feeding it byte by byte costs a multiplication each.
struct KeyWriter {
    hasher: FxHasher,
    buf: [u8; 128],
    len: usize,
    written: usize,
}

impl Default for KeyWriter {
    fn default() -> Self {
        let mut hasher = FxHasher::default();
        // Link keys and text keys live in one table: a different start keeps them apart.
        hasher.write_u8(b'T');
        KeyWriter { hasher, buf: [0; 128], len: 0, written: 0 }
    }
}

impl KeyWriter {
    /// An ASCII word's letters and digits, lower-cased: one tight loop into the buffer.
    #[inline]
    fn push_ascii_word(&mut self, word: &[u8]) {
        for chunk in word.chunks(64) {
            if self.len + chunk.len() > self.buf.len() {
                self.hasher.write(&self.buf[..self.len]);
                self.len = 0;
            }
            let start = self.len;
            for &c in chunk {
                self.buf[self.len] = c.to_ascii_lowercase();
                self.len += c.is_ascii_alphanumeric() as usize;
            }
            self.written += self.len - start;
        }
    }

    #[inline]
    fn push(&mut self, b: u8) {
        if self.len == self.buf.len() {
            self.hasher.write(&self.buf);
            self.len = 0;
        }
        self.buf[self.len] = b;
        self.len += 1;
        self.written += 1;
    }

    fn finish(mut self) -> u64 {
        self.hasher.write(&self.buf[..self.len]);
        self.hasher.finish()
    }
}

/// A 32-bit fingerprint of an author, for counting distinct ones.
pub(crate) fn author_key(author: &str) -> u32 {
    let h = hash_str(author);
    (h ^ (h >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_the_same_link_without_tracking_parameters_case_of_host_fragment_or_trailing_slash() {
        let a = link_key("https://news.example.com/kroon/leak");
        assert!(a.is_some());
        for same in [
            "https://NEWS.example.com/kroon/leak/",
            "http://www.news.example.com/kroon/leak#comments",
            "https://news.example.com/kroon/leak?utm_source=twitter&utm_medium=social",
            "https://news.example.com/kroon/leak/?fbclid=IwAR0abc",
        ] {
            assert_eq!(link_key(same), a, "{same}");
        }
        assert_ne!(link_key("https://news.example.com/kroon/Leak"), a, "paths are case-sensitive");
        assert_ne!(link_key("https://news.example.com/kroon/other"), a);
        assert_eq!(
            link_key("https://shop.example/p?id=7&color=red&utm_campaign=x"),
            link_key("https://shop.example/p?color=red&id=7"),
            "the parameters that stay are taken in any order"
        );
        assert_ne!(link_key("https://shop.example/p?id=7"), link_key("https://shop.example/p?id=8"));
        assert_eq!(link_key("https://"), None);
    }

    #[test]
    fn a_link_is_shown_without_tracking_parameters() {
        assert_eq!(
            normalized_link("https://WWW.News.example.com/a/b/?utm_source=x&id=3&fbclid=y#top").as_deref(),
            Some("https://news.example.com/a/b?id=3")
        );
    }

    #[test]
    fn the_first_link_is_found_in_prose_without_its_trailing_punctuation() {
        assert_eq!(first_link("read this (https://a.example/x)."), Some("https://a.example/x"));
        assert_eq!(first_link("httpd is down, see http://b.example/s…"), Some("http://b.example/s"));
        assert_eq!(first_link("no link here, just http talk"), None);
    }

    #[test]
    fn reposts_share_a_text_key_through_case_handles_links_and_retweet_marks() {
        let original = "Kroon Bank leaks customer data of thousands, again!";
        let key = text_key(original);
        assert!(key.is_some());
        for repost in [
            "RT @anna: Kroon Bank leaks customer data of thousands, again!",
            "kroon bank LEAKS customer data of thousands again https://t.co/abc",
            "@bert @carla Kroon Bank leaks customer   data of thousands... again 😡",
            "Kroon Bank leaks customer data of thousands, again! via @newsdesk",
        ] {
            assert_eq!(text_key(repost), key, "{repost}");
        }
        assert_ne!(text_key("Kroon Bank leaks customer data of millions, again!"), key);
        assert_ne!(text_key("Kroon Bank app is down again for everyone here"), key);
        assert_eq!(text_key("down again?"), None, "too short to be a story");
    }

    #[test]
    fn a_long_text_is_keyed_by_its_first_words_so_a_cut_repost_matches() {
        let long = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen";
        assert_eq!(text_key(long), text_key("one two three four five six seven eight nine ten eleven twelve thir…"));
    }

    #[test]
    fn a_mention_with_a_link_is_keyed_by_the_link() {
        assert_eq!(
            story_key("Look what Kroon Bank did https://news.example/x?utm_source=a"),
            story_key("unbelievable, boycott them: https://news.example/x/")
        );
        assert_eq!(story_key("short"), None);
    }

    #[test]
    fn a_cut_link_or_a_bare_site_does_not_key_a_mention() {
        // Real retweets cut at 140 characters: different posts, the same "http://t.co…".
        let a =
            "RT @sport: Lahm quits the national team? They should stop him! Maybe the army or something http://t.co…";
        let b = "RT @news: Main topics on the portal today. I am all for protests at their building http://t.co…";
        assert_ne!(story_key(a), story_key(b));
        assert_eq!(story_key(a), text_key(a));
        let bare = "everyone go look at https://kroonbank.example right now please";
        assert_eq!(story_key(bare), text_key(bare));
    }
}

/// How the keys behave on real posts: run with `cargo test --release --lib
/// story_keys_on_the_sentiment_posts -- --ignored --nocapture` (needs `../shared/data`).
/// Figures in docs/detection.md ("Spreading stories").
#[cfg(test)]
mod measure {
    use std::collections::HashMap;

    #[test]
    #[ignore]
    // A measurement, not a check: its output is the point.
    #[allow(clippy::print_stdout)]
    fn story_keys_on_the_sentiment_posts() {
        for lang in ["en", "nl", "sv", "pl"] {
            let (mut keyed, mut total) = (0, 0);
            let mut by_key: HashMap<u64, Vec<String>> = HashMap::new();
            for split in ["dev", "test"] {
                let path = format!("{}/../shared/data/sentiment/{lang}/{split}.tsv", env!("CARGO_MANIFEST_DIR"));
                let Ok(raw) = std::fs::read_to_string(&path) else { continue };
                for text in raw.lines().skip(1).filter_map(|l| l.splitn(4, '\t').nth(3)) {
                    total += 1;
                    if let Some(k) = super::story_key(text) {
                        keyed += 1;
                        by_key.entry(k).or_default().push(text.to_string());
                    }
                }
            }
            let twice = by_key.values().filter(|v| v.len() >= 2).count();
            let thrice = by_key.values().filter(|v| v.len() >= 3).count();
            let differing: Vec<_> = by_key.values().filter(|v| v.iter().any(|t| t != &v[0])).collect();
            println!(
                "{lang}: {total} posts, {keyed} keyed, {twice} keys carried by 2+ posts ({thrice} by 3+), \
                 {} of them by texts that differ",
                differing.len()
            );
            for v in differing.iter().take(8) {
                println!("    {:?}", &v[..v.len().min(3)]);
            }
        }
    }
}
