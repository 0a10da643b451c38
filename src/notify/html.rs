//! The HTML body of an alert email (and of the `folder` receiver's `.html` file). Every text a
//! stranger wrote goes through `escape::html`; only http(s) links become links.

use std::fmt::Write;

use super::render::{breakdowns, detail_lines, notice_subject, numbers, span, subject, thousands};
use crate::alert::{Event, Message, Notice};
use crate::escape;
use crate::model::Severity;

/// Content id of the chart image in an email.
pub(crate) const CHART_CID: &str = "chart@stormwatch";

/// The HTML email body. `chart`: whether the email carries the chart image (cid `CHART_CID`).
pub(crate) fn body(message: &Message, chart: bool) -> String {
    let body = match message {
        Message::Alert(n) => notice_html(n, chart),
        Message::Summary(s) => {
            let mut out = format!("<h2>{}</h2><ul>", escape::html(&subject(message)));
            for n in &s.notices {
                let ack =
                    n.ack_url.as_deref().and_then(escape::href).map(|u| format!(" · <a href=\"{u}\">acknowledge</a>"));
                let _ = write!(out, "<li>{}{}</li>", escape::html(&notice_subject(n)), ack.unwrap_or_default());
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
    let mut out = format!("<h2 style=\"color:{colour}\">{}</h2>", escape::html(&notice_subject(n)));
    if n.event != Event::Resolved {
        let _ = write!(
            out,
            "<p><b>What tripped:</b> {} {}</p>",
            escape::html(&s.kind.as_str().replace('_', " ")),
            escape::html(&numbers(s))
        );
    }
    let details = detail_lines(n);
    if !details.is_empty() {
        out.push_str("<ul>");
        for line in details {
            let _ = write!(out, "<li>{}</li>", escape::html(&line));
        }
        out.push_str("</ul>");
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
            let _ = write!(out, "<tr><th align=\"left\">{label}</th><td>{}</td></tr>", escape::html(&list));
        }
    }
    for b in &e.blind_sources {
        let _ = write!(
            out,
            "<tr><th align=\"left\">Blind: {}</th><td>{}</td></tr>",
            escape::html(&b.source),
            escape::html(&b.reason)
        );
    }
    out.push_str("</table>");
    if !e.top_mentions.is_empty() {
        out.push_str("<h3>Most-reached negative mentions</h3><ol>");
        for m in &e.top_mentions {
            let who = escape::html(m.author.as_deref().unwrap_or("unknown author"));
            let reach = m.reach.map(|r| format!(" ({} followers)", thousands(r))).unwrap_or_default();
            let link = m.url.as_deref().and_then(escape::href).map(|u| format!(" · <a href=\"{u}\">open</a>"));
            let _ = write!(
                out,
                "<li><b>{who}</b>{reach} on {}{}<br><q>{}</q></li>",
                escape::html(&m.source),
                link.unwrap_or_default(),
                escape::html(&escape::cut(&m.text, 280))
            );
        }
        out.push_str("</ol>");
    }
    if let Some(h) = &n.holding {
        let _ = write!(
            out,
            "<h3>Suggested holding statement ({})</h3><blockquote>{}</blockquote>",
            h.lang.code(),
            escape::html(&h.text)
        );
    }
    if let Some(a) = &n.acknowledged {
        let _ = write!(out, "<p>Acknowledged by {} at {}.</p>", escape::html(&a.by), a.at.format("%H:%M UTC"));
    } else if let Some(url) = n.ack_url.as_deref().and_then(escape::href) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::render::tests::notice;

    #[test]
    fn html_escapes_every_stranger_written_text() {
        let html = body(&Message::Alert(Box::new(notice())), true);
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("@ann&lt;b&gt;") && !html.contains('\u{1b}'), "{html}");
        assert!(html.contains("cid:chart@stormwatch"));
        assert!(html.contains("href=\"https://social.example/@ann/1\""));
    }
}
