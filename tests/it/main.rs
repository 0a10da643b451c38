//! stormwatch's integration tests, as one test binary (`it`): the real `stormwatch` binary and
//! the library's public API against real files, real HTTP and SMTP servers on loopback and a
//! real SQLite state file. One binary, because each of the 25 binaries this used to be linked
//! the whole library again.
//!
//! Layout: one module per area (`alert_delivery`, `faults`, `source_json`, …, one file each in
//! this folder) and `support/`, the helpers they share (loopback HTTP, SMTP and webhook
//! servers, the daemon as a child process, generated mention streams). Run one module with
//! `cargo test --release --test it alert_delivery::`, one test by its full path with
//! `cargo test --release --test it -- --exact faults::every_fault_is_survived_shown_and_alerted_and_nothing_is_lost_when_it_clears`.

mod alert_cli;
mod alert_crash;
mod alert_delivery;
mod alert_email;
mod cli_score;
mod crash_safety;
mod demo;
mod eval_dev;
mod faults;
mod injection;
mod poll_pipeline;
mod replay_cli;
mod scoring_rules;
mod secrets;
mod service_run;
mod smtp_faults;
mod soak;
mod source_bluesky;
mod source_file;
mod source_hackernews;
mod source_json;
mod source_mastodon;
mod source_reddit;
mod state_faults;
mod status_page_browser;
mod support;
