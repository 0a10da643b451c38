//! Microsoft Teams workflow webhooks: an Adaptive Card in a message. Mention text goes through
//! `escape::teams`, so no post becomes a link.

use serde_json::{json, Value};

use super::render::{breakdowns, detail_lines, mention_line, notice_subject, numbers, subject};
use super::{http, Channel, SendError};
use crate::alert::{Event, Message};
use crate::escape;

/// A Teams workflow webhook.
pub(crate) struct Teams {
    pub(crate) url: String,
    pub(crate) client: reqwest::Client,
}

#[async_trait::async_trait]
impl Channel for Teams {
    async fn send(&self, message: &Message, key: &str) -> Result<(), SendError> {
        http::post_json(&self.client, &self.url, &payload(message), key, None).await
    }
}

/// Teams workflow-webhook payload: an Adaptive Card in a message.
pub(crate) fn payload(message: &Message) -> Value {
    let title = subject(message);
    let block = |text: String, extra: Value| {
        let mut b = json!({"type": "TextBlock", "text": text, "wrap": true});
        if let (Some(b), Some(extra)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(extra.clone());
        }
        b
    };
    let mut body = vec![block(escape::teams(&title), json!({"weight": "Bolder", "size": "Medium"}))];
    let mut actions = Vec::new();
    match message {
        Message::Summary(s) => {
            for n in &s.notices {
                body.push(block(format!("- {}", escape::teams(&notice_subject(n))), json!({})));
            }
        }
        Message::Alert(n) => {
            let s = &n.signal;
            let e = &s.evidence;
            let mut facts = Vec::new();
            if n.event != Event::Resolved {
                facts.push(json!({"title": "What tripped", "value": escape::teams(&numbers(s))}));
            }
            if !e.timeline.is_empty() {
                facts.push(json!({"title": "Last hours", "value": super::chart::sparkline(&e.timeline)}));
            }
            for (label, list) in breakdowns(s) {
                if !list.is_empty() {
                    facts.push(json!({"title": label, "value": escape::teams(&list)}));
                }
            }
            body.push(json!({"type": "FactSet", "facts": facts}));
            for line in detail_lines(n) {
                body.push(block(format!("- {}", escape::teams(&line)), json!({"spacing": "None"})));
            }
            for m in e.top_mentions.iter().take(5) {
                body.push(block(escape::teams(&mention_line(m)), json!({"isSubtle": true, "spacing": "Medium"})));
                body.push(block(escape::teams(&escape::cut(&m.text, 280)), json!({"spacing": "None"})));
            }
            if let Some(h) = &n.holding {
                body.push(block(
                    format!("Suggested holding statement ({}):", h.lang.code()),
                    json!({"weight": "Bolder"}),
                ));
                body.push(block(escape::teams(&h.text), json!({})));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::render::tests::notice;

    #[test]
    fn teams_gets_no_links_from_a_post() {
        let v = payload(&Message::Alert(Box::new(notice()))).to_string();
        assert!(!v.contains("[login](https://evil.example)"), "{v}");
        assert!(v.contains("AdaptiveCard"));
    }
}
