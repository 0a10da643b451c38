//! Parse-and-normalize throughput per source kind, in items per second, on response bodies
//! built from the real samples in `../shared/data/feeds` (each replicated to 100 items with
//! distinct ids and texts: the shape is the real API's, the size a full page).
//!
//! Run: `cargo bench -p stormwatch-benches --bench sources`. Without the data folder the bench says so and measures
//! nothing.

use std::hint::black_box;
use std::path::Path;

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};

use stormwatch::sources::json::JsonFields;
use stormwatch::sources::{bluesky, file, hackernews, json as json_kind, mastodon, reddit, rss};

const FEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/feeds");
const ITEMS: usize = 100;

fn sample(name: &str) -> Option<Value> {
    let text = std::fs::read_to_string(Path::new(FEEDS).join(name)).ok()?;
    serde_json::from_str(&text).ok()
}

fn text(i: usize) -> String {
    format!("Kroon Bank app storing nummer {i}: inloggen lukt niet sinds vanochtend, klantenservice onbereikbaar #kroonbank")
}

/// Replaces the value at `pointer` in `item`.
fn set(item: &mut Value, pointer: &str, v: Value) {
    if let Some(slot) = item.pointer_mut(pointer) {
        *slot = v;
    }
}

fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    if let Some(status) = sample("mastodon_status_entity.json") {
        let list: Vec<Value> = (0..ITEMS)
            .map(|i| {
                let mut s = status.clone();
                set(&mut s, "/id", json!(format!("1100000000000{i:05}")));
                set(&mut s, "/content", json!(format!("<p>{}</p>", text(i))));
                s
            })
            .collect();
        out.push(("mastodon", serde_json::to_vec(&list).unwrap_or_default()));
    }
    if let Some(post) = sample("bluesky_postView_2024.json") {
        let posts: Vec<Value> = (0..ITEMS)
            .map(|i| {
                let mut p = post.clone();
                set(&mut p, "/uri", json!(format!("at://did:plc:abc/app.bsky.feed.post/3kabc{i:05}")));
                set(&mut p, "/record/text", json!(text(i)));
                p
            })
            .collect();
        out.push((
            "bluesky",
            serde_json::to_vec(&json!({"cursor": "1731000000000", "posts": posts})).unwrap_or_default(),
        ));
    }
    if let Some(listing) = sample("reddit_listing_new_golang_2018.json") {
        let child = listing.pointer("/data/children/0").cloned().unwrap_or(Value::Null);
        let children: Vec<Value> = (0..ITEMS)
            .map(|i| {
                let mut c = child.clone();
                set(&mut c, "/data/name", json!(format!("t3_abc{i:05}")));
                set(&mut c, "/data/title", json!(text(i)));
                c
            })
            .collect();
        let mut l = listing.clone();
        set(&mut l, "/data/children", Value::Array(children));
        out.push(("reddit", serde_json::to_vec(&l).unwrap_or_default()));
    }
    if let Some(search) = sample("hn_algolia_search_official_example.json") {
        let hit = search.pointer("/hits/0").cloned().unwrap_or(Value::Null);
        let hits: Vec<Value> = (0..ITEMS)
            .map(|i| {
                let mut h = hit.clone();
                set(&mut h, "/objectID", json!(format!("{}", 40_000_000 + i)));
                set(&mut h, "/title", json!(text(i)));
                if let Some(o) = h.as_object_mut() {
                    o.insert("created_at_i".into(), json!(1_717_000_000 + i as i64));
                }
                h
            })
            .collect();
        let mut s = search.clone();
        set(&mut s, "/hits", Value::Array(hits));
        out.push(("hackernews", serde_json::to_vec(&s).unwrap_or_default()));
    }
    if let Some(threads) = sample("youtube_commentThreads_list_2024.json") {
        let item = threads.pointer("/items/0").cloned().unwrap_or(Value::Null);
        let items: Vec<Value> = (0..ITEMS)
            .map(|i| {
                let mut it = item.clone();
                set(&mut it, "/id", json!(format!("Ugz{i:08}")));
                set(&mut it, "/snippet/topLevelComment/snippet/textDisplay", json!(text(i)));
                it
            })
            .collect();
        let mut t = threads.clone();
        set(&mut t, "/items", Value::Array(items));
        out.push(("json (youtube)", serde_json::to_vec(&t).unwrap_or_default()));
    }
    if let Ok(atom) = std::fs::read_to_string(Path::new(FEEDS).join("google_alerts_atom_2021.xml")) {
        if let (Some(start), Some(end)) = (atom.find("<entry>"), atom.rfind("</entry>")) {
            let entry = &atom[start..end + "</entry>".len()];
            let entries: String = (0..ITEMS)
                .map(|i| {
                    let id_start = entry.find("<id>").unwrap_or(0);
                    let id_end = entry.find("</id>").unwrap_or(0);
                    if id_end > id_start {
                        format!("{}<id>alert-{i}</id>{}", &entry[..id_start], &entry[id_end + 5..])
                    } else {
                        entry.to_string()
                    }
                })
                .collect();
            out.push((
                "rss (google alerts atom)",
                format!("{}{}{}", &atom[..start], entries, &atom[end + 8..]).into_bytes(),
            ));
        }
    }
    let lines: String = (0..ITEMS)
        .map(|i| {
            json!({"id": format!("f{i}"), "text": text(i), "author": "a", "followers": 10, "lang": "nl", "created": "2024-06-04T10:00:00Z"})
                .to_string()
                + "\n"
        })
        .collect();
    out.push(("file (json lines)", lines.into_bytes()));
    out
}

fn bench_parsers(c: &mut Criterion) {
    let now: DateTime<Utc> = Utc::now();
    let bodies = bodies();
    if bodies.len() < 2 {
        eprintln!("benches/sources: no feed samples at {FEEDS}; nothing measured");
        return;
    }
    let yt_fields = JsonFields {
        id: "/id".into(),
        text: "/snippet/topLevelComment/snippet/textDisplay".into(),
        author: Some("/snippet/topLevelComment/snippet/authorDisplayName".into()),
        followers: None,
        lang: None,
        created: Some("/snippet/topLevelComment/snippet/publishedAt".into()),
        url: None,
    };
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(ITEMS as u64));
    for (kind, body) in &bodies {
        g.bench_function(*kind, |b| {
            b.iter(|| {
                let n = match *kind {
                    "mastodon" => mastodon::parse_mastodon(body, "s", now).map(|p| p.mentions.len()),
                    "bluesky" => bluesky::parse_bluesky(body, "s", now).map(|p| p.posts.len()),
                    "reddit" => reddit::parse_reddit(body, "s", now).map(|l| l.items.len()),
                    "hackernews" => hackernews::parse_hackernews(body, "s", now).map(|s| s.hits.len()),
                    "json (youtube)" => {
                        json_kind::parse_json(body, "/items", &yt_fields, Some("/nextPageToken"), "s", now)
                            .map(|p| p.items.len())
                    }
                    "rss (google alerts atom)" => rss::parse_feed(body, "s", now).map(|(m, _)| m.len()),
                    _ => Ok(file::parse_file(body, 0, None, "s", now).mentions.len()),
                };
                black_box(n.unwrap_or(0))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_parsers);
criterion_main!(benches);
