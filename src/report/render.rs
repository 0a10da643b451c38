//! The report as a self-contained HTML page (inline SVG chart, inline style, nothing fetched:
//! it can be mailed or archived as one file) and as plain text for the terminal. Every piece of
//! text a stranger could have written (mention texts, authors, terms, URLs) is escaped.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::{EpisodeReport, Report};
use crate::detect::counts::Trace;
use crate::escape::{self, plain};
use crate::notify::render::{severity_word, span, thousands};
use crate::plot::{self, Marker};

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn pct(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

fn share(part: u64, all: u64) -> f64 {
    if all == 0 {
        0.0
    } else {
        part as f64 / all as f64
    }
}

/// "3,400 mentions, 71% negative (usually 12%)".
fn headline_numbers(r: &Report) -> String {
    let usual = r.usual.map(|u| format!(" (usually {})", pct(u.negative_share))).unwrap_or_default();
    format!(
        "{} mentions, {} negative{usual}, mean sentiment {:+.2}",
        thousands(r.mentions),
        pct(share(r.negative, r.mentions)),
        r.mean_compound
    )
}

fn peak_line(r: &Report) -> String {
    let step = span(r.step_secs as u64);
    match r.peak() {
        None => "no mentions in this range".into(),
        Some(p) => {
            let usual = r
                .usual
                .map(|u| format!(", usually {:.0}", u.mentions_per_step))
                .unwrap_or_else(|| ", no history before the range to compare with".into());
            format!(
                "peak {} mentions/{step} at {} ({} negative){usual}",
                p.mentions,
                when(p.at),
                pct(p.negative_share())
            )
        }
    }
}

fn episode_line(e: &EpisodeReport) -> String {
    let ep = &e.episode;
    let end = e.resolved_at.map(|t| format!("resolved {}", when(t))).unwrap_or_else(|| "still open".into());
    let ack = e
        .acknowledged
        .as_ref()
        .map(|a| format!(", acknowledged by {} at {}", plain(&a.by), when(a.at)))
        .unwrap_or_default();
    format!(
        "[{}] {}: {} — fired {}, {end}{ack}",
        severity_word(ep.severity),
        crate::notify::render::episode_kinds(ep),
        crate::notify::render::episode_headline(ep),
        ep.fired_at.map(when).unwrap_or_default()
    )
}

/// The report for a terminal: the numbers and the episodes, one line each.
pub fn text(r: &Report) -> String {
    let mut out = format!("Report on {}: {} to {}\n", plain(&r.watch), when(r.from), when(r.to));
    let _ = writeln!(out, "  {}", headline_numbers(r));
    let _ = writeln!(out, "  {}", peak_line(r));
    let list = |items: Vec<String>| if items.is_empty() { "-".to_string() } else { items.join(", ") };
    let _ = writeln!(
        out,
        "  top terms: {}",
        list(r.top_terms.iter().map(|(t, n)| format!("{} ({n})", plain(t))).collect())
    );
    let _ = writeln!(
        out,
        "  crisis categories: {}",
        list(r.categories.iter().map(|(c, n)| format!("{c} ({n})")).collect())
    );
    let _ = writeln!(out, "  languages: {}", list(r.languages.iter().map(|(l, n)| format!("{l} {n}")).collect()));
    let _ = writeln!(out, "  sources: {}", list(r.sources.iter().map(|(s, n)| format!("{} {n}", plain(s))).collect()));
    let _ = writeln!(out, "  episodes: {}", r.episodes.len());
    for e in &r.episodes {
        let _ = writeln!(out, "    {}", episode_line(e));
        for d in &e.deliveries {
            let _ = writeln!(
                out,
                "      {} to {}: {} after {} attempt(s)",
                d.event,
                plain(&d.receiver),
                d.status.as_str(),
                d.attempts.len()
            );
        }
    }
    out
}

/// Two panels: mentions against the usual level (negative mentions dashed), and the
/// negative share against the usual share (positive share dashed); a marker where each
/// episode fired.
fn chart(r: &Report) -> String {
    if r.mentions == 0 {
        return "<p>No mentions were counted in this range.</p>".into();
    }
    let usual = r.usual.map_or(0.0, |u| u.mentions_per_step);
    let usual_share = r.usual.map_or(0.0, |u| 100.0 * u.negative_share);
    let volume: Vec<Trace> = r
        .steps
        .iter()
        .map(|s| Trace { count: s.mentions as f64, expected: usual, threshold: s.negative as f64, z: 0.0 })
        .collect();
    let shares: Vec<Trace> = r
        .steps
        .iter()
        .map(|s| Trace {
            count: 100.0 * s.negative_share(),
            expected: usual_share,
            threshold: if s.mentions == 0 { 0.0 } else { 100.0 * s.positive as f64 / s.mentions as f64 },
            z: 0.0,
        })
        .collect();
    let markers: Vec<Marker> = r
        .episodes
        .iter()
        .filter_map(|e| {
            let fired = e.episode.fired_at?;
            let i = (fired - r.from).num_seconds().div_euclid(r.step_secs);
            let index = usize::try_from(i).ok().filter(|i| *i < r.steps.len())?;
            Some(Marker { index, critical: e.episode.severity == crate::model::Severity::Critical, label: None })
        })
        .collect();
    let labels = (when(r.from), when(r.to));
    let step = span(r.step_secs as u64);
    plot::stack(&[
        plot::panel(
            &format!("{}: mentions per {step}", r.watch),
            &volume,
            &markers,
            (&labels.0, &labels.1),
            ["mentions", "usual (7 days before)", "negative mentions"],
        ),
        plot::panel(
            &format!("{}: negative share per {step}, %", r.watch),
            &shares,
            &markers,
            (&labels.0, &labels.1),
            ["negative share", "usual share", "positive share"],
        ),
    ])
}

/// A titled table; `level` is the heading's (2 for a section, 4 inside an episode).
fn table(out: &mut String, level: u8, title: &str, head: &[&str], rows: Vec<Vec<String>>) {
    let _ = write!(out, "<h{level}>{}</h{level}>", escape::html(title));
    if rows.is_empty() {
        out.push_str("<p>None.</p>");
        return;
    }
    out.push_str("<table><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", escape::html(h));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            // Cells arrive escaped (some hold links).
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
}

/// A link only for http(s) URLs; anything else (javascript:, data:) is shown as text.
fn link(url: Option<&str>, text: &str) -> String {
    match url {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
            format!("<a href=\"{}\">{}</a>", html_escape::encode_double_quoted_attribute(&plain(u)), escape::html(text))
        }
        _ => escape::html(text),
    }
}

fn counted<T: std::fmt::Display>(items: &[(T, u32)], total: u64) -> Vec<Vec<String>> {
    items.iter().map(|(k, n)| vec![escape::html(&k.to_string()), n.to_string(), pct(share(*n as u64, total))]).collect()
}

/// The report as one HTML page.
pub fn html(r: &Report) -> String {
    let title = format!("stormwatch report: {}, {} to {}", r.watch, when(r.from), when(r.to));
    let mut out = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title><style>\
         body{{font-family:sans-serif;margin:1em 2em;max-width:1200px}}\
         table{{border-collapse:collapse;margin-bottom:1em}}td,th{{padding:2px 10px;text-align:left;\
         border-bottom:1px solid #ddd;vertical-align:top}}.critical{{color:#b71c1c}}.warning{{color:#e65100}}\
         svg{{width:100%;height:auto}}small{{color:#666}}</style></head><body>",
        escape::html(&title)
    );
    let _ = write!(
        out,
        "<h1>{}</h1><p><b>{}</b><br>{}</p>",
        escape::html(&title),
        escape::html(&headline_numbers(r)),
        escape::html(&peak_line(r))
    );
    out.push_str(&chart(r));

    out.push_str("<h2>Episodes</h2>");
    if r.episodes.is_empty() {
        out.push_str("<p>No alert fired in this range.</p>");
    }
    for e in &r.episodes {
        let class = if e.episode.severity == crate::model::Severity::Critical { "critical" } else { "warning" };
        let _ = write!(
            out,
            "<h3 class=\"{class}\">{}</h3><p><small>alert {} · started {}</small></p>",
            escape::html(&episode_line(e)),
            escape::html(&e.episode.alert_id),
            when(e.episode.started_at)
        );
        let rows = e
            .deliveries
            .iter()
            .map(|d| {
                let attempts: Vec<String> = d
                    .attempts
                    .iter()
                    .map(|a| {
                        let at = DateTime::from_timestamp_millis(a.at_ms).map(when).unwrap_or_default();
                        let detail = a.detail.as_deref().map(|x| format!(": {x}")).unwrap_or_default();
                        escape::html(&format!("{at} {} in {} ms{detail}", a.outcome, a.duration_ms))
                    })
                    .collect();
                vec![
                    escape::html(&d.event),
                    escape::html(&d.receiver),
                    escape::html(&when(d.created)),
                    escape::html(d.status.as_str()),
                    if attempts.is_empty() { "-".into() } else { attempts.join("<br>") },
                ]
            })
            .collect();
        table(&mut out, 4, "Deliveries", &["notice", "receiver", "written", "status", "attempts"], rows);
    }

    table(
        &mut out,
        2,
        "Top terms in negative mentions",
        &["term", "mentions", "of negative"],
        counted(&r.top_terms, r.negative),
    );
    table(&mut out, 2, "Crisis categories", &["category", "mentions", "of all"], counted(&r.categories, r.mentions));
    table(&mut out, 2, "Languages", &["language", "mentions", "of all"], counted(&r.languages, r.mentions));
    table(&mut out, 2, "Sources", &["source", "mentions", "of all"], counted(&r.sources, r.mentions));
    let rows = r
        .top_mentions
        .iter()
        .map(|m| {
            vec![
                escape::html(&when(m.published)),
                link(m.url.as_deref(), m.author.as_deref().unwrap_or("(unknown)")),
                m.reach.map(thousands).unwrap_or_else(|| "-".into()),
                format!("{:+.2}", m.compound),
                escape::html(&m.source),
                escape::html(&m.text),
            ]
        })
        .collect();
    table(
        &mut out,
        2,
        "Most-reached negative mentions",
        &["published", "author", "followers", "sentiment", "source", "text"],
        rows,
    );
    let _ = writeln!(out, "<p><small>Generated {} by stormwatch.</small></p></body></html>", when(Utc::now()));
    out
}
