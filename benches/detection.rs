//! Detection throughput and memory, single thread, against the targets:
//!
//! * `counts/*`: count-only replay (`replay --counts`), in points per second (target ≥ 5
//!   million/s), on the real NAB series `Twitter_volume_AAPL.csv` (5-minute buckets) and on a
//!   deterministic synthetic series of a million 1-minute buckets. Each series is measured
//!   four ways, so the cost of each layer shows: `read` (parsing the CSV), `replay_detect`
//!   (`replay::counts::detect`: alerts and a chart trace per point), `step` (the counts
//!   detector without collecting traces) and `spike` (the spike test alone: judge, advance,
//!   learn on the same windows, no trace computed at all).
//! * `mentions/*`: mentions replayed through matching, scoring and four watches' detectors
//!   (target ≥ 250,000 mentions/s), in mentions per second. The mentions are the real posts
//!   of `../shared/data/sentiment/{en,nl,sv,pl}/dev.tsv`, three times over, each given a
//!   watched brand term, shuffled and spread over two days (≈ 20 a minute, 300 an hour per
//!   watch); three in four declare their language, the rest are language-detected, as feeds
//!   without a language field are (`declared_lang`: all declare it). The loop is the one of
//!   `replay::mentions::replay`: match, score once, observe per watch, tick every watch when
//!   the minute advances. `match_score_detect_reused/mixed_lang` is the headline: it keeps
//!   one `Analysis` (and its memos) for the whole replay, as that function does;
//!   `match_score_detect` calls `Scorer::score` (a fresh `Analysis` per mention) instead;
//!   `replay_fn` is the function itself, with its per-watch summaries. `match_only`,
//!   `score_only*` and `detect_only` (observe and tick on pre-scored mentions) show where the
//!   time goes.
//! * `detection/memory`: heap bytes held by 1,000 watch detectors after a week of mentions
//!   at 1-minute buckets, counted by the global allocator of this bench, and the size of
//!   their saved state. Criterion cannot measure memory, so this is printed, not timed; it
//!   runs unless a filter that excludes it is given.
//!
//! Run: `cargo bench -p stormwatch-benches --bench detection`. Without the data folder the benches that need it
//! say so and are skipped; the synthetic ones and the memory measurement still run.
// The counting allocator below is the one place the project writes `unsafe`: it must be a
// global allocator to see every allocation of the code measured.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use stormwatch::config::WatchSpec;
use stormwatch::detect::presets::PresetSpec;
use stormwatch::detect::spike::{SpikeDetector, Transition};
use stormwatch::detect::{CountsDetector, Preset, WatchDetector, WatchParams};
use stormwatch::model::{Label, Lang, Mention, Sentiment};
use stormwatch::replay::counts::{self, Point};
use stormwatch::replay::mentions as mention_replay;
use stormwatch::sentiment::{Analysis, Scorer};
use stormwatch::sources::matching::Matcher;

const NAB_AAPL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/nab-realtweets/Twitter_volume_AAPL.csv");
const SENTIMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/sentiment");

/// The system allocator, counting the bytes and blocks held while `COUNTING` is on. Off, it
/// costs one relaxed load per call, so the timed benches are not slowed by it.
struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static HELD_BYTES: AtomicIsize = AtomicIsize::new(0);
static HELD_BLOCKS: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            HELD_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            HELD_BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            HELD_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            HELD_BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        if COUNTING.load(Ordering::Relaxed) {
            HELD_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
            HELD_BLOCKS.fetch_sub(1, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            HELD_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Bytes and blocks allocated and not yet freed since counting was switched on.
fn held() -> (isize, isize) {
    (HELD_BYTES.load(Ordering::Relaxed), HELD_BLOCKS.load(Ordering::Relaxed))
}

/// Resident memory of the process, from `/proc/self/statm` (0 where there is none).
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|p| p.parse::<usize>().ok()).unwrap_or(0) * 4096
}

/// A deterministic generator (the LCG of the detector tests): the same data on every run.
struct Lcg(u64);

impl Lcg {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        ((self.next_f64() * n as f64) as usize).min(n.saturating_sub(1))
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Count-only replay.
// ---------------------------------------------------------------------------------------

/// A million 1-minute buckets (almost two years): a daily rhythm of 20 to 80 with
/// over-dispersed noise, and a storm of 10× for an hour every ten days.
fn synthetic_points(n: usize) -> Vec<Point> {
    let mut rng = Lcg(11);
    let start = t0();
    (0..n)
        .map(|i| {
            let at = start + chrono::Duration::minutes(i as i64);
            let hour = (i % 1440) as f64 / 60.0;
            let mut value = 50.0 - 30.0 * (std::f64::consts::PI * hour / 12.0).cos();
            value *= 0.6 + 0.8 * rng.next_f64();
            if (i % 14_400) >= 12_000 && (i % 14_400) < 12_060 {
                value *= 10.0;
            }
            Point { line: i + 2, raw_time: at.format("%Y-%m-%d %H:%M:%S").to_string(), at, value: value.round() }
        })
        .collect()
}

/// The spike test alone over a series: the windows `CountsDetector::step` judges (every
/// window from one bucket up to the short window, ending at the point), judged, advanced and
/// learned, without the chart trace. Returns the number of events started.
fn spike_only(points: &[Point], spec: &PresetSpec, bucket: Duration) -> usize {
    let mut spike = SpikeDetector::new(spec.spike_params(bucket));
    let short = (spec.short.as_secs_f64() / bucket.as_secs_f64().max(1.0)).round().max(1.0) as usize;
    let mut recent: VecDeque<f64> = VecDeque::with_capacity(short + 1);
    let mut windows = vec![(0u32, 0.0f64); short];
    let mut started = 0;
    for p in points {
        let slot = spec.season.slot(p.at);
        recent.push_back(p.value);
        if recent.len() > short {
            recent.pop_front();
        }
        let mut sum = 0.0;
        for (len, c) in recent.iter().rev().enumerate() {
            sum += c;
            windows[len] = (len as u32 + 1, sum);
        }
        let j = spike.judge(&windows[..recent.len()], p.value, slot);
        started += (spike.advance(&j) == Transition::Started) as usize;
        spike.learn(p.value, slot);
    }
    started
}

fn bench_counts(c: &mut Criterion) {
    let spec = Preset::Balanced.spec();
    let mut series: Vec<(&str, Option<String>, Vec<Point>, Duration)> = Vec::new();
    match std::fs::read_to_string(NAB_AAPL) {
        Ok(text) => match counts::read(NAB_AAPL, &text, None) {
            Ok((points, report)) => series.push(("nab_aapl", Some(text), points, report.bucket)),
            Err(e) => eprintln!("benches/detection: {e}; the NAB series is not measured"),
        },
        Err(_) => eprintln!("benches/detection: no NAB series at {NAB_AAPL}; only the synthetic one is measured"),
    }
    series.push(("synthetic_1m", None, synthetic_points(1_000_000), Duration::from_secs(60)));

    for (name, text, points, bucket) in &series {
        let (alerts, _) = counts::detect(points, &spec, *bucket);
        let starts = spike_only(points, &spec, *bucket);
        eprintln!(
            "counts/{name}: {} points at {}s buckets, {} alerts (balanced preset); the spike test alone: {starts}",
            points.len(),
            bucket.as_secs(),
            alerts.len()
        );
        assert_eq!(starts, alerts.len(), "the spike-only path judges what the detector judges");
        let mut g = c.benchmark_group("counts");
        g.throughput(Throughput::Elements(points.len() as u64));
        g.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
        if let Some(text) = text {
            g.bench_function(BenchmarkId::new("read", name), |b| {
                b.iter(|| counts::read("bench.csv", text, None).map(|(p, _)| p.len()).unwrap_or(0))
            });
        }
        g.bench_function(BenchmarkId::new("replay_detect", name), |b| {
            b.iter(|| {
                let (alerts, traces) = counts::detect(points, &spec, *bucket);
                black_box((alerts.len(), traces.len()))
            })
        });
        g.bench_function(BenchmarkId::new("step", name), |b| {
            b.iter(|| {
                let mut d = CountsDetector::new(&spec, *bucket);
                let mut alerts = 0;
                for p in points.iter() {
                    alerts += d.step(p.at, p.value).0.is_some() as usize;
                }
                black_box(alerts)
            })
        });
        g.bench_function(BenchmarkId::new("spike", name), |b| b.iter(|| black_box(spike_only(points, &spec, *bucket))));
        g.finish();
    }
}

// ---------------------------------------------------------------------------------------
// Mentions: matching, scoring, detection.
// ---------------------------------------------------------------------------------------

/// The watches of the replay: one brand per language, as a config would list them.
const BRANDS: [(&str, Lang, &[&str], &[&str]); 4] = [
    ("velocity", Lang::En, &["velocity air", "#velocityair", "@velocityair"], &["velocity air hockey"]),
    ("kroon", Lang::Nl, &["kroon bank", "#kroonbank", "@kroonbank"], &["kroon bank holiday"]),
    ("norrsken", Lang::Sv, &["norrsken energi", "#norrskenenergi", "@norrsken"], &[]),
    ("wisla", Lang::Pl, &["wisła telekom", "#wislatelekom", "@wislatelekom"], &[]),
];

/// How a text names a brand: in prose, as a hashtag, as a handle.
fn brand_forms(brand: usize) -> [String; 3] {
    match brand {
        0 => ["Velocity Air".into(), "#VelocityAir".into(), "@velocityair".into()],
        1 => ["Kroon Bank".into(), "#KroonBank".into(), "@kroonbank".into()],
        2 => ["Norrsken Energi".into(), "#NorrskenEnergi".into(), "@norrsken".into()],
        _ => ["Wisła Telekom".into(), "#WislaTelekom".into(), "@wislatelekom".into()],
    }
}

fn watch_specs() -> Vec<WatchSpec> {
    BRANDS
        .iter()
        .map(|(name, _, terms, exclude)| WatchSpec {
            exclude: exclude.iter().map(|t| t.to_string()).collect(),
            ..WatchSpec::new(name, terms)
        })
        .collect()
}

/// The texts of `dev.tsv` of each language, with their language.
fn load_posts() -> Vec<(Lang, String)> {
    let mut out = Vec::new();
    for lang in Lang::ALL {
        let path = Path::new(SENTIMENT).join(lang.code()).join("dev.tsv");
        let Ok(raw) = std::fs::read_to_string(&path) else { continue };
        out.extend(raw.lines().skip(1).filter_map(|l| l.splitn(4, '\t').nth(3)).map(|t| (lang, t.to_string())));
    }
    out
}

/// A follower count: most accounts are small, about 2% have 100,000 or more.
fn reach(rng: &mut Lcg) -> u64 {
    10f64.powf(6.0 * rng.next_f64().powi(8)).round() as u64 * 3
}

/// The posts as mentions: `passes` times each (distinct ids, shuffled), each naming its
/// language's brand (one in ten another brand, one in twenty two brands), published evenly
/// over `span` in order with a few seconds of jitter.
/// Each with the language of its post, declared or not.
fn build_mentions(posts: &[(Lang, String)], passes: usize, span: Duration) -> Vec<(Lang, Mention)> {
    let mut mentions = unsorted_mentions(posts, passes, span);
    // Replay runs in published order.
    mentions.sort_by_key(|(_, m)| m.published);
    mentions
}

fn unsorted_mentions(posts: &[(Lang, String)], passes: usize, span: Duration) -> Vec<(Lang, Mention)> {
    let sources = ["mastodon", "bluesky", "reddit", "rss"];
    let mut rng = Lcg(42);
    let mut order: Vec<usize> = (0..posts.len() * passes).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let n = order.len();
    order
        .into_iter()
        .enumerate()
        .map(|(i, k)| {
            let (lang, text) = &posts[k % posts.len()];
            let mut brand = lang.index();
            if rng.next_f64() < 0.1 {
                brand = rng.below(BRANDS.len());
            }
            let forms = brand_forms(brand);
            let form = &forms[rng.below(3)];
            let mut text = match rng.below(3) {
                0 => format!("{form}: {text}"),
                1 => format!("{text} {form}"),
                _ => format!("{text} cc {form}"),
            };
            if rng.next_f64() < 0.05 {
                let other = brand_forms((brand + 1) % BRANDS.len());
                write!(text, " (and {})", other[0]).ok();
            }
            // Three in four sources declare the language; reddit and RSS items do not.
            let source = sources[rng.below(4)];
            let declared = matches!(source, "mastodon" | "bluesky") || rng.next_f64() < 0.5;
            let offset = span.as_secs_f64() * i as f64 / n as f64 + 10.0 * rng.next_f64();
            let published = t0() + chrono::Duration::milliseconds((offset * 1000.0) as i64);
            let author = format!("user{}", rng.below(5000));
            let mention = Mention {
                source: source.to_string(),
                id: format!("{}{:08}", 110_000_000_000u64, i),
                url: Some(format!("https://{source}.example/@{author}/{i}")),
                author: Some(author),
                reach: Some(reach(&mut rng)),
                lang: declared.then(|| lang.code().to_string()),
                published,
                text,
            };
            (*lang, mention)
        })
        .collect()
}

/// What replaying a stream produced: for sanity, printed once before timing.
#[derive(Debug, Default, Clone, Copy)]
struct ReplaySummary {
    mentions: usize,
    matched: usize,
    observed: usize,
    signals: usize,
    late: u64,
}

fn detectors(specs: &[WatchSpec]) -> Vec<WatchDetector> {
    specs.iter().map(|w| WatchDetector::new(&w.name, WatchParams::new(Preset::Balanced.spec()))).collect()
}

/// How the replay loop scores a mention.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scoring {
    /// `Scorer::score`: a fresh `Analysis` (scratch space and memos) per mention, as a
    /// caller that does not keep one gets.
    Owned,
    /// `Scorer::analyze` into one `Analysis` kept for the whole replay, then `to_sentiment`.
    Reused,
}

/// The replay loop: each mention is matched, scored once and observed by every watch it
/// belongs to; every watch ticks when the minute advances.
fn replay(
    matcher: &Matcher,
    scorer: &Scorer,
    scoring: Scoring,
    specs: &[WatchSpec],
    mentions: &[Mention],
) -> ReplaySummary {
    let mut ds = detectors(specs);
    let mut analysis = Analysis::default();
    let mut sum = ReplaySummary { mentions: mentions.len(), ..ReplaySummary::default() };
    let mut minute = i64::MIN;
    for m in mentions {
        let now = m.published;
        if now.timestamp().div_euclid(60) > minute {
            minute = now.timestamp().div_euclid(60);
            ds.iter_mut().for_each(|d| sum.signals += d.tick(now).len());
        }
        let watches = matcher.watch_indices(&m.source, &m.text);
        if watches.is_empty() {
            continue;
        }
        sum.matched += 1;
        let s = match scoring {
            Scoring::Owned => scorer.score(&m.text, m.scored_lang()),
            Scoring::Reused => {
                scorer.analyze(&m.text, m.scored_lang(), &mut analysis);
                analysis.to_sentiment()
            }
        };
        for w in watches {
            sum.observed += 1;
            sum.signals += ds[w].observe(m, &s, now).is_some() as usize;
        }
    }
    sum.late = ds.iter().map(WatchDetector::late).sum();
    sum
}

/// Detection alone on pre-matched, pre-scored mentions.
fn detect_only(specs: &[WatchSpec], scored: &[(Mention, Sentiment, Vec<usize>)]) -> usize {
    let mut ds = detectors(specs);
    let mut signals = 0;
    let mut minute = i64::MIN;
    for (m, s, watches) in scored {
        let now = m.published;
        if now.timestamp().div_euclid(60) > minute {
            minute = now.timestamp().div_euclid(60);
            ds.iter_mut().for_each(|d| signals += d.tick(now).len());
        }
        for &w in watches {
            signals += ds[w].observe(m, s, now).is_some() as usize;
        }
    }
    signals
}

fn bench_mentions(c: &mut Criterion) {
    let posts = load_posts();
    if posts.is_empty() {
        eprintln!("benches/detection: no posts at {SENTIMENT}; mentions/* not measured");
        return;
    }
    let scorer = Scorer::builtin().expect("built-in lexicons load");
    let specs = watch_specs();
    let matcher = Matcher::new(specs.iter().map(WatchSpec::terms));
    // Three passes over the posts, over two days: ≈ 20 mentions a minute.
    let (langs, mentions): (Vec<Lang>, Vec<Mention>) =
        build_mentions(&posts, 3, Duration::from_secs(2 * 86_400)).into_iter().unzip();
    let summary = replay(&matcher, &scorer, Scoring::Owned, &specs, &mentions);
    let negative = mentions.iter().filter(|m| scorer.score(&m.text, m.scored_lang()).label == Label::Neg).count();
    eprintln!(
        "mentions: {} mentions over 2 days into {} watches: {} matched, {} observations, {} signals, {} late, \
         {:.0}% negative",
        summary.mentions,
        specs.len(),
        summary.matched,
        summary.observed,
        summary.signals,
        summary.late,
        100.0 * negative as f64 / mentions.len() as f64
    );
    assert_eq!(summary.matched, mentions.len(), "every mention names a watched brand");

    let scored: Vec<(Mention, Sentiment, Vec<usize>)> = mentions
        .iter()
        .map(|m| (m.clone(), scorer.score(&m.text, m.scored_lang()), matcher.watch_indices(&m.source, &m.text)))
        .collect();

    // The same stream with every language declared: no language detection.
    let declared: Vec<Mention> = mentions
        .iter()
        .zip(&langs)
        .map(|(m, lang)| Mention { lang: Some(lang.code().to_string()), ..m.clone() })
        .collect();

    let mut g = c.benchmark_group("mentions");
    g.throughput(Throughput::Elements(mentions.len() as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
    let streams = [("mixed_lang", &mentions), ("declared_lang", &declared)];
    for (scoring, name) in [(Scoring::Reused, "match_score_detect_reused"), (Scoring::Owned, "match_score_detect")] {
        for (lang, stream) in streams {
            g.bench_function(BenchmarkId::new(name, lang), |b| {
                b.iter(|| black_box(replay(&matcher, &scorer, scoring, &specs, stream).signals))
            });
        }
    }
    // `replay --input`'s own function (per-watch summaries, signals collected). It takes
    // mentions by value, as the CLI builds them one at a time: the clone stands in for that.
    g.bench_function(BenchmarkId::new("replay_fn", "mixed_lang"), |b| {
        b.iter(|| {
            let outcome =
                mention_replay::replay(&specs, |p| Ok(p.clone()), &scorer, mentions.iter().cloned(), false, |_| {});
            black_box(outcome.map(|o| o.signals.len()).unwrap_or(0))
        })
    });
    g.bench_function("match_only", |b| {
        b.iter(|| mentions.iter().map(|m| matcher.watch_indices(&m.source, &m.text).len()).sum::<usize>())
    });
    for (lang, stream) in streams {
        g.bench_function(BenchmarkId::new("score_only", lang), |b| {
            b.iter(|| {
                stream
                    .iter()
                    .map(|m| (scorer.score(&m.text, m.scored_lang()).label == Label::Neg) as usize)
                    .sum::<usize>()
            })
        });
        g.bench_function(BenchmarkId::new("score_only_reused", lang), |b| {
            let mut a = Analysis::default();
            b.iter(|| {
                let mut neg = 0usize;
                for m in stream.iter() {
                    scorer.analyze(&m.text, m.scored_lang(), &mut a);
                    neg += (a.to_sentiment().label == Label::Neg) as usize;
                }
                neg
            })
        });
    }
    g.bench_function("detect_only", |b| b.iter(|| black_box(detect_only(&specs, &scored))));
    g.finish();
}

// ---------------------------------------------------------------------------------------
// Memory of 1,000 watches.
// ---------------------------------------------------------------------------------------

const WATCHES: usize = 1000;
const WEEK_MINUTES: i64 = 7 * 1440;

/// Whether the command line's filter (criterion's positional argument, if any) selects
/// `name`. Flags and the values of the flags that take one are not filters.
fn selected(name: &str) -> bool {
    const WITH_VALUE: [&str; 14] = [
        "--profile-time",
        "--measurement-time",
        "--warm-up-time",
        "--sample-size",
        "--save-baseline",
        "--baseline",
        "--load-baseline",
        "--output-format",
        "--color",
        "--plotting-backend",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
    ];
    let mut filters = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if WITH_VALUE.contains(&a.as_str()) {
            args.next();
        } else if !a.starts_with('-') {
            filters.push(a);
        }
    }
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// Feeds a week of mentions, minute by minute, to every detector: each watch gets 100 to
/// 500 mentions an hour (by its index) on a daily rhythm of ±50%, 15% of them negative, drawn
/// from the real posts as scored. Returns the mentions fed.
fn feed_week(ds: &mut [WatchDetector], negatives: &[(String, Sentiment)], others: &[(String, Sentiment)]) -> u64 {
    let mut rng = Lcg(3);
    let mut fed = 0u64;
    // One mention reused for every post: the detector copies what it keeps.
    let mut m = Mention {
        source: "mastodon".into(),
        id: String::new(),
        text: String::new(),
        author: Some(String::new()),
        reach: None,
        lang: Some("en".into()),
        published: t0(),
        url: Some(String::new()),
    };
    for minute in 0..WEEK_MINUTES {
        let start = t0() + chrono::Duration::minutes(minute);
        let hour = (minute % 1440) as f64 / 60.0;
        let rhythm = 1.0 - 0.5 * (std::f64::consts::PI * hour / 12.0).cos();
        for (w, d) in ds.iter_mut().enumerate() {
            black_box(d.tick(start));
            let per_minute = (100.0 + 400.0 * (w % 5) as f64 / 4.0) / 60.0 * rhythm;
            let n = (per_minute * (0.5 + rng.next_f64())).round() as u32;
            for i in 0..n {
                let (text, s) = if rng.next_f64() < 0.15 {
                    &negatives[rng.below(negatives.len())]
                } else {
                    &others[rng.below(others.len())]
                };
                fed += 1;
                m.published = start + chrono::Duration::seconds(i as i64 * 60 / n as i64);
                m.text.clone_from(text);
                m.id.clear();
                write!(m.id, "{}", 110_000_000_000_000u64 + fed).ok();
                let author = rng.below(20_000);
                if let Some(a) = m.author.as_mut() {
                    a.clear();
                    write!(a, "user{author}@mastodon.example").ok();
                }
                if let Some(u) = m.url.as_mut() {
                    u.clear();
                    write!(u, "https://mastodon.example/@user{author}/{}", m.id).ok();
                }
                m.reach = Some(reach(&mut rng));
                black_box(d.observe(&m, s, m.published));
            }
        }
    }
    fed
}

fn measure_memory() {
    if !selected("detection/memory") {
        return;
    }
    let scorer = Scorer::builtin().expect("built-in lexicons load");
    let mut posts = load_posts();
    if posts.is_empty() {
        posts = vec![
            (Lang::En, "the app is down again, terrible service, nobody answers".into()),
            (Lang::En, "nice update, works well".into()),
        ];
    }
    let (mut negatives, mut others) = (Vec::new(), Vec::new());
    for (lang, text) in posts {
        let s = scorer.score(&text, Some(lang));
        if s.label == Label::Neg {
            negatives.push((text, s));
        } else {
            others.push((text, s));
        }
    }
    if negatives.is_empty() || others.is_empty() {
        eprintln!("detection/memory: the posts do not score both negative and not; nothing measured");
        return;
    }

    let started = Instant::now();
    let rss_before = resident_bytes();
    COUNTING.store(true, Ordering::Relaxed);
    let names: Vec<String> = (0..WATCHES).map(|i| format!("watch-{i:04}")).collect();
    let base = held();
    let mut ds: Vec<WatchDetector> =
        names.iter().map(|n| WatchDetector::new(n, WatchParams::new(Preset::Balanced.spec()))).collect();
    let fresh = held();
    let fed = feed_week(&mut ds, &negatives, &others);
    let after = held();
    COUNTING.store(false, Ordering::Relaxed);
    let rss_growth = resident_bytes().saturating_sub(rss_before);

    let saved: Vec<Vec<u8>> = ds.iter().map(WatchDetector::save).collect::<Result<_, _>>().expect("state saves");
    let saved_total: usize = saved.iter().map(Vec::len).sum();
    let saved_max = saved.iter().map(Vec::len).max().unwrap_or(0);
    // Steady state, read from the saved form (the state's fields are private).
    let (mut recent_full, mut record_len, mut record_max, mut warmed) = (0, 0, 0, 0);
    for (d, bytes) in ds.iter().zip(&saved) {
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
        let recent = v.pointer("/recent").and_then(|r| r.as_array()).map_or(0, Vec::len);
        let record = v.pointer("/volume/record").and_then(|r| r.as_array()).map_or(0, Vec::len);
        recent_full += (recent == 32) as usize;
        record_len += record;
        record_max = record_max.max(record);
        warmed += d.warmed_up() as usize;
    }

    let mib = |b: isize| b as f64 / (1024.0 * 1024.0);
    let total = after.0 - base.0;
    let blocks = after.1 - base.1;
    println!(
        "detection/memory: {WATCHES} watches hold {:.1} MiB ({:.1} kB per watch) after a week of 1-minute \
         buckets ({:.1} M mentions fed, {:.0} s to feed); target ≤ 128 MiB with topics (issue 20)",
        mib(total),
        total as f64 / WATCHES as f64 / 1000.0,
        fed as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    println!(
        "detection/memory: fresh (no mentions yet) {:.1} kB per watch; {} heap blocks held ({:.0} per watch: \
         allocator overhead of ~16 bytes a block is not in the figure above)",
        (fresh.0 - base.0) as f64 / WATCHES as f64 / 1000.0,
        blocks,
        blocks as f64 / WATCHES as f64
    );
    println!(
        "detection/memory: steady state: evidence buffer full (32 negative mentions) in {recent_full}/{WATCHES}, \
         record queue {:.0} entries on average (max {record_max}), warmed up {warmed}/{WATCHES}",
        record_len as f64 / WATCHES as f64
    );
    println!(
        "detection/memory: cross-check: resident memory grew by {:.1} MiB while the detectors were built and fed",
        mib(rss_growth as isize)
    );
    println!(
        "detection/memory: save() is {:.1} kB per watch on average (max {:.1} kB), {:.1} MiB for all",
        saved_total as f64 / WATCHES as f64 / 1000.0,
        saved_max as f64 / 1000.0,
        mib(saved_total as isize)
    );
    drop(ds);
}

fn bench_memory(_c: &mut Criterion) {
    measure_memory();
}

// Memory first: its resident-memory cross-check is only meaningful before the other
// benches have grown and freed the heap.
criterion_group!(benches, bench_memory, bench_counts, bench_mentions);
criterion_main!(benches);
