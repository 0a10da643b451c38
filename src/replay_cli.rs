//! `stormwatch replay`: the command-line face of backtesting.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use stormwatch::detect::Preset;
use stormwatch::replay::{self, chart, counts};

use crate::ReplayArgs;

pub fn run(args: ReplayArgs) -> Result<ExitCode> {
    let preset: Preset = args.preset.parse().map_err(anyhow::Error::msg)?;
    let spec = replay::apply_params(preset.spec(), &args.params).map_err(anyhow::Error::msg)?;
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
            let markers: Vec<chart::Marker> =
                alerts.iter().map(|a| chart::Marker { index: a.point, critical: a.critical }).collect();
            let first = points.first().map(|p| p.raw_time.as_str()).unwrap_or("");
            let last = points.last().map(|p| p.raw_time.as_str()).unwrap_or("");
            let svg = chart::svg(&format!("{name}: volume, preset {}", args.preset), &traces, &markers, (first, last));
            let body = if chart_path.extension().is_some_and(|e| e == "html") { chart::html(&name, &svg) } else { svg };
            std::fs::write(chart_path, body).with_context(|| format!("cannot write {}", chart_path.display()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.input.is_some() {
        bail!("replay --input is not available yet in this build");
    }
    bail!("give --counts series.csv, or -c config.toml --input mentions.jsonl")
}
