//! JSON-lines buffers of the `file` kind through `sources::file::parse_file`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch::sources::file::parse_file;
use stormwatch_fuzz::{check_mention, check_unique, now, SOURCE};

fuzz_target!(|buf: &[u8]| {
    let since = now() - chrono::Duration::days(7);
    let out = parse_file(buf, 41, Some(since), SOURCE, now());
    assert!(out.consumed <= buf.len(), "consumed past the buffer");
    assert!(out.consumed == 0 || buf[out.consumed - 1] == b'\n', "consumed a partial line");
    assert_eq!(out.lines as usize, buf[..out.consumed].iter().filter(|&&b| b == b'\n').count());
    for m in &out.mentions {
        check_mention(m, &buf[..out.consumed]);
        assert!(!m.text.is_empty(), "a line with empty text is skipped");
    }
    check_unique(out.mentions.iter().map(|m| m.id.as_str()));
});
