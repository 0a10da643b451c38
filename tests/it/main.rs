//! stormwatch's integration tests, as one test binary (`it`): the real `stormwatch` binary and
//! the library's public API against real files, real HTTP and SMTP servers on loopback and a
//! real SQLite state file. One binary, because each of the 25 binaries this used to be linked
//! the whole library again; add a module here rather than a file next to `it/`.
//!
//! Layout: one module per area, one file each in this folder (`alert_delivery`, `faults`,
//! `source_json`, …; each starts with what it covers), and `support/`, the helpers they share:
//! loopback HTTP servers and client, the webhook and SMTP receivers, the daemon as a child
//! process, the alert path, a source kind polled as the poller does, generated mentions.
//!
//! Run everything with `cargo test --release`, one module with
//! `cargo test --release --test it faults::` (add `-- --nocapture` for the figures the
//! long-running ones print), one test with `-- --exact <module>::<test>`.
//!
//! Opt-in: the soak (`soak`, 2.5 minutes or more) is `#[ignore]`d, so run it with
//! `cargo test --release --test it -- --ignored soak::`; `.ci/run` runs it in both of its
//! forms. Some tests adapt to the machine and say so on stderr: `status_page_browser` is
//! skipped without Chromium (required when `STORMWATCH_BROWSER_TEST=required`, as in CI),
//! `eval_dev` without `../shared/data/sentiment`, the tmpfs parts of `state_faults` when not
//! root; `crash_safety` takes `STORMWATCH_CRASH_KILLS` for its long form.
//!
//! A test that fails should say so loudly: unwrapping here is a failed assertion, not a crash
//! of the daemon (which the library's lints forbid).
#![allow(clippy::unwrap_used)]

mod ack_links;
mod alert_cli;
mod alert_crash;
mod alert_delivery;
mod alert_email;
mod cli_score;
mod config_hardening;
mod crash_safety;
mod demo;
mod eval_dev;
mod faults;
mod feedparser_corpus;
mod incidents;
mod injection;
mod plain_text;
mod poll_pipeline;
mod poll_supervision;
mod replay_cli;
mod scoring_rules;
mod secrets;
mod server_api;
mod server_edge;
mod service_run;
mod smtp_faults;
mod soak;
mod source_bluesky;
mod source_file;
mod source_hackernews;
mod source_json;
mod source_mastodon;
mod source_reddit;
mod source_rss;
mod state_faults;
mod status_page_browser;
mod support;
