//! Alert delivery through the real outbox (a SQLite file) to a webhook receiver on loopback.
//!
//! - `deliver/1000_alerts`: 1,000 signals of 1,000 watches through the alert step into the
//!   outbox, and sent until the receiver has all 1,000 (target ≤ 2 s).
//! - Latency from signal to webhook received, one signal at a time with the worker running
//!   (target p99 ≤ 200 ms): printed as p50/p99/max before the criterion groups.
//!
//! Run: `cargo bench -p stormwatch-benches --bench delivery`.

// The integration tests' webhook receiver and the loopback server it runs on (the receiver
// finds the server as `super::http`, here the crate root).
#[path = "../tests/it/support/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "../tests/it/support/webhook_sink.rs"]
#[allow(dead_code)]
mod webhook_sink;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use stormwatch::config::Config;
use stormwatch::model::{Evidence, Measure, Phase, Severity, Signal, SignalKind};
use stormwatch::notify::{Channels, Until};
use stormwatch::pipeline::Dispatcher;
use stormwatch::secret::Environment;
use stormwatch::store::Store;
use webhook_sink::WebhookSink;

fn config(dir: &std::path::Path, url: &str) -> Config {
    std::fs::write(dir.join("hook.secret"), "bench-secret").expect("secret");
    let text = format!(
        "[storage]\npath = \"state.db\"\n[[receivers]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{url}\"\n\
         secret_file = \"hook.secret\"\nmax_per_hour = 10000\n"
    );
    Config::from_toml_with_env(&text, dir).expect("config")
}

fn signal(i: usize) -> Signal {
    Signal {
        watch: format!("watch-{i}"),
        kind: SignalKind::Negativity,
        measure: Measure::NegativeShare,
        severity: Severity::Critical,
        phase: Phase::Started,
        at: Utc::now(),
        window_secs: 900,
        value: 0.6,
        baseline: 0.1,
        threshold: 0.3,
        z: 6.0,
        evidence: Evidence { mentions: 300, negative: 180, positive: 10, ..Evidence::default() },
    }
}

/// A state file, its dispatcher and channels, and a webhook receiver on loopback.
struct Rig {
    sink: WebhookSink,
    _dir: tempfile::TempDir,
    d: Dispatcher,
    channels: Arc<Channels>,
    rt: tokio::runtime::Runtime,
}

fn rig() -> Rig {
    let sink = WebhookSink::start(vec![]);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), &sink.url("/hook"));
    let store = Store::open(&config.storage.path).expect("store");
    let d = Dispatcher::open(&config, store, &Environment::process()).expect("dispatcher");
    let channels = Channels::build(config.channels(), config.smtp.as_ref(), &Environment::process()).expect("channels");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    Rig { sink, _dir: dir, d, channels, rt }
}

/// Enqueues `n` alerts and runs the worker until the receiver has them all.
fn deliver(n: usize) -> Duration {
    let Rig { sink, _dir, mut d, channels, rt } = rig();
    let signals: Vec<Signal> = (0..n).map(signal).collect();
    let start = Instant::now();
    for s in &signals {
        d.signal(s).expect("signal");
    }
    let worker = d.worker(channels, None);
    rt.block_on(worker.run(Until::Idle { deadline: Instant::now() + Duration::from_secs(60) })).expect("worker");
    let took = start.elapsed();
    assert_eq!(sink.requests().len(), n, "every alert received");
    took
}

/// Signal-to-receipt latency with the worker running in the background.
fn latency(n: usize) -> Vec<Duration> {
    let Rig { sink, _dir, mut d, channels, rt } = rig();
    let worker = Arc::new(d.worker(channels, None));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running = {
        let worker = worker.clone();
        rt.spawn(async move { worker.run(Until::Stopped { stop: stop_rx, grace: Duration::from_secs(1) }).await })
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let sent = Instant::now();
        d.signal(&signal(i)).expect("signal");
        let got = sink.wait_for(i + 1, Duration::from_secs(10));
        let received = got.get(i).map(|r| r.at).expect("received");
        out.push(received.duration_since(sent));
        // Alerts come one at a time, as in a storm's first minutes.
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = stop_tx.send(true);
    let _ = rt.block_on(running);
    out
}

fn benches(c: &mut Criterion) {
    let mut l = latency(500);
    l.sort();
    let pick = |q: f64| l[((l.len() - 1) as f64 * q) as usize];
    println!(
        "signal -> webhook received, 500 alerts one by one: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3,
        l[l.len() - 1].as_secs_f64() * 1e3
    );
    let mut g = c.benchmark_group("deliver");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("1000_alerts", |b| b.iter_custom(|iters| (0..iters).map(|_| deliver(1000)).sum()));
    g.finish();
}

criterion_group!(delivery, benches);
criterion_main!(delivery);
