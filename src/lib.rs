//! stormwatch: tells a brand's crisis team, within minutes, that a social-media storm is
//! starting.
//!
//! Data flows one way — `sources → sentiment → detect → alert → notify` — and the types that
//! cross each step live in [`model`]. See `docs/architecture.md` for who owns what and where
//! to add a source or receiver kind.
//!
//! The library never prints: the command line (`src/bin/stormwatch`) does.
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod alert;
pub mod clock;
pub mod config;
pub mod detect;
pub mod escape;
pub mod model;
pub mod notify;
pub mod pipeline;
pub mod plot;
pub mod replay;
pub mod report;
pub mod secret;
pub mod sentiment;
pub mod server;
pub mod settings;
pub mod sources;
pub mod store;
pub mod telemetry;
