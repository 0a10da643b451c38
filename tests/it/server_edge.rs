//! The HTTP edge of the real daemon: only the hosts it is meant to be reached by (a
//! DNS-rebinding page is refused), the security headers on every answer, connections that
//! send half a request or nothing are closed, and a reload that never refuses a connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::daemon::{signal, PushDaemon};
use crate::support::http::{exchange, get, header, raw, status_of};

fn serve() -> PushDaemon {
    PushDaemon::start("tok-123", "[alerts]\npublic_url = \"https://sw.example.org/\"\n")
}

fn get_with_host(port: u16, path: &str, host: &str) -> String {
    raw(port, &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"))
}

#[test]
fn a_request_naming_another_host_is_refused_with_421() {
    let s = serve();
    let port = s.port;
    for path in ["/", "/api/v1/alerts", "/api/v1/watches", "/metrics"] {
        let answer = get_with_host(port, path, "evil.example");
        assert_eq!(status_of(&answer), 421, "{path}: {answer}");
        assert!(answer.contains("evil.example") && answer.contains("public_url"), "says why: {answer}");
        let rebinding = get_with_host(port, path, &format!("evil.example:{port}"));
        assert_eq!(status_of(&rebinding), 421, "{path}: {rebinding}");
    }
    for host in [
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("127.0.0.1:{port}"),
        "127.0.0.1".to_string(),
        format!("[::1]:{port}"),
        "sw.example.org".to_string(),
        "sw.example.org:443".to_string(),
    ] {
        let answer = get_with_host(port, "/api/v1/alerts", &host);
        assert_eq!(status_of(&answer), 200, "{host}: {answer}");
    }
    // Probes often name the host they were given; their answers reveal nothing.
    assert_eq!(status_of(&get_with_host(port, "/healthz", "stormwatch.internal:9464")), 200);
}

#[test]
fn every_answer_carries_the_security_headers() {
    let s = serve();
    let auth = "Authorization: Bearer tok-123\r\nContent-Type: application/json\r\n";
    let answers = [
        ("GET /", exchange(s.port, "GET", "/", "", "")),
        ("GET /healthz", exchange(s.port, "GET", "/healthz", "", "")),
        ("GET /readyz", exchange(s.port, "GET", "/readyz", "", "")),
        ("GET /metrics", exchange(s.port, "GET", "/metrics", "", "")),
        ("GET /ack", exchange(s.port, "GET", "/ack/abc?exp=1&sig=00", "", "")),
        ("POST /ack", exchange(s.port, "POST", "/ack/abc?exp=1&sig=00", "", "")),
        ("GET alerts", exchange(s.port, "GET", "/api/v1/alerts", "", "")),
        ("GET watches", exchange(s.port, "GET", "/api/v1/watches", "", "")),
        ("POST ack", exchange(s.port, "POST", "/api/v1/alerts/abc/ack", auth, "")),
        ("POST ingest", exchange(s.port, "POST", "/api/v1/ingest", auth, "[]")),
        ("unknown path", exchange(s.port, "GET", "/nothing", "", "")),
        ("other host", get_with_host(s.port, "/", "evil.example")),
    ];
    for (what, answer) in &answers {
        assert_ne!(status_of(answer), 0, "{what}: no answer");
        assert_eq!(header(answer, "x-content-type-options"), Some("nosniff"), "{what}: {answer}");
        assert_eq!(header(answer, "x-frame-options"), Some("DENY"), "{what}: {answer}");
        let csp = header(answer, "content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {answer}");
        assert_eq!(header(answer, "referrer-policy"), Some("no-referrer"), "{what}: {answer}");
    }
    let ack_page = &answers[4].1;
    let csp = header(ack_page, "content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'none'") && csp.contains("form-action 'self'"), "{ack_page}");
}

/// Reads until the server closes the connection; how long that took (`None`: still open
/// after `limit`, or it answered something).
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err(format!("still open after {limit:?}"))
            }
            // A reset is a close too.
            Err(_) => break,
        }
    }
    let answer = String::from_utf8_lossy(&got);
    // A 408 before the close is fine; any other answer means the request was served.
    if !got.is_empty() && status_of(&answer) != 408 {
        return Err(format!("answered: {answer}"));
    }
    Ok(started.elapsed())
}

#[test]
fn connections_that_send_half_a_request_or_nothing_are_closed() {
    let s = serve();
    let connect = || TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    let idle = connect();
    let mut half_line = connect();
    half_line.write_all(b"GET /api/v1/alerts HT").expect("write");
    let mut half_head = connect();
    half_head.write_all(b"GET /api/v1/alerts HTTP/1.1\r\nHost: localhost\r\n").expect("write");
    let mut half_body = connect();
    half_body
        .write_all(
            b"POST /api/v1/ingest HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer tok-123\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n[{\"text\": ",
        )
        .expect("write");
    // After one request a kept-alive connection that sends nothing more is closed too.
    let mut kept = connect();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("write");
    let mut first = [0u8; 512];
    let n = kept.read(&mut first).expect("the first answer");
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"), "served once");

    let limit = Duration::from_secs(20);
    let threads: Vec<_> = [
        ("idle", idle.try_clone()),
        ("half a request line", half_line.try_clone()),
        ("half a head", half_head.try_clone()),
        ("half a body", half_body.try_clone()),
        ("kept alive", kept.try_clone()),
    ]
    .into_iter()
    .map(|(what, stream)| {
        let mut stream = stream.expect("clone");
        std::thread::spawn(move || (what, closed_within(&mut stream, limit)))
    })
    .collect();
    for t in threads {
        let (what, closed) = t.join().expect("thread");
        let took = closed.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(took <= Duration::from_secs(15), "{what}: closed only after {took:?}");
    }
    assert_eq!(get(s.port, "/healthz").0, 200, "the server serves on");
}

#[test]
fn a_reload_never_refuses_a_connection() {
    let mut s = serve();
    let port = s.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut served, mut refused, mut other) = (0u32, 0u32, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match TcpStream::connect(("127.0.0.1", port)) {
                    Err(e) => {
                        refused += 1;
                        other.push(e.to_string());
                    }
                    Ok(mut c) => {
                        let _ = c.set_read_timeout(Some(Duration::from_secs(15)));
                        let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
                        let mut answer = String::new();
                        let _ = c.read_to_string(&mut answer);
                        if status_of(&answer) == 200 {
                            served += 1;
                        } else {
                            other.push(format!("answer {answer:?}"));
                        }
                    }
                }
            }
            (served, refused, other)
        })
    };
    let log = || std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap_or_default();
    for n in 1..=3 {
        assert_eq!(signal(s.daemon.child.id(), "HUP").ok(), Some(true));
        let end = Instant::now() + Duration::from_secs(20);
        while log().matches("configuration reloaded").count() < n {
            assert!(Instant::now() < end, "reload {n} did not happen:\n{}", log());
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (served, refused, other) = hammer.join().expect("hammer");
    s.daemon.alive();
    assert_eq!(refused, 0, "connections refused during reloads: {other:?}");
    assert!(other.is_empty(), "{other:?}");
    assert!(served > 50, "the loop ran: {served} requests");
}
