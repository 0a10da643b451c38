//! Bluesky searchPosts and getProfiles bodies through `sources::bluesky::parse_bluesky` and
//! `parse_profiles`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch::sources::bluesky::{parse_bluesky, parse_profiles};
use stormwatch_fuzz::{check_mention, check_unique, now, SOURCE};

fuzz_target!(|body: &[u8]| {
    if let Ok(page) = parse_bluesky(body, SOURCE, now()) {
        for p in &page.posts {
            check_mention(&p.mention, body);
            assert!(p.mention.reach.is_none(), "reach comes from getProfiles, not the post");
        }
        check_unique(page.posts.iter().map(|p| p.mention.id.as_str()));
        assert!(page.posts.len() + page.skipped.len() <= page.count, "more outcomes than posts");
    }
    let _ = parse_profiles(body);
});
