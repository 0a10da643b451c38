//! The status page at `/`: per watch, the last hours of volume and negative share against the
//! baseline (inline SVG, no external assets, works offline), open alerts, recent alerts and
//! source health. Everything a stranger could have written is escaped.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::WatchView;
use crate::alert::Episode;
use crate::detect::counts::Trace;
use crate::escape;
use crate::plot;
use crate::store::{SourceHealth, Store};

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "never".into())
}

/// Two panels for a watch: mentions against expected, negative share against usual.
fn charts(v: &WatchView, volume_factor: f64) -> String {
    if v.timeline.is_empty() {
        return "<p>No mentions counted yet.</p>".into();
    }
    let fmt = |t: DateTime<Utc>| t.format("%H:%M").to_string();
    let labels = (fmt(v.timeline[0].at), fmt(v.timeline[v.timeline.len() - 1].at));
    let volume: Vec<Trace> = v
        .timeline
        .iter()
        .map(|p| Trace {
            count: p.mentions as f64,
            expected: p.expected,
            threshold: p.expected * volume_factor,
            z: 0.0,
        })
        .collect();
    let usual = 100.0 * v.usual_share.unwrap_or(0.0);
    let share: Vec<Trace> = v
        .timeline
        .iter()
        .map(|p| Trace {
            count: if p.mentions > 0 { 100.0 * p.negative as f64 / p.mentions as f64 } else { 0.0 },
            expected: usual,
            threshold: 100.0 * v.share_threshold,
            z: 0.0,
        })
        .collect();
    plot::stack(&[
        plot::panel(
            &format!("{}: mentions per 5 minutes", v.name),
            &volume,
            &[],
            (&labels.0, &labels.1),
            ["mentions", "expected", "factor × expected"],
        ),
        plot::panel(
            &format!("{}: negative share, %", v.name),
            &share,
            &[],
            (&labels.0, &labels.1),
            ["negative share", "usual share", "share threshold"],
        ),
    ])
}

/// The most-reached negative mentions of an open alert: what people are reading right now.
fn top_mentions(out: &mut String, mentions: &[crate::model::MentionRef]) {
    if mentions.is_empty() {
        return;
    }
    out.push_str("<ul class=\"mentions\">");
    for m in mentions.iter().take(3) {
        let who = m.author.as_deref().unwrap_or("(unknown)");
        let reach =
            m.reach.map(|r| format!(" ({} followers)", crate::notify::render::thousands(r))).unwrap_or_default();
        let _ = write!(
            out,
            "<li><b>{}</b>{reach}, {}: {}</li>",
            escape::html(who),
            escape::html(&m.source),
            escape::html(&m.text)
        );
    }
    out.push_str("</ul>");
}

pub(crate) fn page(views: &[WatchView], volume_factors: &[(String, f64)], store: &Store, sources: &[String]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"30\">\
         <title>stormwatch</title><style>body{font-family:sans-serif;margin:1em 2em;max-width:1200px}\
         table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #ddd}\
         .critical{color:#b71c1c}.warning{color:#e65100}.ok{color:#2e7d32}svg{width:100%;height:auto}</style>\
         </head><body><h1>stormwatch</h1>",
    );
    let mut episodes: Vec<Episode> = match store.episodes() {
        Ok(saved) => crate::alert::episode::decode_saved(&saved),
        Err(e) => {
            tracing::warn!(error = %e, "status page: cannot read alert episodes");
            let _ = write!(
                out,
                "<p class=\"critical\">Alerts cannot be read from the state file: {}</p>",
                escape::html(&e.to_string())
            );
            Vec::new()
        }
    };
    episodes.sort_by_key(|e| std::cmp::Reverse(e.started_at));
    for v in views {
        let _ = write!(out, "<h2>{}</h2>", escape::html(&v.name));
        let open: Vec<&Episode> = episodes.iter().filter(|e| e.last_signal.watch == v.name && e.is_open()).collect();
        if open.is_empty() {
            out.push_str("<p class=\"ok\">No open alert.</p>");
        }
        for e in open {
            let class = if e.severity == crate::model::Severity::Critical { "critical" } else { "warning" };
            let subject = crate::notify::render::episode_headline(e);
            let ack = e
                .acknowledged
                .as_ref()
                .map(|a| format!(" · acknowledged by {}", escape::html(&a.by)))
                .unwrap_or_default();
            let _ = write!(
                out,
                "<p class=\"{class}\"><b>{:?} {}</b>: {} (since {}){ack}</p>",
                e.severity,
                escape::html(&crate::notify::render::episode_kinds(e)),
                escape::html(&subject),
                when(Some(e.started_at))
            );
            top_mentions(&mut out, &e.last_signal.evidence.top_mentions);
        }
        let factor = volume_factors.iter().find(|(n, _)| *n == v.name).map_or(2.0, |(_, f)| *f);
        out.push_str(&charts(v, factor));
    }
    out.push_str("<h2>Recent alerts</h2><table><tr><th>started</th><th>watch</th><th>signal</th><th>severity</th><th>state</th><th>acknowledged</th></tr>");
    for e in episodes.iter().take(20) {
        let state = serde_json::to_value(e.status)
            .ok()
            .and_then(|v| v["state"].as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td></tr>",
            when(Some(e.started_at)),
            escape::html(&e.last_signal.watch),
            escape::html(&crate::notify::render::episode_kinds(e)),
            e.severity,
            escape::html(&state),
            e.acknowledged.as_ref().map(|a| escape::html(&a.by)).unwrap_or_default()
        );
    }
    out.push_str("</table><h2>Sources</h2><table><tr><th>source</th><th>last success</th><th>failures in a row</th><th>last error</th></tr>");
    for s in sources {
        let h = match store.health(s) {
            Ok(h) => h.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(source = %s, error = %e, "status page: cannot read source health");
                SourceHealth { last_error: Some(format!("state file: {e}")), ..SourceHealth::default() }
            }
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape::html(s),
            when(h.last_success),
            h.consecutive_failures,
            escape::html(h.last_error.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table></body></html>");
    out
}
