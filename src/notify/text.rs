//! The plain-text body of an alert: the email's text part, and what `stormwatch` prints.

use std::fmt::Write;

use super::render::{breakdowns, detail_lines, mention_line, notice_subject, numbers, span, subject};
use crate::alert::{Event, Message, Notice};
use crate::escape;

/// The plain-text body (email text part, logs, and `stormwatch` output).
pub(crate) fn body(message: &Message) -> String {
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
    for line in detail_lines(n) {
        let _ = writeln!(out, "- {}", escape::plain(&line));
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
            let _ = writeln!(out, "{label}: {}", escape::plain(&list));
        }
    }
    for b in &e.blind_sources {
        let _ = writeln!(
            out,
            "Blind: {} since {}: {}",
            escape::plain(&b.source),
            b.since.format("%H:%M UTC"),
            escape::plain(&b.reason)
        );
    }
    if !e.top_mentions.is_empty() {
        let _ = writeln!(out, "\nMost-reached negative mentions:");
        for (i, m) in e.top_mentions.iter().enumerate() {
            let _ = writeln!(out, "{}. {}", i + 1, mention_line(m));
            let _ = writeln!(out, "   \"{}\"", escape::cut(&m.text, 280));
        }
    }
    if let Some(h) = &n.holding {
        let cat = h.category.map(|c| format!(", {c}")).unwrap_or_default();
        let _ = writeln!(out, "\nSuggested holding statement ({}{cat}):\n  {}", h.lang.code(), escape::plain(&h.text));
    }
    if let Some(a) = &n.acknowledged {
        let _ = writeln!(out, "\nAcknowledged by {} at {}.", escape::plain(&a.by), a.at.format("%H:%M UTC"));
    } else if let Some(url) = &n.ack_url {
        let _ = writeln!(out, "\nAcknowledge: {url}");
    }
    let _ = writeln!(out, "\nAlert {} · fingerprint {}", n.alert_id, n.fingerprint);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::render::tests::notice;

    #[test]
    fn text_has_no_control_characters() {
        let t = body(&Message::Alert(Box::new(notice())));
        assert!(!t.contains('\u{1b}') && !t.contains('\r'), "{t}");
        assert!(!subject(&Message::Alert(Box::new(notice()))).contains('\n'));
    }
}
