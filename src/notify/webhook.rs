//! The generic JSON webhook (schema in docs/webhook.md), signed with the receiver's secret.
//! Text is left as written: JSON escaping is the receiver's medium, and it decides how to show it.

use serde_json::{json, Value};

use super::render::{notice_subject, subject};
use super::{http, Channel, SendError};
use crate::alert::{GroupBy, Message, Notice, Track};
use crate::model::SignalKind;

/// A signed webhook.
pub(crate) struct Webhook {
    pub(crate) url: String,
    pub(crate) secret: Vec<u8>,
    pub(crate) client: reqwest::Client,
}

#[async_trait::async_trait]
impl Channel for Webhook {
    async fn send(&self, message: &Message, key: &str) -> Result<(), SendError> {
        http::post_json(&self.client, &self.url, &payload(message), key, Some(&self.secret)).await
    }
}

/// Version of the webhook payload; bumped on any incompatible change.
pub(crate) const WEBHOOK_SCHEMA: &str = "stormwatch.alert.v1";

fn notice_json(n: &Notice) -> Value {
    let s = &n.signal;
    let e = &s.evidence;
    let pairs = |v: &[(String, u32)]| v.iter().map(|(k, c)| json!({"name": k, "count": c})).collect::<Vec<_>>();
    json!({
        "alert_id": n.alert_id,
        "incident_id": (n.group == GroupBy::Watch && s.kind != SignalKind::BlindSpot).then_some(&n.alert_id),
        "group_by": n.group,
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
        "signals": n.signals.iter().map(track_json).collect::<Vec<_>>(),
        "topics": e.topics,
        "stories": e.stories,
        "holding_statement": n.holding,
        "ack_url": n.ack_url,
        "acknowledged": n.acknowledged,
    })
}

/// One signal of an episode: its kind, phase and latest numbers.
fn track_json(t: &Track) -> Value {
    json!({
        "signal": t.kind.as_str(),
        "phase": if t.open { "firing" } else { "ended" },
        "severity": t.severity,
        "started_at": t.started_at,
        "ended_at": t.ended_at,
        "measure": t.measure,
        "value": t.value,
        "baseline": t.baseline,
        "threshold": t.threshold,
        "window_secs": t.window_secs,
        "mentions": t.mentions,
        "detail": t.detail,
    })
}

/// The webhook body.
pub(crate) fn payload(message: &Message) -> Value {
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
