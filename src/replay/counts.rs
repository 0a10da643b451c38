//! `stormwatch replay --counts series.csv`: a count-only series (`timestamp,value` with a
//! header, as in NAB) through the volume detector.
//!
//! Reading is strict about what it cannot use and says so: every skipped line is reported
//! with its number and why (not a number, negative, no timestamp, a duplicate timestamp), an
//! out-of-order series is sorted and the number of out-of-order lines reported, and gaps are
//! counted. Nothing is dropped silently.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::detect::counts::{CountsDetector, Trace};
use crate::detect::presets::PresetSpec;
use crate::sources::parse_time;

/// One usable row.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub line: usize,
    /// The timestamp as written in the input (alerts echo it back).
    pub raw_time: String,
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// What reading found besides the points.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadReport {
    /// `line N: why`, for every line left out.
    pub skipped: Vec<String>,
    /// Lines that came before an earlier time (the series was sorted).
    pub out_of_order: usize,
    /// Holes longer than 1.5 buckets, and the longest.
    pub gaps: usize,
    pub longest_gap: Option<Duration>,
    /// The bucket width used (given, or the median spacing).
    pub bucket: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum CountsError {
    #[error("{0}: no data rows (expected a header line `timestamp,value` and rows below it)")]
    Empty(String),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: every row was unusable; first problems:\n{first}")]
    NothingUsable { path: String, first: String },
}

/// Reads a `timestamp,value` CSV.
pub fn read(path: &str, text: &str, bucket: Option<Duration>) -> Result<(Vec<Point>, ReadReport), CountsError> {
    let mut report = ReadReport::default();
    let mut points = Vec::new();
    let mut lines = text.lines().enumerate();
    // The header: any first line that is not itself a data row is skipped.
    if let Some((_, first)) = lines.next() {
        if let Some(Ok(p)) = parse_row(first, 1) {
            points.push(p);
        }
    }
    for (i, line) in lines {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        match parse_row(line, n) {
            Some(Ok(p)) => points.push(p),
            Some(Err(why)) => report.skipped.push(format!("line {n}: {why}")),
            None => report.skipped.push(format!("line {n}: expected timestamp,value")),
        }
    }
    if points.is_empty() {
        return if report.skipped.is_empty() {
            Err(CountsError::Empty(path.to_string()))
        } else {
            Err(CountsError::NothingUsable {
                path: path.to_string(),
                first: report.skipped.iter().take(5).cloned().collect::<Vec<_>>().join("\n"),
            })
        };
    }
    // Sort (stable, so equal times keep file order) and report what was out of order.
    let mut latest: Option<DateTime<Utc>> = None;
    for p in &points {
        if latest.is_some_and(|l| p.at < l) {
            report.out_of_order += 1;
        }
        latest = latest.max(Some(p.at));
    }
    points.sort_by_key(|p| p.at);
    // Duplicate timestamps: the first row counts, later ones are reported.
    let mut kept: Vec<Point> = Vec::with_capacity(points.len());
    for p in points {
        match kept.last() {
            Some(last) if last.at == p.at => {
                report
                    .skipped
                    .push(format!("line {}: duplicate timestamp {} (line {} kept)", p.line, p.raw_time, last.line));
            }
            _ => kept.push(p),
        }
    }
    report
        .skipped
        .sort_by_key(|s| s.trim_start_matches("line ").split(':').next().and_then(|n| n.parse::<usize>().ok()));
    report.bucket = bucket.unwrap_or_else(|| median_spacing(&kept));
    let b = report.bucket.as_secs_f64().max(1.0);
    for w in kept.windows(2) {
        let gap = (w[1].at - w[0].at).to_std().unwrap_or_default();
        if gap.as_secs_f64() > 1.5 * b {
            report.gaps += 1;
            report.longest_gap = report.longest_gap.max(Some(gap));
        }
    }
    Ok((kept, report))
}

/// Why a row is not a data point.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum RowError {
    #[error("{0:?} is not a timestamp (use 2015-02-26 21:42:53, RFC 3339 or epoch seconds)")]
    Time(String),
    #[error("{0:?} is not a number")]
    Number(String),
    #[error("{0} is not a count (negative or not finite)")]
    Count(String),
}

fn parse_row(line: &str, n: usize) -> Option<Result<Point, RowError>> {
    let (t, v) = line.split_once(',')?;
    let (t, v) = (t.trim().trim_matches('"'), v.trim().trim_matches('"'));
    let at = match parse_time(t) {
        Some(at) => at,
        None => return if n == 1 { None } else { Some(Err(RowError::Time(t.to_string()))) },
    };
    let value: f64 = match v.parse() {
        Ok(x) => x,
        Err(_) => return Some(Err(RowError::Number(v.to_string()))),
    };
    if !value.is_finite() || value < 0.0 {
        return Some(Err(RowError::Count(v.to_string())));
    }
    Some(Ok(Point { line: n, raw_time: t.to_string(), at, value }))
}

fn median_spacing(points: &[Point]) -> Duration {
    let mut gaps: Vec<i64> = points.windows(2).map(|w| (w[1].at - w[0].at).num_seconds()).filter(|g| *g > 0).collect();
    if gaps.is_empty() {
        return Duration::from_secs(60);
    }
    gaps.sort_unstable();
    Duration::from_secs(gaps[gaps.len() / 2] as u64)
}

/// An alert of the count replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub point: usize,
    pub critical: bool,
}

/// Runs the detector over the points; returns the alerts and, per point, what it saw.
pub fn detect(points: &[Point], spec: &PresetSpec, bucket: Duration) -> (Vec<Alert>, Vec<Trace>) {
    let mut d = CountsDetector::new(spec, bucket);
    let mut alerts = Vec::new();
    let mut traces = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        let (alert, trace) = d.step(p.at, p.value);
        if let Some(a) = alert {
            alerts.push(Alert { point: i, critical: a.critical });
        }
        traces.push(trace);
    }
    (alerts, traces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rows_are_reported_with_their_line_and_the_rest_is_kept() {
        let csv = "timestamp,value\n\
                   2015-02-26 21:42:53,104\n\
                   2015-02-26 21:47:53,abc\n\
                   2015-02-26 21:52:53,-3\n\
                   yesterday,5\n\
                   2015-02-26 21:57:53,98\n\
                   2015-02-26 21:57:53,99\n\
                   2015-02-26T22:02:53Z,97\n\
                   2015-02-26 21:37:53,101\n\
                   1424991473,96\n\
                   2015-02-26 23:02:53,95\n";
        let (points, r) = read("s.csv", csv, None).unwrap();
        let values: Vec<f64> = points.iter().map(|p| p.value).collect();
        assert_eq!(values, [101.0, 104.0, 98.0, 97.0, 96.0, 95.0]);
        assert_eq!(r.skipped.len(), 4, "{:?}", r.skipped);
        assert!(r.skipped[0].starts_with("line 3: \"abc\" is not a number"));
        assert!(r.skipped[1].starts_with("line 4: -3 is not a count"));
        assert!(r.skipped[2].starts_with("line 5: \"yesterday\" is not a timestamp"));
        assert!(r.skipped[3].contains("line 7: duplicate timestamp") && r.skipped[3].contains("line 6 kept"));
        assert_eq!(r.out_of_order, 1);
        assert_eq!(r.bucket, Duration::from_secs(300));
        assert_eq!(r.gaps, 2, "the skipped 21:47 and 21:52 rows leave a hole, and 22:02 to 22:57 is one");
        assert_eq!(points[3].raw_time, "2015-02-26T22:02:53Z", "alerts echo the input's own format");
    }

    #[test]
    fn empty_and_unusable_files_are_clear_errors() {
        assert!(read("e.csv", "", None).unwrap_err().to_string().contains("no data rows"));
        assert!(read("e.csv", "timestamp,value\n", None).unwrap_err().to_string().contains("no data rows"));
        let err = read("e.csv", "timestamp,value\nx,y\n", None).unwrap_err().to_string();
        assert!(err.contains("every row was unusable") && err.contains("line 2"), "{err}");
    }
}
