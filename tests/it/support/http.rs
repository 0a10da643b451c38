//! Plain HTTP on loopback, both ways. As a client: bare HTTP/1.1 requests to the daemon's own
//! server (`/healthz`, `/metrics`, the API), with nothing in between to hide a mistake. As a
//! server: the feeds and receivers the tests play, served from the test's tokio runtime
//! (`serve`), from a runtime on a thread of their own so that sync tests can use them
//! (`serve_in_background`), or by hand on a std listener where a test needs every byte of the
//! answer (`read_head`, `respond`, `serve_json`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// A bare HTTP/1.1 request to 127.0.0.1:`port`; the whole answer as it came (head and body),
/// empty when nothing listens. `headers` are extra header lines, each ending in CRLF. The
/// answer is read for at most 10 s.
pub fn exchange(port: u16, method: &str, path: &str, headers: &str, body: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return String::new() };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// `exchange`, read: the status (0 when nothing answered) and the body.
pub fn request(port: u16, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let out = exchange(port, method, path, headers, body);
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

/// A GET: the status (0 when nothing answered) and the body.
pub fn get(port: u16, path: &str) -> (u16, String) {
    request(port, "GET", path, "", "")
}

/// Serves `app` on a fresh port of 127.0.0.1 from the test's own tokio runtime.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

/// Serves `app` on a fresh port of 127.0.0.1 from a runtime on a thread of its own, so that a
/// sync test (one that blocks on the daemon) can use it; it serves until the process ends.
pub fn serve_in_background(app: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    serve_listeners_in_background(vec![listener], app);
    addr
}

/// `serve_in_background` on listeners the caller bound (several loopback addresses, say).
pub fn serve_listeners_in_background(listeners: Vec<TcpListener>, app: axum::Router) {
    for l in &listeners {
        l.set_nonblocking(true).expect("non-blocking listener");
    }
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(async move {
            let mut servers = Vec::new();
            for l in listeners {
                let l = tokio::net::TcpListener::from_std(l).expect("tokio listener");
                let app = app.clone();
                servers.push(tokio::spawn(async move { axum::serve(l, app).await }));
            }
            for s in servers {
                let _ = s.await;
            }
        });
    });
}

/// The head of the request on `stream` (request line and headers, up to the blank line), read
/// byte by byte so that nothing after it is taken; at most 16 KiB, waiting at most 5 s.
pub fn read_head(stream: &mut TcpStream) -> String {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Writes a whole answer with its length and `Connection: close`; `extra` is more header lines,
/// each ending in CRLF.
pub fn respond(stream: &mut TcpStream, status: u16, content_type: &str, extra: &str, body: &str) {
    let reason = axum::http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Other");
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
}

/// A feed on a fresh port of 127.0.0.1, one connection at a time: every request is answered
/// 200 with the JSON body that `answer` makes of the request's head.
pub fn serve_json(answer: impl Fn(&str) -> String + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let head = read_head(&mut stream);
            respond(&mut stream, 200, "application/json", "", &answer(&head));
        }
    });
    addr
}

/// Writes `text` as it is (a request the test shapes byte for byte: its own `Host`, no
/// `Content-Length`) to 127.0.0.1:`port`; the whole answer as it came, read for at most 10 s.
pub fn raw(port: u16, text: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return String::new() };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.write_all(text.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// The value of header `name` (case-insensitive) in the head of `answer`, as `exchange` and
/// `raw` return it.
pub fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next().unwrap_or("");
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The status code of an answer as `exchange` and `raw` return it (0 when nothing answered).
pub fn status_of(answer: &str) -> u16 {
    answer.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Fixed bodies on a fresh port of 127.0.0.1, from the test's own tokio runtime: a GET of a
/// key of `files` (a path such as `/feeds/a.xml`) answers 200 with its content type and bytes,
/// any other path 404.
pub async fn serve_files(files: std::collections::HashMap<String, (String, Vec<u8>)>) -> SocketAddr {
    use axum::http::{header, StatusCode, Uri};
    use axum::response::IntoResponse;
    let files = std::sync::Arc::new(files);
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let files = files.clone();
        async move {
            match files.get(uri.path()) {
                Some((content_type, body)) => {
                    ([(header::CONTENT_TYPE, content_type.clone())], body.clone()).into_response()
                }
                None => (StatusCode::NOT_FOUND, "no such file").into_response(),
            }
        }
    });
    serve(app).await
}
