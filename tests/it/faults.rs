//! Faults in the world, against the real binary: feeds on loopback that hang, reset the
//! connection, answer 500/502/503, 401/403, 429 with and without Retry-After, send a
//! truncated body, a 50 MB body (with and without a Content-Length), a body at one byte a
//! second, or HTML where JSON was asked for; a feed that fails and then recovers; a webhook
//! that answers 500 before it takes the alert, and one that never answers.
//!
//! Each fault source lives on its own loopback address (127.0.0.N), as it would on its own
//! host: polls are limited per host, and a test with every fault on 127.0.0.1 would measure
//! that limit rather than the isolation between sources. Afterwards:
//! - the daemon stayed up and stops cleanly on SIGTERM, hanging connections and all;
//! - the good feed lost nothing and the recovered feed lost nothing either;
//! - each fault shows in `/metrics` (`stormwatch_poll_errors_total{source,kind}`) and in the
//!   source's health, and as a blind-spot alert that names the failing sources;
//! - the webhook that failed at first got the alert; the one that hangs held no one else up;
//! - a 50 MB body did not make the daemon hold 50 MB.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use stormwatch::store::Store;

use crate::support::daemon::{rss_kib, Daemon};
use crate::support::free_port;
use crate::support::http::{get, read_head, respond};
use crate::support::webhook_sink::{Reply, WebhookSink};

/// How a loopback "feed" behaves.
#[derive(Clone)]
enum Behaviour {
    /// Reads the request and never answers.
    Hang,
    /// Closes without reading the request: the kernel answers with a reset.
    Reset,
    /// A status and extra header lines, with a small JSON error body.
    Status(u16, &'static str),
    /// Promises 2000 bytes, sends 100, closes.
    Truncated,
    /// 50 MB of JSON padding; with the length declared up front or not.
    Huge { declared: bool },
    /// A valid JSON page, one byte a second.
    Slowloris,
    /// A login page where the API was.
    Html,
    /// The real feed of `term`: the first `fail_first` requests get 503.
    Feed(Arc<FeedItems>),
}

/// A feed that grows: item `i` appears at `start + i × every`, up to `end`.
struct FeedItems {
    term: &'static str,
    start: DateTime<Utc>,
    every: chrono::Duration,
    end: DateTime<Utc>,
    fail_first: usize,
}

impl FeedItems {
    /// How many items the feed will have held by its end.
    fn total(&self) -> usize {
        ((self.end - self.start).num_milliseconds() / self.every.num_milliseconds()) as usize + 1
    }

    fn published(&self, i: usize) -> DateTime<Utc> {
        self.start + self.every * i as i32
    }

    fn page(&self, since: usize) -> String {
        let upto = Utc::now().min(self.end);
        let items: Vec<serde_json::Value> = (since + 1..=self.total())
            .map(|id| (id, self.published(id - 1)))
            .filter(|(_, at)| *at <= upto)
            .map(|(id, at)| {
                serde_json::json!({"id": id, "text": format!("{} klantenservice reageert snel, bericht {id}", self.term),
                    "author": format!("user{}", id % 17), "created": at.to_rfc3339()})
            })
            .collect();
        serde_json::json!({ "data": items }).to_string()
    }
}

struct Server {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
}

/// A server on `ip` that plays `behaviour` on every connection, each on a thread of its own
/// (a hang must not hold up the next poll). Not `support::http::serve_json`: these answers are
/// written byte by byte, or not at all.
fn serve(ip: &str, behaviour: Behaviour) -> Server {
    let listener = TcpListener::bind((ip, 0)).unwrap_or_else(|e| panic!("bind {ip}: {e}"));
    let addr = listener.local_addr().expect("addr");
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let behaviour = behaviour.clone();
            std::thread::spawn(move || answer(stream, n, &behaviour));
        }
    });
    Server { addr, requests }
}

fn answer(mut stream: TcpStream, n: usize, behaviour: &Behaviour) {
    if let Behaviour::Reset = behaviour {
        // Let the request arrive unread: closing then makes the kernel send RST.
        std::thread::sleep(Duration::from_millis(50));
        return;
    }
    // The request's path and query, once its head has arrived.
    let head = read_head(&mut stream);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    match behaviour {
        Behaviour::Reset => {}
        Behaviour::Hang => std::thread::sleep(Duration::from_secs(120)),
        Behaviour::Status(status, extra) => {
            respond(&mut stream, *status, "application/json", extra, r#"{"error":"scripted"}"#)
        }
        Behaviour::Truncated => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\r\n{{\"data\": [{{\"id\": 1, \"text\": \"half"
            );
        }
        Behaviour::Huge { declared } => {
            let total = 50 * 1024 * 1024;
            let length = if *declared { format!("Content-Length: {total}\r\n") } else { String::new() };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}Connection: close\r\n\r\n"
            );
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..total / chunk.len() {
                if stream.write_all(&chunk).is_err() {
                    return; // the client stopped reading, as it should
                }
            }
        }
        Behaviour::Slowloris => {
            let body = r#"{"data": []}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            for b in body.bytes() {
                if stream.write_all(&[b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Behaviour::Html => respond(
            &mut stream,
            200,
            "text/html; charset=utf-8",
            "",
            "<!doctype html><html><body><form action=/login>Sign in</form></body></html>",
        ),
        Behaviour::Feed(feed) if n < feed.fail_first => {
            respond(&mut stream, 503, "application/json", "", r#"{"error":"maintenance"}"#)
        }
        Behaviour::Feed(feed) => {
            let since = path
                .split_once("since_id=")
                .and_then(|(_, v)| v.split('&').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            respond(&mut stream, 200, "application/json", "", &feed.page(since));
        }
    }
}

/// The resident memory of a process, in MiB (0 when it cannot be read).
fn rss_mib(pid: u32) -> f64 {
    rss_kib(pid).unwrap_or(0) as f64 / 1024.0
}

/// The value of one labelled counter in a Prometheus text page.
fn counter(metrics: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok())
}

#[test]
fn every_fault_is_survived_shown_and_alerted_and_nothing_is_lost_when_it_clears() {
    let t0 = Utc::now();
    let end = t0 + chrono::Duration::seconds(25);
    let every = chrono::Duration::milliseconds(500);
    let good =
        Arc::new(FeedItems { term: "alphabank", start: t0 - chrono::Duration::seconds(15), every, end, fail_first: 0 });
    // Down for its first two polls (about 15 s with the backoff), then up with everything
    // published meanwhile.
    let flaky =
        Arc::new(FeedItems { term: "betabank", start: t0 - chrono::Duration::seconds(15), every, end, fail_first: 2 });
    // (source name, behaviour, the poll error kind it must show as; None: any kind).
    let faults: Vec<(&str, Behaviour, Option<&str>)> = vec![
        ("hang", Behaviour::Hang, Some("timeout")),
        ("reset", Behaviour::Reset, None),
        ("status-500", Behaviour::Status(500, ""), Some("server_error")),
        ("status-502", Behaviour::Status(502, ""), Some("server_error")),
        ("status-503", Behaviour::Status(503, ""), Some("server_error")),
        ("status-401", Behaviour::Status(401, "WWW-Authenticate: Bearer\r\n"), Some("unauthorized")),
        ("status-403", Behaviour::Status(403, ""), Some("unauthorized")),
        ("limited-retry-after", Behaviour::Status(429, "Retry-After: 3\r\n"), Some("rate_limited")),
        ("limited", Behaviour::Status(429, ""), Some("rate_limited")),
        ("truncated", Behaviour::Truncated, Some("parse")),
        ("huge", Behaviour::Huge { declared: false }, Some("too_large")),
        ("huge-declared", Behaviour::Huge { declared: true }, Some("too_large")),
        ("slowloris", Behaviour::Slowloris, Some("timeout")),
        ("html", Behaviour::Html, Some("parse")),
    ];
    let mut servers = Vec::new();
    let mut sources = String::new();
    let source = |name: &str, addr: SocketAddr| {
        format!(
            "[[sources]]\nname = \"{name}\"\nkind = \"json\"\nurl = \"http://{addr}/api\"\nitems = \"/data\"\n\
             interval = \"5s\"\nbackfill = \"1h\"\ntimeout = \"2s\"\n\
             [sources.fields]\nid = \"/id\"\ntext = \"/text\"\nauthor = \"/author\"\ncreated = \"/created\"\n\
             [sources.cursor]\nstrategy = \"max_id\"\nparam = \"since_id\"\n"
        )
    };
    for (i, (name, behaviour, _)) in faults.iter().enumerate() {
        let server = serve(&format!("127.0.0.{}", i + 10), behaviour.clone());
        sources += &source(name, server.addr);
        servers.push(server);
    }
    let good_server = serve("127.0.0.1", Behaviour::Feed(good.clone()));
    let flaky_server = serve("127.0.0.2", Behaviour::Feed(flaky.clone()));
    sources += &source("good", good_server.addr);
    sources += &source("flaky", flaky_server.addr);

    let ops = WebhookSink::start(vec![Reply::status(500), Reply::status(500)]);
    let stuck = WebhookSink::start_with_delay(vec![], Duration::from_secs(120));
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("hook.secret"), "k").expect("secret");
    let port = free_port();
    let config = format!(
        "[storage]\npath = \"state.db\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n\
         [alerts]\npublic_url = \"http://127.0.0.1:{port}\"\n[blind_spots]\nfailures = 2\n\
         {sources}\
         [[watches]]\nname = \"alpha\"\nterms = [\"alphabank\"]\nreceivers = [\"ops\", \"stuck\"]\n\
         [[watches]]\nname = \"beta\"\nterms = [\"betabank\"]\nreceivers = [\"ops\", \"stuck\"]\n\
         [[receivers]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret_file = \"hook.secret\"\n\
         [[receivers]]\nname = \"stuck\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret_file = \"hook.secret\"\n",
        ops.url("/hook"),
        stuck.url("/hook")
    );
    let config_path = dir.path().join("stormwatch.toml");
    std::fs::write(&config_path, config).expect("config");
    let mut daemon = Daemon::start(&config_path, dir.path().join("daemon.log"));

    // Until both feeds are journaled to their end and the ops receiver has its blind-spot alert.
    let store = Store::open(&dir.path().join("state.db")).expect("state file");
    let journaled = |watch: &str| {
        store.each_logged_mention(watch, t0 - chrono::Duration::hours(1), end + chrono::Duration::seconds(1), |_| {})
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut peak_rss: f64 = 0.0;
    // Every source a blind-spot notice to ops has named so far (it fires with the first
    // source to fail and follows up as others join).
    let named_blind = |ops: &WebhookSink| -> BTreeSet<String> {
        ops.requests()
            .iter()
            .map(|r| r.json())
            .filter(|v| v["signal"] == "blind_spot" && v["watch"] == "alpha")
            .flat_map(|v| {
                let names: Vec<String> = v["blind_sources"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|b| b["source"].as_str().map(str::to_string))
                    .collect();
                names
            })
            .collect()
    };
    // 401/403 do not heal by themselves: they make the blind spot critical at once.
    let critical_named = |ops: &WebhookSink| named_blind(ops).contains("status-401");
    // The first two requests got 500: done when each of those deliveries came again under its key.
    let refused_then_retried = |ops: &WebhookSink| {
        let requests = ops.requests();
        requests.len() >= 3
            && requests[..2].iter().all(|refused| {
                let key = refused.header("idempotency-key");
                requests[2..].iter().any(|r| r.header("idempotency-key") == key)
            })
    };
    loop {
        peak_rss = peak_rss.max(rss_mib(daemon.child.id()));
        if let Ok(Some(status)) = daemon.child.try_wait() {
            panic!("the daemon exited ({status}) under faults:\n{}", daemon.log());
        }
        let done = Utc::now() > end + chrono::Duration::seconds(2)
            && journaled("alpha").unwrap_or(0) as usize == good.total()
            && journaled("beta").unwrap_or(0) as usize == flaky.total()
            && refused_then_retried(&ops)
            && critical_named(&ops);
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not settled in time: alpha {:?}/{}, beta {:?}/{}, ops got {} requests naming {:?}\n{}",
            journaled("alpha"),
            good.total(),
            journaled("beta"),
            flaky.total(),
            ops.requests().len(),
            named_blind(&ops),
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // Up and answering, with every fault counted by source and kind.
    assert_eq!(get(port, "/healthz").0, 200, "the daemon answers");
    let (_, metrics) = get(port, "/metrics");
    let (_, page) = get(port, "/");
    let mut shown = Vec::new();
    for (name, _, kind) in &faults {
        let kinds: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with(&format!("stormwatch_poll_errors_total{{source=\"{name}\",kind=\"")))
            .filter_map(|l| l.split("kind=\"").nth(1)?.split('"').next())
            .collect();
        assert!(!kinds.is_empty(), "{name}: no poll error in /metrics:\n{metrics}");
        if let Some(kind) = kind {
            assert_eq!(kinds, [*kind], "{name} shows as the right kind of failure");
        }
        let row = page.split("<tr>").find(|r| r.starts_with(&format!("<td>{name}</td>"))).unwrap_or("");
        let cells: Vec<&str> = row.split("<td>").filter_map(|c| c.split("</td>").next()).collect();
        assert!(
            cells.len() == 5 && cells[3].parse::<u32>().is_ok_and(|n| n >= 1) && !cells[4].is_empty(),
            "{name}: the status page shows it failing and why: {row}"
        );
        let health = store.health(name).expect("health").expect("health recorded");
        assert!(health.consecutive_failures >= 1, "{name}: {health:?}");
        assert!(health.last_error.as_deref().is_some_and(|e| !e.is_empty()), "{name}: {health:?}");
        shown.push(format!("{name}={}", kinds.join("+")));
    }
    assert_eq!(counter(&metrics, "stormwatch_poll_errors_total", "source=\"good\",kind=\"server_error\""), None);
    let good_health = store.health("good").expect("health").expect("recorded");
    assert_eq!(good_health.consecutive_failures, 0, "the good feed never failed: {good_health:?}");
    let flaky_health = store.health("flaky").expect("health").expect("recorded");
    assert_eq!(flaky_health.consecutive_failures, 0, "the flaky feed is back: {flaky_health:?}");
    assert_eq!(
        counter(&metrics, "stormwatch_poll_errors_total", "source=\"flaky\",kind=\"server_error\""),
        Some(2.0),
        "the flaky feed's two failures are counted"
    );
    // The server was asked again after Retry-After, not hammered.
    let limited_asks = servers[7].requests.load(Ordering::SeqCst);
    assert!(limited_asks >= 2, "a 429 source is polled again after its wait: {limited_asks}");

    // The blind-spot alert names the failing sources; it reached ops through its 500s.
    let requests = ops.requests();
    assert!(requests.iter().all(|r| r.header("idempotency-key").is_some()), "an Idempotency-Key on every request");
    let firing = requests.iter().map(|r| r.json()).find(|v| v["signal"] == "blind_spot" && v["event"] == "firing");
    let reason = firing.as_ref().and_then(|v| v["blind_sources"][0]["reason"].as_str().map(str::to_string));
    assert!(reason.as_deref().is_some_and(|r| r.contains("failed polls in a row")), "says why: {reason:?}");
    assert!(!stuck.requests().is_empty(), "the hanging receiver was tried too");
    assert!(peak_rss < 150.0, "a 50 MB body was not held in memory: peak {peak_rss:.1} MiB");

    // Stops on SIGTERM in time, hanging feed, slow body and hanging receiver notwithstanding.
    let (status, stopping) = daemon.stop(Duration::from_secs(20));
    let log = daemon.log();
    assert!(status.success(), "stopped cleanly: {status:?}\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    eprintln!(
        "faults: {} fault sources shown as {}; good {} and recovered {} mentions journaled of {} and {}; \
         ops got {} requests (2 × 500 first); peak RSS {peak_rss:.1} MiB; stopped in {} ms",
        faults.len(),
        shown.join(", "),
        journaled("alpha").unwrap_or(0),
        journaled("beta").unwrap_or(0),
        good.total(),
        flaky.total(),
        requests.len(),
        stopping.as_millis()
    );
}
