//! `action` receivers: a templated JSON request for automatic responses (pause ads, open a
//! ticket), with an optional signature. Each `{field}` of the template becomes the field as a
//! JSON string, so a post's text can never break out of the JSON.

use serde_json::{json, Value};

use super::render::subject;
use super::{http, Channel, SendError};
use crate::alert::Message;

/// A templated request.
pub(crate) struct Action {
    pub(crate) url: String,
    pub(crate) body: ActionTemplate,
    pub(crate) secret: Option<Vec<u8>>,
    pub(crate) client: reqwest::Client,
}

#[async_trait::async_trait]
impl Channel for Action {
    async fn send(&self, message: &Message, key: &str) -> Result<(), SendError> {
        let body = self.body.fill(message).into_bytes();
        http::post(&self.client, &self.url, body, key, self.secret.as_deref()).await
    }
}

/// An action's body: JSON with `{placeholders}`, checked when the configuration is read, so
/// filling it in cannot fail.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionTemplate(String);

/// Why an action template cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TemplateError {
    #[error("unknown placeholder {{{name}}}: use {}", ACTION_FIELDS.map(|f| format!("{{{f}}}")).join(", "))]
    UnknownPlaceholder { name: String },
    #[error("is not valid JSON once placeholders are filled in ({0}); placeholders become quoted strings")]
    NotJson(serde_json::Error),
}

impl Default for ActionTemplate {
    fn default() -> Self {
        ActionTemplate(DEFAULT_ACTION_BODY.to_string())
    }
}

impl ActionTemplate {
    /// Only known `{placeholders}`, and valid JSON once filled in.
    pub(crate) fn parse(template: &str) -> Result<ActionTemplate, TemplateError> {
        let filled = fill(template, |f| ACTION_FIELDS.contains(&f).then(|| json!("x").to_string()))?;
        serde_json::from_str::<Value>(&filled).map_err(TemplateError::NotJson)?;
        Ok(ActionTemplate(template.to_string()))
    }

    /// The body for `message`: each `{field}` replaced by the field as a JSON string.
    pub(crate) fn fill(&self, message: &Message) -> String {
        fill_body(&self.0, message)
    }
}

/// The body an `action` receiver posts when the config gives none.
pub(crate) const DEFAULT_ACTION_BODY: &str =
    r#"{"alert_id": {alert_id}, "watch": {watch}, "severity": {severity}, "status": {status}, "subject": {subject}}"#;

const ACTION_FIELDS: [&str; 8] = ["alert_id", "watch", "severity", "status", "event", "kind", "subject", "ack_url"];

fn fill_body(template: &str, message: &Message) -> String {
    let (n, subject) = match message {
        Message::Alert(n) => (Some(n.as_ref()), subject(message)),
        Message::Summary(s) => (s.notices.first(), subject(message)),
    };
    let value = |field: &str| -> Option<String> {
        let v = match field {
            "subject" => subject.clone(),
            "alert_id" => n.map(|n| n.alert_id.clone()).unwrap_or_default(),
            "watch" => n.map(|n| n.watch.clone()).unwrap_or_default(),
            "severity" => n.map(|n| n.severity.as_str().to_string()).unwrap_or_default(),
            "status" => n.map(|n| n.status().to_string()).unwrap_or_default(),
            "event" => n.map(|n| n.event.as_str().to_string()).unwrap_or_default(),
            "kind" => n.map(|n| n.signal.kind.as_str().to_string()).unwrap_or_default(),
            "ack_url" => n.and_then(|n| n.ack_url.clone()).unwrap_or_default(),
            _ => return None,
        };
        Some(Value::String(v).to_string())
    };
    // `ActionTemplate::parse` checked every placeholder against the same fields: an unknown
    // one cannot occur here, and would only leave the template as written.
    fill(template, value).unwrap_or_else(|_| template.to_string())
}

fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_end = after.find(|c: char| !(c.is_ascii_lowercase() || c == '_')).unwrap_or(after.len());
        if name_end > 0 && after[name_end..].starts_with('}') {
            let name = &after[..name_end];
            let v = value(name).ok_or_else(|| TemplateError::UnknownPlaceholder { name: name.to_string() })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::render::tests::notice;

    #[test]
    fn action_templates_fill_json_strings_and_refuse_unknown_fields() {
        let body =
            fill_body(r#"{"pause": true, "why": {subject}, "id": {alert_id}}"#, &Message::Alert(Box::new(notice())));
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(v["id"], "abc-1");
        assert!(v["why"].as_str().is_some_and(|s| s.starts_with("[CRITICAL] Kroon Bank")));
        assert!(ActionTemplate::parse(DEFAULT_ACTION_BODY).is_ok());
        let err = ActionTemplate::parse(r#"{"x": {company}}"#).unwrap_err().to_string();
        assert!(err.contains("{company}") && err.contains("{alert_id}"), "{err}");
        assert!(ActionTemplate::parse(r#"{"x": "{subject}"}"#).is_err(), "quoted twice is invalid JSON");
    }
}
