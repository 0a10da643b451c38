//! Mastodon tag-timeline bodies (an array of Status entities) through
//! `sources::mastodon::parse_mastodon`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch::sources::mastodon::parse_mastodon;
use stormwatch_fuzz::{check_mention, check_unique, now, SOURCE};

fuzz_target!(|body: &[u8]| {
    if let Ok(page) = parse_mastodon(body, SOURCE, now()) {
        for m in &page.mentions {
            check_mention(m, body);
        }
        check_unique(page.mentions.iter().map(|m| m.id.as_str()));
        assert!(page.mentions.len() + page.skipped.len() <= page.len, "more outcomes than statuses");
        assert!(page.oldest_id <= page.newest_id, "oldest id above newest id");
    }
});
