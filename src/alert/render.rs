//! Notices in words, for each medium: a subject for a phone's notification line, plain text,
//! HTML email, Slack Block Kit, a Teams Adaptive Card, the signed JSON webhook (schema in
//! docs/webhook.md) and templated action bodies.
//!
//! Mention texts, authors and links are written by strangers. Each medium gets its own
//! escaping here, at the last moment, and nowhere else: HTML entities in email; `&`, `<`, `>`
//! in Slack (which is all `<!channel>`, `<@U…>` and `<url|label>` need); link syntax broken in
//! Teams markdown; control characters (terminal escapes, CR/LF) dropped from text and
//! subjects.

use std::fmt::Write;

use serde_json::{json, Value};

use super::episode::Event;
use super::{Message, Notice, Summary};
use crate::model::{Measure, MentionRef, Severity, Signal};

/// Version of the webhook payload; bumped on any incompatible change.
pub const WEBHOOK_SCHEMA: &str = "stormwatch.alert.v1";

/// Content id of the chart image in an email.
pub const CHART_CID: &str = "chart@stormwatch";

/// The body an `action` receiver posts when the config gives none.
pub const DEFAULT_ACTION_BODY: &str =
    r#"{"alert_id": {alert_id}, "watch": {watch}, "severity": {severity}, "status": {status}, "subject": {subject}}"#;

const ACTION_FIELDS: [&str; 8] = ["alert_id", "watch", "severity", "status", "event", "kind", "subject", "ack_url"];

/// Drops control characters (terminal escapes, CR/LF that would split a header or a log
/// line) and keeps the rest.
pub fn plain(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Plain, and cut to `max` characters with an ellipsis.
fn cut(text: &str, max: usize) -> String {
    let p = plain(text);
    if p.chars().count() <= max {
        return p;
    }
    let mut s: String = p.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

pub fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
    }
}

/// "15 min", "1 h", "2 h 30 min".
pub fn span(secs: u64) -> String {
    let m = secs.div_ceil(60);
    match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn count(x: f64) -> String {
    if x < 10.0 && x.fract().abs() > 1e-9 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

/// "342 mentions/15 min (baseline 40)".
fn volume_phrase(s: &Signal) -> String {
    let e = &s.evidence;
    let base = e.expected_mentions.map(|b| format!(" (baseline {})", count(b))).unwrap_or_default();
    format!("{} mentions/{}{base}", e.mentions, span(s.window_secs))
}

/// What tripped, in a line: the part of the subject after the watch name.
pub fn headline(s: &Signal) -> String {
    let e = &s.evidence;
    let share = |e: &crate::model::Evidence| {
        (e.mentions > 0).then(|| e.negative as f64 / e.mentions as f64).map(pct).unwrap_or_else(|| "-".into())
    };
    match s.measure {
        Measure::NegativeShare => {
            format!("negativity {} (baseline {}), {}", pct(s.value), pct(s.baseline), volume_phrase(s))
        }
        Measure::NegativeMentions => format!(
            "{} negative mentions/{} (baseline {}), negativity {}",
            count(s.value),
            span(s.window_secs),
            count(s.baseline),
            share(e)
        ),
        Measure::Mentions => {
            let usual = e.usual_share.map(|u| format!(" (baseline {})", pct(u))).unwrap_or_default();
            format!("{}, negativity {}{usual}", volume_phrase(s), share(e))
        }
        Measure::MeanSentiment => format!(
            "mean sentiment {:+.2} (baseline {:+.2}), {} mentions/{}",
            s.value,
            s.baseline,
            e.mentions,
            span(s.window_secs)
        ),
        Measure::Reach => {
            let who = e.top_mentions.first().and_then(|m| m.author.clone()).unwrap_or_else(|| "an account".into());
            format!("negative post by {} ({} followers)", cut(&who, 40), thousands(s.value as u64))
        }
        Measure::Sources => {
            let names: Vec<&str> = e.blind_sources.iter().map(|b| b.source.as_str()).collect();
            format!("blind spot, {} source(s) failing or silent: {}", names.len(), names.join(", "))
        }
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The subject / notification line: `[CRITICAL] Kroon Bank: negativity 71% (baseline 12%), …`.
pub fn subject(message: &Message) -> String {
    match message {
        Message::Alert(n) => notice_subject(n),
        Message::Summary(s) => {
            let critical = s.notices.iter().filter(|n| n.severity == Severity::Critical).count();
            let watches = watch_list(s);
            let why = if s.reason == "quiet_hours" { "during quiet hours" } else { "over the hourly limit" };
            let crit = if critical > 0 { format!(", {critical} critical") } else { String::new() };
            cut(&format!("[SUMMARY] {} alerts held {why}{crit}: {watches}", s.notices.len()), 200)
        }
    }
}

fn watch_list(s: &Summary) -> String {
    let mut watches: Vec<&str> = s.notices.iter().map(|n| n.watch.as_str()).collect();
    watches.sort();
    watches.dedup();
    watches.join(", ")
}

fn notice_subject(n: &Notice) -> String {
    let tag = match n.event {
        Event::Firing => severity_word(n.severity).to_string(),
        Event::Update => format!("{} · update", severity_word(n.severity)),
        Event::Escalated => format!("{} · escalated, not acknowledged", severity_word(n.severity)),
        Event::Resolved => "RESOLVED".to_string(),
    };
    let what = if n.event == Event::Resolved {
        let lasted = (n.at - n.started_at).num_seconds().max(0) as u64;
        format!("{} back to normal after {}", n.signal.kind.as_str().replace('_', " "), span(lasted))
    } else {
        headline(&n.signal)
    };
    cut(&format!("[{tag}] {}: {what}", n.watch), 200)
}

/// The plain-text body (email text part, logs, and `stormwatch` output).
pub fn text(message: &Message) -> String {
    match message {
        Message::Alert(n) => notice_text(n),
        Message::Summary(s) => {
            let mut out = format!("{}\n\n", subject(message));
            for n in &s.notices {
                let _ = writeln!(
                    out,
                    "- {} (alert {}, {})",
                    notice_subject(n),
                    n.alert_id,
                    n.at.format("%Y-%m-%d %H:%M UTC")
                );
                if let Some(url) = &n.ack_url {
                    let _ = writeln!(out, "  Acknowledge: {url}");
                }
            }
            out
        }
    }
}

fn notice_text(n: &Notice) -> String {
    let s = &n.signal;
    let e = &s.evidence;
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", notice_subject(n));
    if n.event != Event::Resolved {
        let _ = writeln!(out, "What tripped: {} {}", s.kind.as_str().replace('_', " "), numbers(s));
    }
    let _ = writeln!(
        out,
        "Window: {} ending {}. Episode started {}.",
        span(s.window_secs),
        s.at.format("%Y-%m-%d %H:%M UTC"),
        n.started_at.format("%Y-%m-%d %H:%M UTC")
    );
    if e.mentions > 0 {
        let _ = writeln!(out, "Mentions: {} ({} negative, {} positive)", e.mentions, e.negative, e.positive);
    }
    if !e.timeline.is_empty() {
        let _ = writeln!(out, "Last {}: {}", span(e.timeline.len() as u64 * 300), super::chart::sparkline(&e.timeline));
    }
    for (label, list) in breakdowns(s) {
        if !list.is_empty() {
            let _ = writeln!(out, "{label}: {}", plain(&list));
        }
    }
    for b in &e.blind_sources {
        let _ =
            writeln!(out, "Blind: {} since {}: {}", plain(&b.source), b.since.format("%H:%M UTC"), plain(&b.reason));
    }
    if !e.top_mentions.is_empty() {
        let _ = writeln!(out, "\nMost-reached negative mentions:");
        for (i, m) in e.top_mentions.iter().enumerate() {
            let _ = writeln!(out, "{}. {}", i + 1, mention_line(m));
            let _ = writeln!(out, "   \"{}\"", cut(&m.text, 280));
        }
    }
    if let Some(h) = &n.holding {
        let cat = h.category.map(|c| format!(", {c}")).unwrap_or_default();
        let _ = writeln!(out, "\nSuggested holding statement ({}{cat}):\n  {}", h.lang.code(), plain(&h.text));
    }
    if let Some(a) = &n.acknowledged {
        let _ = writeln!(out, "\nAcknowledged by {} at {}.", plain(&a.by), a.at.format("%H:%M UTC"));
    } else if let Some(url) = &n.ack_url {
        let _ = writeln!(out, "\nAcknowledge: {url}");
    }
    let _ = writeln!(out, "\nAlert {} · fingerprint {}", n.alert_id, n.fingerprint);
    out
}

/// "@ann (12,000 followers) on mastodon — https://…": everything cut and plain.
fn mention_line(m: &MentionRef) -> String {
    let who = m.author.as_deref().map(|a| cut(a, 60)).unwrap_or_else(|| "unknown author".into());
    let reach = m.reach.map(|r| format!(" ({} followers)", thousands(r))).unwrap_or_default();
    let link = m.url.as_deref().map(|u| format!(" — {}", cut(u, 300))).unwrap_or_default();
    format!("{who}{reach} on {}{link}", cut(&m.source, 60))
}

/// "71% (baseline 12%, threshold 30%, z 6.2)".
fn numbers(s: &Signal) -> String {
    let f = |x: f64| match s.measure {
        Measure::NegativeShare => pct(x),
        Measure::MeanSentiment => format!("{x:+.2}"),
        Measure::Reach => thousands(x.max(0.0) as u64),
        _ => count(x),
    };
    let z = if s.z > 0.0 { format!(", z {:.1}", s.z) } else { String::new() };
    format!("{} (baseline {}, threshold {}{z})", f(s.value), f(s.baseline), f(s.threshold))
}

fn breakdowns(s: &Signal) -> [(&'static str, String); 4] {
    let e = &s.evidence;
    let join = |items: Vec<String>| items.join(", ");
    [
        ("Top terms", join(e.top_terms.iter().map(|(t, c)| format!("{t} ({c})")).collect())),
        ("Crisis categories", join(e.categories.iter().map(|(t, c)| format!("{t} ({c})")).collect())),
        ("Languages", join(e.languages.iter().map(|(t, c)| format!("{t} {c}")).collect())),
        ("Sources", join(e.sources.iter().map(|(t, c)| format!("{t} {c}")).collect())),
    ]
}

/// Text written by strangers, made safe for HTML: plain, then escaped.
pub fn esc(text: &str) -> String {
    html_escape::encode_text(&plain(text)).into_owned()
}

/// Only http(s) links become links; anything else (javascript:, data:) stays text.
fn safe_href(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| html_escape::encode_double_quoted_attribute(u.as_str()).into_owned())
}

/// The HTML email body. `chart`: whether the email carries the chart image (cid `CHART_CID`).
pub fn html(message: &Message, chart: bool) -> String {
    let body = match message {
        Message::Alert(n) => notice_html(n, chart),
        Message::Summary(s) => {
            let mut out = format!("<h2>{}</h2><ul>", esc(&subject(message)));
            for n in &s.notices {
                let ack =
                    n.ack_url.as_deref().and_then(safe_href).map(|u| format!(" · <a href=\"{u}\">acknowledge</a>"));
                let _ = write!(out, "<li>{}{}</li>", esc(&notice_subject(n)), ack.unwrap_or_default());
            }
            out + "</ul>"
        }
    };
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family:sans-serif;max-width:640px\">{body}</body></html>"
    )
}

fn notice_html(n: &Notice, chart: bool) -> String {
    let s = &n.signal;
    let e = &s.evidence;
    let colour = match (n.event, n.severity) {
        (Event::Resolved, _) => "#2e7d32",
        (_, Severity::Critical) => "#b71c1c",
        _ => "#e65100",
    };
    let mut out = format!("<h2 style=\"color:{colour}\">{}</h2>", esc(&notice_subject(n)));
    if n.event != Event::Resolved {
        let _ =
            write!(out, "<p><b>What tripped:</b> {} {}</p>", esc(&s.kind.as_str().replace('_', " ")), esc(&numbers(s)));
    }
    let _ = write!(
        out,
        "<p>Window {} ending {} · episode started {}</p>",
        span(s.window_secs),
        s.at.format("%Y-%m-%d %H:%M UTC"),
        n.started_at.format("%H:%M UTC")
    );
    if e.mentions > 0 {
        let _ = write!(out, "<p>Mentions: {} ({} negative, {} positive)</p>", e.mentions, e.negative, e.positive);
    }
    if chart {
        let _ = write!(
            out,
            "<p><img src=\"cid:{CHART_CID}\" alt=\"mentions per 5 minutes, negative in red, baseline line\" \
             width=\"600\" height=\"200\"></p>"
        );
    }
    out.push_str("<table>");
    for (label, list) in breakdowns(s) {
        if !list.is_empty() {
            let _ = write!(out, "<tr><th align=\"left\">{label}</th><td>{}</td></tr>", esc(&list));
        }
    }
    for b in &e.blind_sources {
        let _ = write!(out, "<tr><th align=\"left\">Blind: {}</th><td>{}</td></tr>", esc(&b.source), esc(&b.reason));
    }
    out.push_str("</table>");
    if !e.top_mentions.is_empty() {
        out.push_str("<h3>Most-reached negative mentions</h3><ol>");
        for m in &e.top_mentions {
            let who = esc(m.author.as_deref().unwrap_or("unknown author"));
            let reach = m.reach.map(|r| format!(" ({} followers)", thousands(r))).unwrap_or_default();
            let link = m.url.as_deref().and_then(safe_href).map(|u| format!(" · <a href=\"{u}\">open</a>"));
            let _ = write!(
                out,
                "<li><b>{who}</b>{reach} on {}{}<br><q>{}</q></li>",
                esc(&m.source),
                link.unwrap_or_default(),
                esc(&cut(&m.text, 280))
            );
        }
        out.push_str("</ol>");
    }
    if let Some(h) = &n.holding {
        let _ = write!(
            out,
            "<h3>Suggested holding statement ({})</h3><blockquote>{}</blockquote>",
            h.lang.code(),
            esc(&h.text)
        );
    }
    if let Some(a) = &n.acknowledged {
        let _ = write!(out, "<p>Acknowledged by {} at {}.</p>", esc(&a.by), a.at.format("%H:%M UTC"));
    } else if let Some(url) = n.ack_url.as_deref().and_then(safe_href) {
        let _ = write!(
            out,
            "<p><a href=\"{url}\" style=\"background:{colour};color:#fff;padding:8px 14px;text-decoration:none\">\
             Acknowledge</a></p>"
        );
    }
    let _ =
        write!(out, "<p style=\"color:#777;font-size:small\">Alert {} · fingerprint {}</p>", n.alert_id, n.fingerprint);
    out
}

/// Slack's three entities: with them escaped, no post can mention `<!channel>`, `<!here>`,
/// `<@U…>` or hide a link behind `<url|label>`.
pub fn slack_escape(text: &str) -> String {
    plain(text).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Slack incoming-webhook payload (Block Kit, with `text` as the notification fallback).
pub fn slack(message: &Message) -> Value {
    let title = subject(message);
    let mut blocks = vec![json!({"type": "header", "text": {"type": "plain_text", "text": cut(&title, 150)}})];
    match message {
        Message::Summary(s) => {
            let lines: Vec<String> =
                s.notices.iter().map(|n| format!("• {}", slack_escape(&notice_subject(n)))).collect();
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&lines.join("\n"), 2900)}}));
        }
        Message::Alert(n) => {
            let s = &n.signal;
            let e = &s.evidence;
            let mut facts = String::new();
            if n.event != Event::Resolved {
                let _ = writeln!(
                    facts,
                    "*What tripped:* {} {}",
                    s.kind.as_str().replace('_', " "),
                    slack_escape(&numbers(s))
                );
            }
            if !e.timeline.is_empty() {
                let _ = writeln!(
                    facts,
                    "*Last {}:* `{}`",
                    span(e.timeline.len() as u64 * 300),
                    super::chart::sparkline(&e.timeline)
                );
            }
            for (label, list) in breakdowns(s) {
                if !list.is_empty() {
                    let _ = writeln!(facts, "*{label}:* {}", slack_escape(&list));
                }
            }
            for b in &e.blind_sources {
                let _ = writeln!(facts, "*Blind:* {}: {}", slack_escape(&b.source), slack_escape(&b.reason));
            }
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&facts, 2900)}}));
            for m in e.top_mentions.iter().take(5) {
                let line = format!("{}\n>{}", slack_escape(&mention_line(m)), slack_escape(&cut(&m.text, 280)));
                blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}));
            }
            if let Some(h) = &n.holding {
                let text = format!("*Suggested holding statement ({}):*\n{}", h.lang.code(), slack_escape(&h.text));
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
            }
            if let Some(url) = n.ack_url.as_deref().filter(|_| n.acknowledged.is_none()) {
                blocks.push(json!({"type": "actions", "elements": [{
                    "type": "button", "text": {"type": "plain_text", "text": "Acknowledge"},
                    "url": url, "style": "danger"
                }]}));
            }
            blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
                "text": format!("alert `{}` · fingerprint `{}`", n.alert_id, n.fingerprint)}]}));
        }
    }
    json!({"text": slack_escape(&title), "blocks": blocks})
}

/// Teams markdown renders `[label](url)` as a link: a zero-width space between the brackets
/// and the parenthesis keeps a post's text from becoming one, and `<`/`>` are entity-escaped.
pub fn teams_escape(text: &str) -> String {
    plain(text).replace("](", "]\u{200b}(").replace('<', "&lt;").replace('>', "&gt;")
}

/// Teams workflow-webhook payload: an Adaptive Card in a message.
pub fn teams(message: &Message) -> Value {
    let title = subject(message);
    let block = |text: String, extra: Value| {
        let mut b = json!({"type": "TextBlock", "text": text, "wrap": true});
        if let (Some(b), Some(extra)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(extra.clone());
        }
        b
    };
    let mut body = vec![block(teams_escape(&title), json!({"weight": "Bolder", "size": "Medium"}))];
    let mut actions = Vec::new();
    match message {
        Message::Summary(s) => {
            for n in &s.notices {
                body.push(block(format!("- {}", teams_escape(&notice_subject(n))), json!({})));
            }
        }
        Message::Alert(n) => {
            let s = &n.signal;
            let e = &s.evidence;
            let mut facts = Vec::new();
            if n.event != Event::Resolved {
                facts.push(json!({"title": "What tripped", "value": teams_escape(&numbers(s))}));
            }
            if !e.timeline.is_empty() {
                facts.push(json!({"title": "Last hours", "value": super::chart::sparkline(&e.timeline)}));
            }
            for (label, list) in breakdowns(s) {
                if !list.is_empty() {
                    facts.push(json!({"title": label, "value": teams_escape(&list)}));
                }
            }
            body.push(json!({"type": "FactSet", "facts": facts}));
            for m in e.top_mentions.iter().take(5) {
                body.push(block(teams_escape(&mention_line(m)), json!({"isSubtle": true, "spacing": "Medium"})));
                body.push(block(teams_escape(&cut(&m.text, 280)), json!({"spacing": "None"})));
            }
            if let Some(h) = &n.holding {
                body.push(block(
                    format!("Suggested holding statement ({}):", h.lang.code()),
                    json!({"weight": "Bolder"}),
                ));
                body.push(block(teams_escape(&h.text), json!({})));
            }
            if let Some(url) = n.ack_url.as_deref().filter(|_| n.acknowledged.is_none()) {
                actions.push(json!({"type": "Action.OpenUrl", "title": "Acknowledge", "url": url}));
            }
        }
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions,
            }
        }]
    })
}

fn notice_json(n: &Notice) -> Value {
    let s = &n.signal;
    let e = &s.evidence;
    let pairs = |v: &[(String, u32)]| v.iter().map(|(k, c)| json!({"name": k, "count": c})).collect::<Vec<_>>();
    json!({
        "alert_id": n.alert_id,
        "fingerprint": n.fingerprint,
        "event": n.event.as_str(),
        "status": n.status(),
        "severity": n.severity,
        "watch": n.watch,
        "signal": s.kind.as_str(),
        "subject": notice_subject(n),
        "started_at": n.started_at,
        "at": n.at,
        "numbers": {
            "measure": s.measure,
            "value": s.value,
            "baseline": s.baseline,
            "threshold": s.threshold,
            "z": s.z,
            "window_secs": s.window_secs,
            "mentions": e.mentions,
            "negative": e.negative,
            "positive": e.positive,
            "expected_mentions": e.expected_mentions,
            "usual_negative_share": e.usual_share,
        },
        "top_terms": e.top_terms.iter().map(|(t, c)| json!({"term": t, "count": c})).collect::<Vec<_>>(),
        "categories": e.categories.iter().map(|(t, c)| json!({"category": t, "count": c})).collect::<Vec<_>>(),
        "languages": pairs(&e.languages),
        "sources": pairs(&e.sources),
        "blind_sources": e.blind_sources,
        "mentions": e.top_mentions,
        "timeline": e.timeline,
        "holding_statement": n.holding,
        "ack_url": n.ack_url,
        "acknowledged": n.acknowledged,
    })
}

/// The generic webhook body (docs/webhook.md). Text is left as is: JSON escaping is the
/// receiver's medium, and it decides how to show it.
pub fn webhook(message: &Message) -> Value {
    match message {
        Message::Alert(n) => {
            let mut v = notice_json(n);
            if let Some(o) = v.as_object_mut() {
                o.insert("schema".into(), json!(WEBHOOK_SCHEMA));
                o.insert("type".into(), json!("alert"));
            }
            v
        }
        Message::Summary(s) => json!({
            "schema": WEBHOOK_SCHEMA,
            "type": "summary",
            "receiver": s.receiver,
            "reason": s.reason,
            "at": s.at,
            "subject": subject(message),
            "alerts": s.notices.iter().map(notice_json).collect::<Vec<_>>(),
        }),
    }
}

/// Checks an action template: only known `{placeholders}`, and valid JSON once filled in.
pub fn check_action_template(template: &str) -> Result<(), String> {
    let filled = fill(template, |f| ACTION_FIELDS.contains(&f).then(|| json!("x").to_string()))?;
    serde_json::from_str::<Value>(&filled).map(|_| ()).map_err(|e| {
        format!("is not valid JSON once placeholders are filled in ({e}); placeholders become quoted strings")
    })
}

/// An action's body: each `{field}` replaced by the field as a JSON string.
pub fn action_body(template: &str, message: &Message) -> String {
    let (n, subject) = match message {
        Message::Alert(n) => (Some(n.as_ref()), subject(message)),
        Message::Summary(s) => (s.notices.first(), subject(message)),
    };
    let value = |field: &str| -> Option<String> {
        let v = match field {
            "subject" => subject.clone(),
            "alert_id" => n.map(|n| n.alert_id.clone()).unwrap_or_default(),
            "watch" => n.map(|n| n.watch.clone()).unwrap_or_default(),
            "severity" => n.map(|n| n.severity_str().to_string()).unwrap_or_default(),
            "status" => n.map(|n| n.status().to_string()).unwrap_or_default(),
            "event" => n.map(|n| n.event.as_str().to_string()).unwrap_or_default(),
            "kind" => n.map(|n| n.signal.kind.as_str().to_string()).unwrap_or_default(),
            "ack_url" => n.and_then(|n| n.ack_url.clone()).unwrap_or_default(),
            _ => return None,
        };
        Some(Value::String(v).to_string())
    };
    fill(template, value).unwrap_or_else(|_| template.to_string())
}

fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_end = after.find(|c: char| !(c.is_ascii_lowercase() || c == '_')).unwrap_or(after.len());
        if name_end > 0 && after[name_end..].starts_with('}') {
            let name = &after[..name_end];
            let v = value(name).ok_or_else(|| {
                format!("unknown placeholder {{{name}}}: use {}", ACTION_FIELDS.map(|f| format!("{{{f}}}")).join(", "))
            })?;
            out.push_str(&v);
            rest = &after[name_end + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

impl Notice {
    pub fn severity_str(&self) -> &'static str {
        match self.severity {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::alert::Holding;
    use crate::model::{CrisisCategory, Evidence, Lang, Phase, SignalKind};
    use chrono::{DateTime, Utc};

    pub(crate) const NASTY: &str = "<script>alert(1)</script> <!channel> <@U123> <https://evil.example|your bank> \
                                    [login](https://evil.example) \u{1b}[31mred\r\nBcc: x@evil.example";

    pub(crate) fn notice() -> Notice {
        let at: DateTime<Utc> = "2026-11-22T14:05:00Z".parse().unwrap_or_default();
        let mention = MentionRef {
            source: "mastodon-social".into(),
            id: "1".into(),
            author: Some("@ann<b>".into()),
            reach: Some(12_000),
            url: Some("https://social.example/@ann/1".into()),
            text: NASTY.into(),
            compound: -0.8,
            published: at,
        };
        let signal = Signal {
            watch: "Kroon Bank".into(),
            kind: SignalKind::Negativity,
            measure: Measure::NegativeShare,
            severity: Severity::Critical,
            phase: Phase::Started,
            at,
            window_secs: 900,
            value: 0.71,
            baseline: 0.12,
            threshold: 0.3,
            z: 6.2,
            evidence: Evidence {
                mentions: 342,
                negative: 243,
                positive: 12,
                top_terms: vec![("storing".into(), 120)],
                categories: vec![(CrisisCategory::Outage, 150)],
                top_mentions: vec![mention],
                languages: vec![("nl".into(), 200), ("en".into(), 142)],
                sources: vec![("mastodon-social".into(), 300)],
                expected_mentions: Some(40.0),
                usual_share: Some(0.12),
                ..Evidence::default()
            },
        };
        Notice {
            alert_id: "abc-1".into(),
            fingerprint: "abc".into(),
            event: Event::Firing,
            seq: 1,
            severity: Severity::Critical,
            watch: "Kroon Bank".into(),
            signal,
            started_at: at - chrono::Duration::minutes(15),
            at,
            ack_url: Some("http://127.0.0.1:9464/ack/abc-1?exp=1&sig=00".into()),
            acknowledged: None,
            holding: Some(Holding {
                lang: Lang::Nl,
                category: Some(CrisisCategory::Outage),
                text: "We zijn ermee bezig.".into(),
            }),
        }
    }

    #[test]
    fn the_subject_reads_like_the_design_says() {
        assert_eq!(
            subject(&Message::Alert(Box::new(notice()))),
            "[CRITICAL] Kroon Bank: negativity 71% (baseline 12%), 342 mentions/15 min (baseline 40)"
        );
        let mut resolved = notice();
        resolved.event = Event::Resolved;
        resolved.at = resolved.started_at + chrono::Duration::minutes(80);
        assert_eq!(
            subject(&Message::Alert(Box::new(resolved))),
            "[RESOLVED] Kroon Bank: negativity back to normal after 1 h 20 min"
        );
    }

    #[test]
    fn html_escapes_every_stranger_written_text() {
        let html = html(&Message::Alert(Box::new(notice())), true);
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("@ann&lt;b&gt;") && !html.contains('\u{1b}'), "{html}");
        assert!(html.contains("cid:chart@stormwatch"));
        assert!(html.contains("href=\"https://social.example/@ann/1\""));
    }

    #[test]
    fn slack_gets_no_mentions_or_hidden_links_from_a_post() {
        let v = slack(&Message::Alert(Box::new(notice()))).to_string();
        for bad in ["<!channel>", "<@U123>", "<https://evil.example|", "<script>"] {
            assert!(!v.contains(bad), "{bad} in {v}");
        }
        assert!(v.contains("&lt;!channel&gt;"), "{v}");
    }

    #[test]
    fn teams_gets_no_links_from_a_post() {
        let v = teams(&Message::Alert(Box::new(notice()))).to_string();
        assert!(!v.contains("[login](https://evil.example)"), "{v}");
        assert!(v.contains("AdaptiveCard"));
    }

    #[test]
    fn text_has_no_control_characters() {
        let t = text(&Message::Alert(Box::new(notice())));
        assert!(!t.contains('\u{1b}') && !t.contains('\r'), "{t}");
        assert!(!subject(&Message::Alert(Box::new(notice()))).contains('\n'));
    }

    #[test]
    fn action_templates_fill_json_strings_and_refuse_unknown_fields() {
        let body =
            action_body(r#"{"pause": true, "why": {subject}, "id": {alert_id}}"#, &Message::Alert(Box::new(notice())));
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(v["id"], "abc-1");
        assert!(v["why"].as_str().is_some_and(|s| s.starts_with("[CRITICAL] Kroon Bank")));
        assert!(check_action_template(DEFAULT_ACTION_BODY).is_ok());
        let err = check_action_template(r#"{"x": {company}}"#).unwrap_err();
        assert!(err.contains("{company}") && err.contains("{alert_id}"), "{err}");
        assert!(check_action_template(r#"{"x": "{subject}"}"#).is_err(), "quoted twice is invalid JSON");
    }

    #[test]
    fn spans_and_thousands() {
        assert_eq!(span(900), "15 min");
        assert_eq!(span(3600), "1 h");
        assert_eq!(span(9000), "2 h 30 min");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
