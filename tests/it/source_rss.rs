//! The `rss` kind against a loopback server, for what feeds in the wild send besides plain
//! UTF-8 with a `<guid>` per item: bodies in UTF-16 (with a byte order mark, or only an XML
//! declaration saying so), in a legacy charset named only by the HTTP `Content-Type`, and
//! RSS 2.0 items with neither `<guid>` nor `<link>` (the specification allows an item with
//! only a title or only a description), which must still be told apart and recognised when
//! polled again.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::mpsc;

use stormwatch::config::Config;
use stormwatch::secret::Environment;
use stormwatch::sources::handoff::{HandOff, MentionBatch};
use stormwatch::sources::poll::{PollContext, PollStats, Source};
use stormwatch::sources::{rss, Http, Kind, SourceKind, DEFAULT_MAX_BODY_BYTES};
use stormwatch::store::Store;

use crate::support::http;
use crate::support::sources::{self, build_kind, PollAt};

/// A small RSS 2.0 feed whose text needs more than ASCII; `decl` is its XML declaration.
fn feed(decl: &str) -> String {
    format!(
        "{decl}\n<rss version=\"2.0\"><channel><title>Nieuws</title>\
         <item><guid>n-1</guid><title>Kroon Bank \u{2014} storing: café dicht</title>\
         <pubDate>Tue, 04 Jun 2024 09:00:00 +0000</pubDate></item></channel></rss>"
    )
}

const TEXT: &str = "Kroon Bank \u{2014} storing: café dicht";

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let units = (if bom { Some(0xfeff) } else { None }).into_iter().chain(text.encode_utf16());
    units.flat_map(|u| if big_endian { u.to_be_bytes() } else { u.to_le_bytes() }).collect()
}

/// Windows-1252 for the few non-ASCII characters `feed` uses.
fn windows_1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            'é' => 0xe9,
            '\u{2014}' => 0x97,
            c if c.is_ascii() => c as u8,
            c => panic!("{c:?} is not in this test's table"),
        })
        .collect()
}

fn at() -> PollAt<'static> {
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    PollAt { source: "news", backfill_since: t("2024-01-01T00:00:00Z"), now: t("2024-06-04T12:00:00Z") }
}

fn kind(addr: SocketAddr, path: &str) -> Box<dyn Kind> {
    let url = format!("http://{addr}{path}").parse().unwrap();
    build_kind(
        "news",
        Duration::from_secs(3600),
        DEFAULT_MAX_BODY_BYTES,
        SourceKind::Rss(rss::Spec { url }),
        &Environment::default(),
    )
}

#[tokio::test]
async fn utf16_feeds_with_or_without_a_byte_order_mark_and_legacy_charsets_are_read() {
    let utf16_decl = feed("<?xml version=\"1.0\" encoding=\"UTF-16\"?>");
    let no_decl = feed("");
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("/utf16le-bom.xml", "application/rss+xml", utf16(&no_decl, false, true)),
        ("/utf16be-bom.xml", "application/rss+xml", utf16(&no_decl, true, true)),
        ("/utf16le-decl.xml", "application/rss+xml", utf16(&utf16_decl, false, false)),
        ("/utf16be-decl.xml", "application/rss+xml", utf16(&utf16_decl, true, false)),
        // UCS-2, as old feeds name UTF-16 (feedparser's corpus has these): big endian, no BOM.
        ("/ucs2-decl.xml", "text/xml", utf16(&feed("<?xml version=\"1.0\" encoding=\"ucs-2\"?>"), true, false)),
        // The charset only in the HTTP header; a declaration that names none.
        ("/cp1252-header.xml", "text/xml; charset=windows-1252", windows_1252(&feed("<?xml version=\"1.0\"?>"))),
        // The declaration names the charset and the server says nothing.
        (
            "/cp1252-decl.xml",
            "application/xml",
            windows_1252(&feed("<?xml version=\"1.0\" encoding=\"windows-1252\"?>")),
        ),
    ];
    let files = cases.iter().map(|(p, ct, b)| (p.to_string(), (ct.to_string(), b.clone()))).collect();
    let addr = http::serve_files(files).await;
    let client = Http::new("stormwatch-test").unwrap();
    for (path, _, _) in &cases {
        let page = sources::page(&*kind(addr, path), &client, at(), &Value::Null)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let texts: Vec<&str> = page.mentions.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, [TEXT], "{path}: {:?}", page.skipped);
    }
}

#[tokio::test]
async fn a_body_that_is_not_a_feed_in_any_charset_is_a_parse_error_not_a_crash() {
    // Odd-length "UTF-16", a lone surrogate, and a declaration naming a charset nobody knows.
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("/odd.xml", vec![0xfe, 0xff, 0x00, 0x3c, 0x00]),
        ("/surrogate.xml", [&[0xff, 0xfe][..], &[0x3c, 0x00, 0x00, 0xd8, 0x3e, 0x00]].concat()),
        ("/unknown.xml", b"<?xml version=\"1.0\" encoding=\"x-no-such\"?><rss><channel><item>".to_vec()),
    ];
    let files = cases.iter().map(|(p, b)| (p.to_string(), ("text/xml".to_string(), b.clone()))).collect();
    let addr = http::serve_files(files).await;
    let client = Http::new("stormwatch-test").unwrap();
    for (path, _) in &cases {
        match sources::page(&*kind(addr, path), &client, at(), &Value::Null).await {
            Err(e) => assert_eq!(e.label(), "parse", "{path}: {e}"),
            Ok(page) => assert!(page.mentions.is_empty(), "{path}: {:?}", page.mentions),
        }
    }
}

/// RSS 2.0 items as the specification allows them: a title alone, a description alone, both;
/// the same title a day apart. Dated within the backfill, so a first poll takes them all.
fn no_ids() -> String {
    let day = |n: i64| (Utc::now() - chrono::Duration::days(n)).to_rfc2822();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Klachten</title><link>https://klachten.example/</link>
  <item><title>Kroon Bank app weer down</title><pubDate>{}</pubDate></item>
  <item><description>Kroon Bank &lt;b&gt;storing&lt;/b&gt; bij het inloggen</description></item>
  <item><title>Kroon Bank</title><description>Geld kwijt na update</description></item>
  <item><title>Kroon Bank app weer down</title><pubDate>{}</pubDate></item>
</channel></rss>"#,
        day(1),
        day(2)
    )
}

/// A stand-in for detection: takes each page's batch, says it was journaled, and passes the
/// ids on to the test.
fn acking() -> (mpsc::Sender<MentionBatch>, mpsc::UnboundedReceiver<String>) {
    let (tx, mut batches) = mpsc::channel::<MentionBatch>(16);
    let (fwd, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(b) = batches.recv().await {
            for m in b.mentions {
                let _ = fwd.send(m.mention.id);
            }
            let _ = b.counted.send(Ok(()));
        }
    });
    (tx, rx)
}

#[tokio::test]
async fn items_without_guid_or_link_get_a_content_id_that_is_the_same_at_the_next_poll() {
    let files =
        HashMap::from([("/klachten.xml".to_string(), ("application/rss+xml".to_string(), no_ids().into_bytes()))]);
    let addr = http::serve_files(files).await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[storage]\npath = \"{}\"\n[[sources]]\nname = \"klachten\"\nkind = \"rss\"\n\
         url = \"http://{addr}/klachten.xml\"\nbackfill = \"90d\"\n\
         [[watches]]\nname = \"kroon\"\nterms = [\"kroon bank\"]\n",
        dir.path().join("state.db").display()
    );
    let config = Config::from_toml_with_env(&toml, std::path::Path::new("/")).unwrap();
    let store = Store::open(&config.storage.path).unwrap();
    let (tx, mut ids) = acking();
    let ctx = PollContext {
        handoff: HandOff { store: store.clone(), matcher: Arc::new(config.matcher()), out: tx },
        stats: Arc::new(PollStats::default()),
    };
    let client = Http::new("stormwatch-test").unwrap();
    let source = Source::new(config.sources[0].clone(), &client, &Environment::default()).unwrap();

    let first = source.poll(&ctx, Utc::now()).await.unwrap();
    assert_eq!((first.new, first.skipped, first.error.clone()), (4, 0, None), "{first:?}");
    let mut handed = Vec::new();
    while let Ok(id) = ids.try_recv() {
        handed.push(id);
    }
    assert_eq!(handed.len(), 4, "{handed:?}");
    assert!(handed.iter().all(|id| id.starts_with("content-")), "{handed:?}");
    assert_ne!(handed[0], handed[3], "the same title on another day is another item");

    // The second poll gets the same body (no validators from this server): nothing is new.
    let second = source.poll(&ctx, Utc::now() + chrono::Duration::minutes(5)).await.unwrap();
    assert_eq!((second.new, second.duplicates, second.error), (0, 4, None));
    assert!(ids.try_recv().is_err(), "nothing handed on twice");
    assert_eq!(store.seen_count("klachten").unwrap(), 4);
}
