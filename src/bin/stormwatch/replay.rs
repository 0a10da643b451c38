//! `stormwatch replay`: the command-line face of backtesting.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};

use stormwatch::config::Config;
use stormwatch::detect::counts::Trace;
use stormwatch::detect::{Judged, Preset, WatchParams};
use stormwatch::model::{Phase, Severity, Signal, SignalKind};
use stormwatch::plot;
use stormwatch::replay::{self, counts, mentions};
use stormwatch::sentiment::Scorer;

use crate::args::ReplayArgs;

pub fn run(args: ReplayArgs) -> Result<ExitCode> {
    let preset: Preset = args.preset.parse().map_err(anyhow::Error::msg)?;
    let params = replay::apply_params(WatchParams::new(preset.spec()), &args.params).map_err(anyhow::Error::msg)?;
    let spec = params.spec;
    let bucket = args
        .bucket
        .as_deref()
        .map(|b| humantime::parse_duration(b).with_context(|| format!("--bucket {b:?}: not a duration (e.g. 1m, 5m)")))
        .transpose()?;
    if let Some(path) = &args.counts {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
        let (points, report) = counts::read(&name, &text, bucket)?;
        let (alerts, traces) = counts::detect(&points, &spec, report.bucket);
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for a in &alerts {
            #[derive(serde::Serialize)]
            struct Line<'a> {
                at: &'a str,
                signal: &'a str,
                severity: &'a str,
            }
            let severity = if a.critical { "critical" } else { "warning" };
            serde_json::to_writer(&mut out, &Line { at: &points[a.point].raw_time, signal: "volume", severity })?;
            writeln!(out)?;
        }
        out.flush()?;
        for s in report.skipped.iter().take(20) {
            eprintln!("stormwatch: skipped {s}");
        }
        if report.skipped.len() > 20 {
            eprintln!("stormwatch: … and {} more skipped lines", report.skipped.len() - 20);
        }
        eprintln!(
            "stormwatch: {name}: {} points, {} bucket, {} alerts; skipped {} lines, {} out of order (sorted), {} gaps{}",
            points.len(),
            humantime::format_duration(report.bucket),
            alerts.len(),
            report.skipped.len(),
            report.out_of_order,
            report.gaps,
            report.longest_gap.map(|g| format!(" (longest {})", humantime::format_duration(g))).unwrap_or_default()
        );
        if let Some(chart_path) = &args.chart {
            let markers: Vec<plot::Marker> =
                alerts.iter().map(|a| plot::Marker { index: a.point, critical: a.critical, label: None }).collect();
            let first = points.first().map(|p| p.raw_time.as_str()).unwrap_or("");
            let last = points.last().map(|p| p.raw_time.as_str()).unwrap_or("");
            let svg = plot::svg(&format!("{name}: volume, preset {}", args.preset), &traces, &markers, (first, last));
            let body = if chart_path.extension().is_some_and(|e| e == "html") { plot::html(&name, &svg) } else { svg };
            std::fs::write(chart_path, body).with_context(|| format!("cannot write {}", chart_path.display()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    match (&args.input, &args.config) {
        (Some(input), Some(config)) => mentions(&args, input, config),
        _ => bail!("give --counts series.csv, or -c config.toml --input mentions.jsonl"),
    }
}

fn mentions(args: &ReplayArgs, input: &Path, config: &Path) -> Result<ExitCode> {
    let config = Config::load(config).map_err(|e| anyhow!("{e}"))?;
    if config.watches.is_empty() {
        bail!("the configuration has no [[watches]]: nothing to replay against");
    }
    let name = input.display().to_string();
    let bytes = std::fs::read(input).with_context(|| format!("cannot read {name}"))?;
    let (input, report) = mentions::read(&name, &bytes)?;
    let scorer = Scorer::builtin().context("loading the built-in lexicons")?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut write_error = None;
    let mut delivered = Vec::new();
    let outcome = mentions::replay(
        &config.watches,
        |p| replay::apply_params(p.clone(), &args.params),
        &scorer,
        input.mentions(),
        args.chart.is_some(),
        |s| {
            if args.deliver {
                delivered.push(s.clone());
            }
            if write_error.is_none() {
                write_error = serde_json::to_writer(&mut out, s).err().map(anyhow::Error::from);
                if let Err(e) = writeln!(out) {
                    write_error = Some(e.into());
                }
            }
        },
    )
    .map_err(anyhow::Error::msg)?;
    if let Some(e) = write_error {
        return Err(e.context("writing signals"));
    }
    out.flush()?;
    report_lines("skipped", &report.skipped);
    report_lines("warning", &report.warnings);
    eprintln!(
        "stormwatch: {name}: {} lines, {} mentions replayed, {} skipped, {} with a field left out, {} out of order \
         (sorted), {} matched no watch",
        report.lines,
        input.len(),
        report.skipped.len(),
        report.warnings.len(),
        report.out_of_order,
        outcome.unmatched
    );
    for w in &outcome.watches {
        let started = if w.started.is_empty() {
            "no signals".to_string()
        } else {
            w.started.iter().map(|(k, n)| format!("{n} {}", k.as_str())).collect::<Vec<_>>().join(", ")
        };
        eprintln!(
            "stormwatch: watch {:?}: {} mentions ({} negative, {} positive), {} in other languages, {} too late \
             to count; {started}",
            w.name, w.mentions, w.negative, w.positive, w.other_language, w.late
        );
    }
    let mut in_order = outcome.signals.clone();
    in_order.sort_by_key(|s| s.at);
    let incidents = stormwatch::alert::incidents(&in_order, &config.alerts);
    for w in &outcome.watches {
        let mine: Vec<_> = incidents.iter().filter(|i| i.watch == w.name && i.fired_at.is_some()).collect();
        eprintln!("stormwatch: watch {:?}: {} incident(s) sent", w.name, mine.len());
        for i in mine {
            let end = i.resolved_at.map(|t| t.format("%H:%M").to_string()).unwrap_or_else(|| "open".into());
            let kinds: Vec<&str> = i.kinds.iter().map(|k| k.as_str()).collect();
            eprintln!(
                "stormwatch:   {}–{end} {} ({})",
                i.started_at.format("%Y-%m-%d %H:%M"),
                i.severity.as_str(),
                kinds.join(", ")
            );
        }
    }
    for s in outcome.signals.iter().filter(|s| s.kind == SignalKind::Topic && s.phase == Phase::Started) {
        let t = s.evidence.topics.first();
        eprintln!(
            "stormwatch: {} {}: {} ({} mentions/{} min, baseline {:.1}, {} negative), {:?}",
            s.at.format("%Y-%m-%d %H:%M"),
            s.watch,
            topic_words(s),
            t.map_or(0, |t| t.mentions),
            s.window_secs / 60,
            s.baseline,
            t.map_or(0, |t| t.negative),
            s.severity
        );
    }
    if let Some(chart_path) = &args.chart {
        let svg =
            plot::stack(&outcome.watches.iter().flat_map(|w| watch_panels(w, &outcome.signals)).collect::<Vec<_>>());
        let body = if chart_path.extension().is_some_and(|e| e == "html") { plot::html(&name, &svg) } else { svg };
        std::fs::write(chart_path, body).with_context(|| format!("cannot write {}", chart_path.display()))?;
    }
    if args.deliver {
        return crate::alerts::deliver_signals(&config, &delivered, args.deliver_timeout.into());
    }
    Ok(ExitCode::SUCCESS)
}

fn report_lines(what: &str, lines: &[String]) {
    for s in lines.iter().take(20) {
        eprintln!("stormwatch: {what} {s}");
    }
    if lines.len() > 20 {
        eprintln!("stormwatch: … and {} more ({what})", lines.len() - 20);
    }
}

/// A topic signal's words, as a chart label and a summary line: `topic "storing, inloggen"`.
fn topic_words(s: &Signal) -> String {
    let words = s.evidence.topics.first().map(|t| t.terms.join(", ")).unwrap_or_default();
    format!("topic \"{words}\"")
}

/// A watch's volume and negative-share panels, with its signals marked.
fn watch_panels(w: &mentions::WatchReplay, signals: &[Signal]) -> Vec<String> {
    if w.trace.is_empty() {
        return Vec::new();
    }
    let bucket = chrono::Duration::seconds(w.bucket_secs as i64);
    let markers = |kinds: &[SignalKind]| -> Vec<plot::Marker> {
        signals
            .iter()
            .filter(|s| s.watch == w.name && s.phase == Phase::Started && kinds.contains(&s.kind))
            .map(|s| plot::Marker {
                index: w.trace.partition_point(|t| t.at + bucket < s.at).min(w.trace.len() - 1),
                critical: s.severity == Severity::Critical,
                // A topic is marked with its words: the chart says what the conversation turned to.
                label: (s.kind == SignalKind::Topic).then(|| topic_words(s)),
            })
            .collect()
    };
    let fmt = |t: &Judged| t.at.format("%Y-%m-%d %H:%M").to_string();
    let (first, last) = (fmt(&w.trace[0]), fmt(&w.trace[w.trace.len() - 1]));
    let volume: Vec<Trace> = w
        .trace
        .iter()
        .map(|t| Trace { count: t.count, expected: t.expected, threshold: t.volume_threshold, z: 0.0 })
        .collect();
    let share: Vec<Trace> = w
        .trace
        .iter()
        .map(|t| Trace {
            count: 100.0 * t.share,
            expected: 100.0 * t.usual_share,
            threshold: 100.0 * t.share_threshold,
            z: 0.0,
        })
        .collect();
    vec![
        plot::panel(
            &format!("{}: mentions per bucket", w.name),
            &volume,
            &markers(&[SignalKind::Volume, SignalKind::Topic]),
            (&first, &last),
            plot::VOLUME,
        ),
        plot::panel(
            &format!("{}: negative share, %", w.name),
            &share,
            &markers(&[SignalKind::Negativity, SignalKind::SentimentDip, SignalKind::HighReach]),
            (&first, &last),
            ["negative share", "usual share", "share threshold"],
        ),
    ]
}
