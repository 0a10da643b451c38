//! The text normalizers every source shares: HTML to text, folding for watch matching,
//! timestamps and language tags as feeds write them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch::sources::matching::fold;
use stormwatch::sources::text::html_to_text;
use stormwatch::sources::{parse_time, primary_lang, sane_time};
use stormwatch_fuzz::now;

fuzz_target!(|text: &str| {
    let plain = html_to_text(text);
    assert!(plain.chars().count() <= text.chars().count(), "html_to_text added characters");
    assert_eq!(plain, plain.trim(), "html_to_text trims");
    let _ = fold(text);
    let _ = fold(&plain);
    if let Some(t) = parse_time(text) {
        let (kept, _) = sane_time(Some(t), now());
        assert!(kept <= t.max(now()));
    }
    if let Some(lang) = primary_lang(text) {
        assert!((2..=8).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase()), "{lang:?}");
        assert_eq!(primary_lang(&lang).as_deref(), Some(lang.as_str()), "a primary tag is its own primary tag");
    }
});
