//! What the integration tests share: servers on loopback that play a feed, a webhook receiver
//! or an SMTP relay, the daemon as a child process, and the generated data they feed it.

pub mod daemon;
pub mod kroon_signal;
pub mod smtp_script;
pub mod smtp_sink;
pub mod storm_stream;
pub mod webhook_sink;
