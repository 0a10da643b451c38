//! Algolia Hacker News search bodies through `sources::hackernews::parse_hackernews`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch::sources::hackernews::parse_hackernews;
use stormwatch_fuzz::{check_mention, check_unique, now, SOURCE};

fuzz_target!(|body: &[u8]| {
    if let Ok(search) = parse_hackernews(body, SOURCE, now()) {
        for hit in &search.hits {
            if let Ok(m) = &hit.outcome {
                check_mention(m, body);
            }
        }
        check_unique(search.hits.iter().map(|h| h.id.as_str()));
        assert!(search.hits_per_page > 0, "a page size of 0 would page forever");
    }
});
