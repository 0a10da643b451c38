//! Bodies of the generic `json` kind through `sources::json::parse_json`, with the fields of
//! a typical API (items under `/data`, or the body itself an array) and a next-page pointer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch::sources::json::JsonFields;
use stormwatch::sources::json::parse_json;
use stormwatch_fuzz::{check_mention, check_unique, now, SOURCE};

fuzz_target!(|body: &[u8]| {
    let fields = JsonFields {
        id: "/id".into(),
        text: "/text".into(),
        author: Some("/user/name".into()),
        followers: Some("/user/followers".into()),
        lang: Some("/lang".into()),
        created: Some("/created_at".into()),
        url: Some("/url".into()),
    };
    for items in ["/data", ""] {
        if let Ok(page) = parse_json(body, items, &fields, Some("/meta/next"), SOURCE, now()) {
            for item in &page.items {
                check_mention(&item.mention, body);
            }
            check_unique(page.items.iter().map(|i| i.mention.id.as_str()));
        }
    }
});
