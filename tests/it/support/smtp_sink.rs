//! A real SMTP server on loopback for integration tests, plus MIME helpers to read what it got.
//!
//! Tests use it as `crate::support::smtp_sink`.
//!
//! The server is `mailin-embedded`, run in-process in a background thread. Things about it that
//! a test writer needs to know:
//! - No shutdown: `Server::serve()` loops on `accept` forever and has no stop handle, so a sink
//!   lives until the test process exits. Dropping `SmtpSink` does not close the port. To
//!   simulate "SMTP down, then up", reserve a port with `support::free_port()`, let the client
//!   fail, then `SmtpSink::start_on(port)`.
//! - No AUTH: mailin only offers AUTH after STARTTLS (the plaintext escape hatch exists in
//!   `mailin` but `mailin-embedded` does not expose it), and enabling AUTH without TLS makes it
//!   refuse MAIL FROM. So the client under test must be configured without credentials; lettre
//!   with credentials fails with "No compatible authentication mechanism was found".
//! - No STARTTLS (we pass `SslConfig::None`): connect with plain SMTP (lettre's
//!   `builder_dangerous`).
//! - EHLO advertises only 8BITMIME. MAIL FROM accepts one optional `BODY=8BITMIME`/`BODY=7BIT`
//!   parameter and nothing else (no SIZE=, no SMTPUTF8); the null sender `MAIL FROM:<>` is a
//!   syntax error; RCPT TO takes no parameters.
//! - No size limit: lines are read with `read_until(b'\n')` into memory.
//! - `Received::data` is the message exactly as sent after DATA, dot-unstuffed, CRLF line
//!   endings kept, without the terminating `.\r\n`. Only `.\r\n` ends the data: a bare `.\n`
//!   line is kept, dot-stripped, as `\n`. A connection that drops before the end stores nothing.
//!   lettre writes `\r\n.\r\n` after a message that already ends in CRLF, so single-part
//!   bodies come back with extra trailing blank lines: compare text trimmed or with `contains`.
//! - Each open connection holds one pool thread (mailin's default pool is 4, which a pooling
//!   client could exhaust and then hang waiting for a greeting), so the sink uses 32.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use mailin_embedded::response::OK;
use mailin_embedded::{Handler, Response, Server, SslConfig};
use mailparse::{DispositionType, MailHeaderMap};

/// How long `start`/`start_on` wait for the port before giving up.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);
/// Concurrent SMTP sessions the sink serves; idle pooled client connections each hold one.
const SESSION_THREADS: u32 = 32;

/// One message as the server got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The envelope sender (MAIL FROM), without angle brackets.
    pub from: String,
    /// The envelope recipients (RCPT TO), without angle brackets, in order.
    pub to: Vec<String>,
    /// The raw message as received after DATA, CRLF line endings as sent.
    pub data: Vec<u8>,
}

/// Messages received so far, and a signal for `wait_for`.
type Inbox = Arc<(Mutex<Vec<Received>>, Condvar)>;

fn lock(inbox: &Inbox) -> MutexGuard<'_, Vec<Received>> {
    // A panic elsewhere in the test must not hide the messages from the assertions that follow.
    inbox.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// mailin clones the handler for every connection, so `current` is per-connection state.
#[derive(Clone)]
struct SinkHandler {
    inbox: Inbox,
    current: Option<Received>,
}

impl Handler for SinkHandler {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some(Received { from: from.to_owned(), to: to.to_vec(), data: Vec::new() });
        OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some(message) = self.current.as_mut() {
            message.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(message) = self.current.take() {
            lock(&self.inbox).push(message);
            self.inbox.1.notify_all();
        }
        OK
    }
}

/// An SMTP server on 127.0.0.1 that keeps every message it receives.
pub struct SmtpSink {
    port: u16,
    inbox: Inbox,
}

impl SmtpSink {
    /// Starts a server on 127.0.0.1 on a free port, in background thread(s); returns once it accepts connections.
    pub fn start() -> SmtpSink {
        // Binding port 0 ourselves and handing the listener over avoids any pick-then-bind race.
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("smtp sink: cannot bind 127.0.0.1:0");
        Self::serve(listener)
    }

    /// Starts one on a given port (for "SMTP down, then up": a test reserves a port, lets the client fail,
    /// then starts the sink on it).
    pub fn start_on(port: u16) -> SmtpSink {
        // The port was free a moment ago but something (another test's ephemeral socket) may hold it
        // briefly; retry rather than fail on the first try.
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let listener = loop {
            match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
                Ok(listener) => break listener,
                Err(err) if Instant::now() < deadline => {
                    eprintln!("smtp sink: bind 127.0.0.1:{port} failed ({err}), retrying");
                    thread::sleep(Duration::from_millis(100));
                }
                Err(err) => panic!("smtp sink: cannot bind 127.0.0.1:{port} within {STARTUP_TIMEOUT:?}: {err}"),
            }
        };
        Self::serve(listener)
    }

    fn serve(listener: TcpListener) -> SmtpSink {
        let port = listener.local_addr().expect("smtp sink: listener has no address").port();
        let inbox: Inbox = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let mut server = Server::new(SinkHandler { inbox: Arc::clone(&inbox), current: None });
        server
            .with_ssl(SslConfig::None)
            .expect("smtp sink: SslConfig::None cannot fail")
            .with_num_threads(SESSION_THREADS)
            .with_tcp_listener(listener);
        // serve() never returns while the listener is healthy; the thread dies with the process.
        thread::Builder::new()
            .name(format!("smtp-sink-{port}"))
            .spawn(move || {
                if let Err(err) = server.serve() {
                    eprintln!("smtp sink on port {port} stopped: {err}");
                }
            })
            .expect("smtp sink: cannot spawn server thread");
        wait_until_accepting(port);
        SmtpSink { port, inbox }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits up to `timeout` until at least `n` messages arrived; returns them (or what arrived, when time is up).
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let guard = lock(&self.inbox);
        let (guard, _timed_out) = self
            .inbox
            .1
            .wait_timeout_while(guard, timeout, |messages| messages.len() < n)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.clone()
    }
}

/// The listener is bound before the thread starts, so connects succeed as soon as the kernel has it;
/// polling anyway keeps `start` honest if that ever changes. The probe is a real SMTP session that
/// mailin ends at EOF; it stores nothing.
fn wait_until_accepting(port: u16) {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(_probe) => return,
            Err(err) if Instant::now() >= deadline => {
                panic!("smtp sink: 127.0.0.1:{port} not accepting connections after {STARTUP_TIMEOUT:?}: {err}")
            }
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// A parsed message for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Decoded (RFC 2047) Subject header, empty when absent.
    pub subject: String,
    /// Decoded From header, e.g. `Stormwatch <alerts@example.com>`, empty when absent.
    pub from: String,
    /// Decoded To header, empty when absent.
    pub to: String,
    /// The first text/plain part that is not an attachment, decoded, line endings turned to `\n`.
    pub text: Option<String>,
    /// The first text/html part that is not an attachment, decoded, line endings turned to `\n`.
    pub html: Option<String>,
    /// Every image/* part, in message order.
    pub images: Vec<Image>,
    /// Top-level headers in order, names as sent, values decoded.
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// e.g. `image/png` (lowercase, without parameters).
    pub content_type: String,
    /// Content-ID without angle brackets, e.g. `chart` for `<chart>`.
    pub content_id: Option<String>,
    /// The decoded body.
    pub bytes: Vec<u8>,
}

/// Parses the raw message with mailparse: walks all MIME parts recursively; `text` is the decoded
/// text/plain part, `html` the decoded text/html part, `images` every image/* part with its Content-ID
/// (without angle brackets) and decoded body. Panics when the message does not parse.
pub fn parse(raw: &[u8]) -> Parsed {
    let mail = mailparse::parse_mail(raw).unwrap_or_else(|err| panic!("message does not parse as MIME: {err}"));
    let header = |name: &str| mail.headers.get_first_value(name).unwrap_or_default();
    let mut parsed = Parsed {
        subject: header("Subject"),
        from: header("From"),
        to: header("To"),
        text: None,
        html: None,
        images: Vec::new(),
        headers: mail.headers.iter().map(|h| (h.get_key(), h.get_value())).collect(),
    };
    // parts() is a depth-first walk that includes the message itself, so a single-part message works too.
    for part in mail.parts() {
        let attachment = part.get_content_disposition().disposition == DispositionType::Attachment;
        let mimetype = part.ctype.mimetype.as_str();
        if mimetype == "text/plain" && !attachment && parsed.text.is_none() {
            parsed.text = Some(decoded_text(part));
        } else if mimetype == "text/html" && !attachment && parsed.html.is_none() {
            parsed.html = Some(decoded_text(part));
        } else if mimetype.starts_with("image/") {
            let content_id = part
                .headers
                .get_first_value("Content-ID")
                .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>').to_owned());
            let bytes = part.get_body_raw().unwrap_or_else(|err| panic!("cannot decode {mimetype} part: {err}"));
            parsed.images.push(Image { content_type: mimetype.to_owned(), content_id, bytes });
        }
    }
    parsed
}

/// Decodes transfer encoding and charset. SMTP forces CRLF on the wire; turning it back into `\n` lets
/// tests compare against the strings the code under test built. The raw bytes stay in `Received::data`.
fn decoded_text(part: &mailparse::ParsedMail<'_>) -> String {
    let body = part.get_body().unwrap_or_else(|err| panic!("cannot decode {} part: {err}", part.ctype.mimetype));
    body.replace("\r\n", "\n")
}
