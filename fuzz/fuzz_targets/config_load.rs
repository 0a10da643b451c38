//! Any TOML text through `Config::from_toml_with_env`: parse and validation must answer with
//! a config or a list of problems, never a panic; a config that loads once loads again the
//! same (validation is a pure function of the text).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stormwatch::config::Config;

fuzz_target!(|text: &str| {
    let base = Path::new("/nonexistent/stormwatch-fuzz");
    match Config::from_toml_with_env(text, base) {
        Ok(config) => {
            let again = Config::from_toml_with_env(text, base).expect("a config that loaded once loads again");
            assert_eq!(format!("{config:?}"), format!("{again:?}"));
            assert!(config.storage.path.starts_with(base) || config.storage.path.is_absolute());
        }
        Err(e) => assert!(!e.to_string().is_empty(), "an error says what is wrong"),
    }
});
