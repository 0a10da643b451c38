//! What the HTTP edge reads from a response: the body as JSON (`parse_json_body`) and the
//! rate-limit headers (`rate_limit`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch::sources::http::{parse_json_body, rate_limit};
use stormwatch_fuzz::now;

fuzz_target!(|data: &[u8]| {
    let _ = parse_json_body(data, None);
    let _ = parse_json_body(data, Some("text/html; charset=utf-8"));
    let Ok(header) = std::str::from_utf8(data) else { return };
    // Every rate-limit header set to the same value: each reader must cope with any text.
    let limit = rate_limit(&|_name: &str| Some(header.to_string()), now());
    let _ = limit.pause();
});
