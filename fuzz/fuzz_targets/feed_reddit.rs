//! Reddit Listing bodies through `sources::reddit::parse_reddit`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch::sources::reddit::parse_reddit;
use stormwatch_fuzz::{check_mention, check_unique, now, SOURCE};

fuzz_target!(|body: &[u8]| {
    if let Ok(listing) = parse_reddit(body, SOURCE, now()) {
        for item in &listing.items {
            assert!(!item.name.is_empty(), "an item is known by its fullname");
            if let Ok(m) = &item.outcome {
                check_mention(m, body);
            }
        }
        check_unique(listing.items.iter().map(|i| i.name.as_str()));
    }
});
