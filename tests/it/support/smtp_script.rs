//! A scripted SMTP server on loopback: each connection it accepts plays the next fault of a
//! script (a refusal at the greeting, greylisting, a hang, a dropped connection, a refused
//! recipient); once the script is used up, connections behave and their messages are kept.
//!
//! Tests use it as `crate::support::smtp_script`.
//!
//! Hand-written (std `TcpListener`, one thread per connection, line-based) rather than built
//! on the mailin sink, because the faults sit between protocol steps that a real server does
//! not let a handler reach: "say nothing at all", "take the whole message and hang up".
//!
//! What it speaks: a `220` greeting; `EHLO`/`HELO` → `250` (EHLO advertises 8BITMIME);
//! `MAIL`, `RCPT` → `250`; `DATA` → `354`, then lines up to the `.` line, dot-unstuffed;
//! `RSET`/`NOOP` → `250`; `QUIT` → `221` and close; anything else → `502`. No TLS, no AUTH:
//! the client under test must use `tls = "none"` and no credentials.
//!
//! No start-up probe connects to it (a probe would use up a script entry): the listener is
//! bound before `start` returns, so the first client connection is the first session.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// What one connection does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Greets with this code instead of 220 (554: "no service here"; 421: "not now") and
    /// closes the connection.
    RefuseAtGreeting(u16),
    /// `451 4.7.1` at the first RCPT (greylisting: "come back later"), then behaves until
    /// the client gives up the session.
    GreylistAtRcpt,
    /// Accepts the connection and says nothing for this long (or until the client hangs up).
    Hang(Duration),
    /// Reads the whole message, then closes the connection without answering the `.`:
    /// the message is not stored.
    DropAfterData,
    /// `550 5.1.1` at the first RCPT: the mailbox does not exist.
    RejectAtRcpt,
}

/// One message as the server took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The envelope sender (MAIL FROM), without angle brackets.
    pub from: String,
    /// The envelope recipients (RCPT TO), without angle brackets, in order.
    pub to: Vec<String>,
    /// The message after DATA, dot-unstuffed, CRLF kept, without the `.` line.
    pub data: Vec<u8>,
}

/// What one accepted connection was given and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The fault it played; `None` for a well-behaved session.
    pub fault: Option<Fault>,
    pub accepted: Instant,
    /// When the server's side of it ended (`None` while it runs).
    pub ended: Option<Instant>,
}

#[derive(Default)]
struct State {
    script: VecDeque<Fault>,
    sessions: Vec<Session>,
    messages: Vec<Received>,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    // A panicking session thread must not hide what the others recorded.
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The server: a port on 127.0.0.1 and what happened on it.
#[derive(Clone)]
pub struct ScriptedSmtp {
    port: u16,
    state: Shared,
}

impl ScriptedSmtp {
    /// Starts on a free port; the first connection plays `script[0]`, the next `script[1]`, ….
    pub fn start(script: Vec<Fault>) -> ScriptedSmtp {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("smtp script: cannot bind 127.0.0.1:0");
        let port = listener.local_addr().expect("smtp script: listener has no address").port();
        let state: Shared = Arc::new(Mutex::new(State { script: script.into(), ..State::default() }));
        let shared = Arc::clone(&state);
        thread::Builder::new()
            .name(format!("smtp-script-{port}"))
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let (fault, index) = {
                        let mut s = lock(&shared);
                        let fault = s.script.pop_front();
                        s.sessions.push(Session { fault, accepted: Instant::now(), ended: None });
                        (fault, s.sessions.len() - 1)
                    };
                    let shared = Arc::clone(&shared);
                    thread::spawn(move || {
                        // A client that hangs up mid-session is an outcome, not a server error.
                        let _ = serve(stream, fault, &shared);
                        lock(&shared).sessions[index].ended = Some(Instant::now());
                    });
                }
            })
            .expect("smtp script: cannot spawn the accept thread");
        ScriptedSmtp { port, state }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Messages stored so far.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.state).messages.clone()
    }

    /// Sessions so far, in the order they were accepted.
    pub fn sessions(&self) -> Vec<Session> {
        lock(&self.state).sessions.clone()
    }

    /// Script entries no connection has played yet.
    pub fn unplayed(&self) -> usize {
        lock(&self.state).script.len()
    }

    /// Polls until at least `n` messages were stored or `timeout` passes; returns what arrived.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let end = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() >= end {
                return got;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Reads the address out of `MAIL FROM:<a@b> BODY=8BITMIME` or `RCPT TO:<a@b>`.
fn address(line: &str) -> String {
    match (line.find('<'), line.find('>')) {
        (Some(open), Some(close)) if open < close => line[open + 1..close].to_string(),
        _ => line.split_once(':').map(|(_, a)| a.trim().to_string()).unwrap_or_default(),
    }
}

fn serve(stream: TcpStream, fault: Option<Fault>, state: &Shared) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    // No session here lasts anywhere near this: a client that stalls must not pin a thread forever.
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    match fault {
        Some(Fault::RefuseAtGreeting(code)) => {
            write!(out, "{code} scripted.test no service for you\r\n")?;
            let _ = out.flush();
            return out.shutdown(Shutdown::Both);
        }
        Some(Fault::Hang(how_long)) => {
            // Silence: the client's read returns nothing until it gives up (we then see EOF)
            // or the hang is over.
            stream.set_read_timeout(Some(how_long))?;
            let mut sink = [0u8; 512];
            let until = Instant::now() + how_long;
            while Instant::now() < until {
                match (&stream).read(&mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            return out.shutdown(Shutdown::Both);
        }
        _ => {}
    }
    write!(out, "220 scripted.test ESMTP ready\r\n")?;
    let mut reader = BufReader::new(stream);
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => write!(out, "250-scripted.test\r\n250 8BITMIME\r\n")?,
            "HELO" => write!(out, "250 scripted.test\r\n")?,
            "MAIL" => {
                from = address(&command);
                to.clear();
                write!(out, "250 2.1.0 OK\r\n")?;
            }
            "RCPT" => match fault {
                Some(Fault::GreylistAtRcpt) => {
                    write!(out, "451 4.7.1 Greylisted, please try again later\r\n")?;
                }
                Some(Fault::RejectAtRcpt) => {
                    write!(out, "550 5.1.1 <{}>: Recipient address rejected: User unknown\r\n", address(&command))?;
                }
                _ => {
                    to.push(address(&command));
                    write!(out, "250 2.1.5 OK\r\n")?;
                }
            },
            "DATA" => {
                write!(out, "354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let data = read_data(&mut reader)?;
                if fault == Some(Fault::DropAfterData) {
                    // The whole message came, and the answer never goes: the client cannot know.
                    return out.shutdown(Shutdown::Both);
                }
                lock(state).messages.push(Received { from: from.clone(), to: to.clone(), data });
                write!(out, "250 2.0.0 OK queued\r\n")?;
            }
            "RSET" => {
                from.clear();
                to.clear();
                write!(out, "250 2.0.0 OK\r\n")?;
            }
            "NOOP" => write!(out, "250 2.0.0 OK\r\n")?,
            "QUIT" => {
                write!(out, "221 2.0.0 Bye\r\n")?;
                let _ = out.flush();
                return out.shutdown(Shutdown::Both);
            }
            _ => write!(out, "502 5.5.2 Command not recognized\r\n")?,
        }
        out.flush()?;
    }
}

/// The message lines up to the `.` line, dot-unstuffed (RFC 5321 4.5.2).
fn read_data(reader: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed inside DATA"));
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let unstuffed = if line.starts_with(b"..") { &line[1..] } else { &line[..] };
        data.extend_from_slice(unstuffed);
    }
}
