//! feedfarm: serves `/feed/{n}.xml` for n in 0..N on 127.0.0.1:PORT. Each feed holds its 20
//! newest items; a feed gains one item every `--every` seconds (staggered per feed), so a
//! poller sees realistic traffic: mostly 304s (ETag), sometimes one new item.
//!
//!     feedfarm --feeds 1000 --port 18080 --every 60

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

#[derive(Clone)]
struct Farm {
    feeds: u64,
    every: u64,
    start: Instant,
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn feed(State(farm): State<Farm>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(n) = name.strip_suffix(".xml").and_then(|n| n.parse::<u64>().ok()).filter(|n| *n < farm.feeds) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Items published so far by feed n: one per `every` seconds, feeds staggered.
    let elapsed = farm.start.elapsed().as_secs() + n % farm.every;
    let count = 20 + elapsed / farm.every;
    let etag = format!("\"{n}-{count}\"");
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut body = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>farm</title>");
    for i in (count.saturating_sub(20)..count).rev() {
        let age = (count - i) * farm.every;
        body.push_str(&format!(
            "<item><guid>feed{n}-item{i}</guid><title>Kroon Bank update {i} from feed {n}</title>\
             <description>Klanten melden een storing bij Kroon Bank, item {i}.</description>\
             <link>https://farm.example/{n}/{i}</link><pubDate>{}</pubDate></item>",
            http_date(now.saturating_sub(age))
        ));
    }
    body.push_str("</channel></rss>");
    ([(header::ETAG, etag), (header::CONTENT_TYPE, "application/rss+xml".to_string())], body).into_response()
}

/// RFC 2822 date without a date library.
fn http_date(secs: u64) -> String {
    let days = secs / 86_400;
    let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!("{d:02} {} {y} {h:02}:{m:02}:{s:02} +0000", MONTHS[(mo - 1) as usize])
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let farm = Farm { feeds: arg("--feeds", 1000), every: arg("--every", 60).max(1), start: Instant::now() };
    let port = arg("--port", 18080);
    let app = Router::new().route("/feed/{name}", get(feed)).with_state(farm);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port as u16)).await?;
    axum::serve(listener, app).await
}
