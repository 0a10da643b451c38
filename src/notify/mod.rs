//! The notify step: deliveries leave the durable outbox (`outbox`) through the channel of
//! their receiver — email (`email`) or an HTTP POST (`http`: signed webhook, Slack, Teams,
//! action) — with retries, backoff and a fallback receiver.

pub mod email;
pub mod folder;
pub mod http;
pub mod outbox;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::alert::{render, Message};
use crate::config::{Config, ReceiverKind};

pub use outbox::{Outbox, RetryPolicy, Until, Worker};

/// Why a send failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Timeouts, refused connections, 5xx, 429, SMTP 4xx: try again (not before `after`).
    Retry { reason: String, after: Option<Duration> },
    /// The receiver refused it for good (a 4xx, an SMTP 5xx): retrying will not change that.
    Permanent(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Retry { reason, .. } | SendError::Permanent(reason) => f.write_str(reason),
        }
    }
}

/// One receiver's way out, with its secrets read.
enum Channel {
    Email { to: Vec<String> },
    Webhook { url: String, secret: Vec<u8> },
    Slack { url: String },
    Teams { url: String },
    Action { url: String, body: String, secret: Option<Vec<u8>> },
    Folder { path: std::path::PathBuf },
}

/// Every receiver's channel, built once from the config (secrets read then: a missing one is
/// an error at start, not at 3 a.m. when the first alert fails).
pub struct Channels {
    by_name: HashMap<String, Channel>,
    mailer: Option<email::Mailer>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.by_name.keys().collect();
        names.sort();
        write!(f, "Channels({names:?})")
    }
}

impl Channels {
    /// Reads every secret the receivers need; the errors name the field and what is missing.
    pub fn build(config: &Config) -> Result<Arc<Channels>, Vec<String>> {
        let mut problems = Vec::new();
        let mut by_name = HashMap::new();
        for (i, r) in config.receivers.iter().enumerate() {
            let mut read = |what: &str, v: Result<String, String>| {
                v.map_err(|e| problems.push(format!("receivers[{i}].{what}: {e}"))).ok()
            };
            let channel = match &r.kind {
                ReceiverKind::Email { to } => Some(Channel::Email { to: to.clone() }),
                ReceiverKind::Folder { path } => match std::fs::create_dir_all(path) {
                    Ok(()) => Some(Channel::Folder { path: path.clone() }),
                    Err(e) => {
                        problems.push(format!("receivers[{i}].path: cannot create {}: {e}", path.display()));
                        None
                    }
                },
                ReceiverKind::Webhook { url, secret } => {
                    let url = read("url", url.read());
                    let secret = read("secret", secret.read());
                    url.zip(secret).map(|(url, s)| Channel::Webhook { url, secret: s.into_bytes() })
                }
                ReceiverKind::Slack { url } => read("url", url.read()).map(|url| Channel::Slack { url }),
                ReceiverKind::Teams { url } => read("url", url.read()).map(|url| Channel::Teams { url }),
                ReceiverKind::Action { url, body, secret } => {
                    let url = read("url", url.read());
                    let secret = match secret {
                        Some(s) => read("secret", s.read()).map(|s| Some(s.into_bytes())),
                        None => Some(None),
                    };
                    url.zip(secret).map(|(url, secret)| Channel::Action { url, body: body.clone(), secret })
                }
            };
            if let Some(c) = channel {
                by_name.insert(r.name.clone(), c);
            }
        }
        let mailer = match &config.smtp {
            Some(spec) => {
                let password = spec.password.as_ref().map(|p| p.read());
                match password.transpose() {
                    Ok(password) => email::Mailer::new(spec, password).map_err(|e| problems.push(e)).ok(),
                    Err(e) => {
                        problems.push(format!("smtp.password: {e}"));
                        None
                    }
                }
            }
            None => None,
        };
        let http = http::client(Duration::from_secs(10)).map_err(|e| problems.push(e)).ok();
        match http {
            Some(http) if problems.is_empty() => Ok(Arc::new(Channels { by_name, mailer, http })),
            _ => Err(problems),
        }
    }

    pub fn has(&self, receiver: &str) -> bool {
        self.by_name.contains_key(receiver)
    }

    /// Sends one message to one receiver; `key` is the idempotency key.
    pub async fn send(&self, receiver: &str, message: &Message, key: &str) -> Result<(), SendError> {
        let Some(channel) = self.by_name.get(receiver) else {
            return Err(SendError::Permanent(format!("no receiver named {receiver:?} in the configuration")));
        };
        let json = |v: serde_json::Value| serde_json::to_vec(&v).unwrap_or_default();
        match channel {
            Channel::Email { to } => match &self.mailer {
                Some(m) => m.send(to, message, key).await,
                None => Err(SendError::Permanent("no [smtp] section for email".into())),
            },
            Channel::Webhook { url, secret } => {
                http::post(&self.http, url, json(render::webhook(message)), key, Some(secret)).await
            }
            Channel::Slack { url } => http::post(&self.http, url, json(render::slack(message)), key, None).await,
            Channel::Teams { url } => http::post(&self.http, url, json(render::teams(message)), key, None).await,
            Channel::Folder { path } => folder::write(path, receiver, message, key),
            Channel::Action { url, body, secret } => {
                let body = render::action_body(body, message).into_bytes();
                http::post(&self.http, url, body, key, secret.as_deref()).await
            }
        }
    }
}
