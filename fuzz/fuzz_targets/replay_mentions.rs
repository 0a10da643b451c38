//! JSON-lines inputs of `stormwatch replay --input` through `replay::mentions::read`, and the
//! mentions it replays.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch::replay::mentions::read;

fuzz_target!(|bytes: &[u8]| {
    let Ok((input, report)) = read("fuzz.jsonl", bytes) else { return };
    assert!(input.len() <= report.lines, "more mentions than non-blank lines");
    let mentions: Vec<_> = input.mentions().collect();
    // `read` checked every line it kept: building its mention cannot fail.
    assert_eq!(mentions.len(), input.len(), "a kept line did not parse again");
    assert!(mentions.windows(2).all(|w| w[0].published <= w[1].published), "not in published order");
    for m in &mentions {
        assert!(!m.id.is_empty() && !m.source.is_empty());
    }
});
