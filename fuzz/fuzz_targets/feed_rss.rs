//! RSS 2.0 / RSS 1.0 / Atom / JSON Feed bodies through `sources::rss::parse_feed`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch::sources::rss::parse_feed;
use stormwatch_fuzz::{check_mention, check_unique, now, SOURCE};

fuzz_target!(|body: &[u8]| {
    if let Ok((mentions, _skipped)) = parse_feed(body, SOURCE, now()) {
        for m in &mentions {
            check_mention(m, body);
            assert!(!m.text.is_empty(), "an entry without title and text is skipped, not kept");
        }
        check_unique(mentions.iter().map(|m| m.id.as_str()));
    }
});
