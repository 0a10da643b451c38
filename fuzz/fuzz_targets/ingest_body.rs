//! Bodies of `POST /api/v1/ingest` through `sources::push::parse_batch`, the parser the
//! route calls after reading the body (`server/ingest.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch::sources::push::{parse_batch, MAX_ITEMS};
use stormwatch_fuzz::{check_mention, check_unique, now, SOURCE};

fuzz_target!(|body: &[u8]| {
    match parse_batch(body, SOURCE, now()) {
        Ok(batch) => {
            let mentions = batch.mentions;
            assert!(mentions.len() + batch.repeated <= MAX_ITEMS);
            for m in &mentions {
                check_mention(m, body);
                assert!(!m.text.is_empty(), "an item with empty text is refused");
            }
            check_unique(mentions.iter().map(|m| m.id.as_str()));
        }
        Err(bad) => {
            assert!(!bad.is_empty(), "a refused batch says why");
            let mut indices: Vec<usize> = bad.iter().filter_map(|b| b.index).collect();
            let n = indices.len();
            indices.dedup();
            assert_eq!(indices.len(), n, "an item is listed once, in order");
            assert!(bad.iter().all(|b| !b.error.is_empty()));
        }
    }
});
