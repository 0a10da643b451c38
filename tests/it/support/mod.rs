//! What the integration tests share, written once: servers on loopback that play a feed, a
//! webhook receiver or an SMTP relay (`http`, `webhook_sink`, `smtp_sink`, `smtp_script`), the
//! daemon as a child process (`daemon`), the alert path without it (`alerts`), a source kind
//! polled as the poller does (`sources`), and the generated data they are fed
//! (`storm_stream`, `kroon_signal`).

pub mod alerts;
pub mod daemon;
pub mod http;
pub mod kroon_signal;
pub mod smtp_script;
pub mod smtp_sink;
pub mod sources;
pub mod storm_stream;
pub mod webhook_sink;

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Command, Output};

/// The `stormwatch` binary cargo built for this test run, as a command to add arguments to.
pub fn stormwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stormwatch"))
}

/// A loopback port that was free a moment ago (bind 127.0.0.1:0, read the port, let it go),
/// for a config that must name a port before the daemon or a server binds it.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("cannot bind 127.0.0.1:0");
    listener.local_addr().expect("listener has no address").port()
}

/// What a command wrote, stdout then stderr, as text.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}
