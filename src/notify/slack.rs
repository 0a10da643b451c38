//! Slack incoming webhooks: Block Kit, with `text` as the notification fallback. Mention text
//! goes through `escape::slack`, so no post can ping `<!channel>` or hide a link.

use std::fmt::Write;

use serde_json::{json, Value};

use super::render::{breakdowns, detail_lines, mention_line, notice_subject, numbers, span, subject};
use super::{http, Channel, SendError};
use crate::alert::{Event, Message};
use crate::escape;

/// A Slack incoming webhook.
pub(crate) struct Slack {
    pub(crate) url: String,
    pub(crate) client: reqwest::Client,
}

#[async_trait::async_trait]
impl Channel for Slack {
    async fn send(&self, message: &Message, key: &str) -> Result<(), SendError> {
        http::post_json(&self.client, &self.url, &payload(message), key, None).await
    }
}

/// Slack incoming-webhook payload (Block Kit, with `text` as the notification fallback).
pub(crate) fn payload(message: &Message) -> Value {
    let title = subject(message);
    let mut blocks = vec![json!({"type": "header", "text": {"type": "plain_text", "text": escape::cut(&title, 150)}})];
    match message {
        Message::Summary(s) => {
            let lines: Vec<String> =
                s.notices.iter().map(|n| format!("• {}", escape::slack(&notice_subject(n)))).collect();
            blocks.push(
                json!({"type": "section", "text": {"type": "mrkdwn", "text": escape::cut(&lines.join("\n"), 2900)}}),
            );
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
                    escape::slack(&numbers(s))
                );
            }
            for line in detail_lines(n) {
                let _ = writeln!(facts, "• {}", escape::slack(&line));
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
                    let _ = writeln!(facts, "*{label}:* {}", escape::slack(&list));
                }
            }
            for b in &e.blind_sources {
                let _ = writeln!(facts, "*Blind:* {}: {}", escape::slack(&b.source), escape::slack(&b.reason));
            }
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": escape::cut(&facts, 2900)}}));
            for m in e.top_mentions.iter().take(5) {
                let line =
                    format!("{}\n>{}", escape::slack(&mention_line(m)), escape::slack(&escape::cut(&m.text, 280)));
                blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}));
            }
            if let Some(h) = &n.holding {
                let text = format!("*Suggested holding statement ({}):*\n{}", h.lang.code(), escape::slack(&h.text));
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
    json!({"text": escape::slack(&title), "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::render::tests::notice;

    #[test]
    fn slack_gets_no_mentions_or_hidden_links_from_a_post() {
        let v = payload(&Message::Alert(Box::new(notice()))).to_string();
        for bad in ["<!channel>", "<@U123>", "<https://evil.example|", "<script>"] {
            assert!(!v.contains(bad), "{bad} in {v}");
        }
        assert!(v.contains("&lt;!channel&gt;"), "{v}");
    }
}
