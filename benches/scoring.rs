//! Scoring throughput on the real posts of `../shared/data/sentiment` (both splits; only the
//! text is used), single thread:
//!
//! * `en/*`: the English posts, scored by stormwatch with the language given and detected,
//!   and by the `vader_sentiment` crate (the anchor), side by side in one run;
//! * `all4/*`: the posts of all four languages, language given and detected;
//! * `batch/*`: the `score --batch` path (JSON lines in, JSON lines out) in memory.
//!
//! Run: `cargo bench -p stormwatch-benches --bench scoring`. Throughput is reported in posts (elements) per second.
//! Without the data folder the bench says so and measures nothing.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use stormwatch::model::Lang;
use stormwatch::sentiment::batch::score_jsonl;
use stormwatch::sentiment::{Analysis, Scorer};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/sentiment");

fn load_texts(lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    for split in ["dev.tsv", "test.tsv"] {
        let path = Path::new(DATA).join(lang.code()).join(split);
        let Ok(raw) = std::fs::read_to_string(&path) else { continue };
        out.extend(raw.lines().skip(1).filter_map(|l| l.splitn(4, '\t').nth(3)).map(str::to_string));
    }
    out
}

fn bench_scoring(c: &mut Criterion) {
    let scorer = Scorer::builtin().expect("built-in lexicons load");
    let corpora: Vec<(Lang, Vec<String>)> = Lang::ALL.into_iter().map(|l| (l, load_texts(l))).collect();
    if corpora.iter().all(|(_, t)| t.is_empty()) {
        eprintln!("benches/scoring: no data at {DATA}; nothing measured");
        return;
    }
    let english = &corpora[0].1;

    let mut g = c.benchmark_group("en");
    g.throughput(Throughput::Elements(english.len() as u64));
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    for (name, lang) in [("stormwatch_lang_given", Some(Lang::En)), ("stormwatch_lang_detected", None)] {
        g.bench_function(name, |b| {
            let mut a = Analysis::default();
            b.iter(|| {
                let mut neg = 0u32;
                for t in english {
                    scorer.analyze(t, lang, &mut a);
                    neg += (a.compound() < 0.0) as u32;
                }
                black_box(neg)
            })
        });
    }
    g.bench_function("stormwatch_owned_result", |b| {
        b.iter(|| english.iter().map(|t| scorer.score(t, Some(Lang::En)).terms.len()).sum::<usize>())
    });
    let vader = vader_sentiment::SentimentIntensityAnalyzer::new();
    g.bench_function("vader_sentiment_crate", |b| {
        b.iter(|| {
            let mut neg = 0u32;
            for t in english {
                let s = vader.polarity_scores(t);
                neg += (s.get("compound").copied().unwrap_or(0.0) < 0.0) as u32;
            }
            black_box(neg)
        })
    });
    g.finish();

    let all: Vec<(Lang, &String)> = corpora.iter().flat_map(|(l, ts)| ts.iter().map(move |t| (*l, t))).collect();
    let mut g = c.benchmark_group("all4");
    g.throughput(Throughput::Elements(all.len() as u64));
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    for detect in [false, true] {
        let name = if detect { "lang_detected" } else { "lang_given" };
        g.bench_function(BenchmarkId::new("stormwatch", name), |b| {
            let mut a = Analysis::default();
            b.iter(|| {
                let mut neg = 0u32;
                for (l, t) in &all {
                    scorer.analyze(t, (!detect).then_some(*l), &mut a);
                    neg += (a.compound() < 0.0) as u32;
                }
                black_box(neg)
            })
        });
    }
    g.finish();

    let mut jsonl = Vec::new();
    for (l, t) in &all {
        serde_json::to_writer(&mut jsonl, &serde_json::json!({"id": "x", "text": t, "lang": l.code()})).ok();
        jsonl.push(b'\n');
    }
    let mut g = c.benchmark_group("batch");
    g.throughput(Throughput::Elements(all.len() as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("score_jsonl_all4", |b| {
        let mut out = Vec::with_capacity(jsonl.len() * 2);
        b.iter(|| {
            out.clear();
            let summary = score_jsonl(&scorer, &jsonl[..], &mut out, std::io::sink()).expect("in-memory io");
            black_box(summary.scored)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_scoring);
criterion_main!(benches);
