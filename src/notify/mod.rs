//! The notify step: deliveries leave the durable outbox (`outbox`) through the channel of
//! their receiver, with retries, backoff and a fallback receiver.
//!
//! Every receiver kind is one file filling in one trait, [`Channel`]: how to send a message
//! and what the answer means (delivered, retry, refused for good). Each renders the message in
//! its own medium there: `email` (MIME text + HTML with the chart), `webhook` (signed JSON),
//! `slack` (Block Kit), `teams` (Adaptive Card), `action` (a templated request), `folder`
//! (`.eml` and `.html` files). What every medium shares lives once: the words (`render`: the
//! subject, the headline, the numbers), the plain-text and HTML bodies (`text`, `html`), the
//! chart (`chart`), the one HTTP POST and its answer's meaning (`http`), and the retry loop
//! (`outbox`). Escaping of what strangers wrote is `crate::escape`'s.

pub(crate) mod action;
mod chart;
pub(crate) mod email;
mod folder;
pub(crate) mod html;
mod http;
pub(crate) mod outbox;
pub(crate) mod render;
mod slack;
mod teams;
pub(crate) mod text;
pub(crate) mod webhook;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::alert::Message;
use crate::secret::{Environment, SecretOr, SecretRef};

pub(crate) use email::{SmtpSpec, SmtpTls};
pub use http::signature;
pub use outbox::{Outbox, RetryPolicy, Until, Worker};

/// Why a send failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Timeouts, refused connections, 5xx, 429, SMTP 4xx: try again (not before `after`).
    #[error("{reason}")]
    Retry { reason: String, after: Option<Duration> },
    /// The receiver refused it for good (a 4xx, an SMTP 5xx): retrying will not change that.
    #[error("{0}")]
    Permanent(String),
}

/// One receiver's way out: send a message, and say what the answer means.
#[async_trait::async_trait]
pub(crate) trait Channel: Send + Sync {
    /// `key`: the idempotency key, the same for every attempt of one delivery.
    async fn send(&self, message: &Message, key: &str) -> Result<(), SendError>;
}

/// How a receiver is reached (`[[receivers]] kind`), with the settings of that kind.
#[derive(Debug, Clone, PartialEq)]
pub enum ReceiverKind {
    Email {
        to: Vec<String>,
    },
    /// Generic JSON, signed with the secret.
    Webhook {
        url: SecretOr,
        secret: SecretRef,
    },
    Slack {
        url: SecretOr,
    },
    Teams {
        url: SecretOr,
    },
    /// A templated request for automatic responses; optional signature.
    Action {
        url: SecretOr,
        body: action::ActionTemplate,
        secret: Option<SecretRef>,
    },
    /// Each notification written to a folder as an `.eml` and an `.html` file (an audit
    /// trail, or alerts without a network).
    Folder {
        path: PathBuf,
    },
}

impl ReceiverKind {}

/// Every receiver's channel, built once (secrets read then: a missing one is an error at
/// start, not at 3 a.m. when the first alert fails).
pub struct Channels {
    by_name: HashMap<String, Box<dyn Channel>>,
}

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.by_name.keys().collect();
        names.sort();
        write!(f, "Channels({names:?})")
    }
}

impl Channels {
    /// `receivers`: name and kind, in config order (problems name `receivers[i]`). Reads every
    /// secret the receivers and the relay need, and creates folders; returns every problem.
    pub fn build<'a>(
        receivers: impl IntoIterator<Item = (&'a str, &'a ReceiverKind)>,
        smtp: Option<&SmtpSpec>,
        env: &Environment,
    ) -> Result<Arc<Channels>, Vec<String>> {
        let mut problems = Vec::new();
        let client = http::client(Duration::from_secs(10))
            .map_err(|e| problems.push(format!("cannot build the HTTP client: {e}")))
            .ok();
        let mailer = smtp.and_then(|spec| {
            let password = match spec.password.as_ref().map(|p| p.read(env)).transpose() {
                Ok(p) => p,
                Err(e) => {
                    problems.push(format!("smtp.password: {e}"));
                    return None;
                }
            };
            email::Mailer::new(spec, password).map(Arc::new).map_err(|e| problems.push(e.to_string())).ok()
        });
        let mut by_name: HashMap<String, Box<dyn Channel>> = HashMap::new();
        for (i, (name, kind)) in receivers.into_iter().enumerate() {
            let mut read = |what: &str, secret: Result<String, crate::secret::SecretError>| {
                secret.map_err(|e| problems.push(format!("receivers[{i}].{what}: {e}"))).ok()
            };
            let channel: Option<Box<dyn Channel>> = match kind {
                ReceiverKind::Email { to } => match &mailer {
                    Some(mailer) => Some(Box::new(email::Email { to: to.clone(), mailer: mailer.clone() })),
                    // Config validation asks for [smtp] with an email receiver; a relay that
                    // could not be set up is already a problem above.
                    None => None,
                },
                ReceiverKind::Folder { path } => match std::fs::create_dir_all(path) {
                    Ok(()) => Some(Box::new(folder::Folder { path: path.clone(), receiver: name.to_string() })),
                    Err(e) => {
                        problems.push(format!("receivers[{i}].path: cannot create {}: {e}", path.display()));
                        None
                    }
                },
                ReceiverKind::Webhook { url, secret } => {
                    let url = read("url", url.read(env));
                    let secret = read("secret", secret.read(env));
                    match (url, secret, &client) {
                        (Some(url), Some(s), Some(client)) => {
                            Some(Box::new(webhook::Webhook { url, secret: s.into_bytes(), client: client.clone() }))
                        }
                        _ => None,
                    }
                }
                ReceiverKind::Slack { url } => match (read("url", url.read(env)), &client) {
                    (Some(url), Some(client)) => Some(Box::new(slack::Slack { url, client: client.clone() })),
                    _ => None,
                },
                ReceiverKind::Teams { url } => match (read("url", url.read(env)), &client) {
                    (Some(url), Some(client)) => Some(Box::new(teams::Teams { url, client: client.clone() })),
                    _ => None,
                },
                ReceiverKind::Action { url, body, secret } => {
                    let url = read("url", url.read(env));
                    let secret = match secret {
                        Some(s) => read("secret", s.read(env)).map(|s| Some(s.into_bytes())),
                        None => Some(None),
                    };
                    match (url, secret, &client) {
                        (Some(url), Some(secret), Some(client)) => {
                            Some(Box::new(action::Action { url, body: body.clone(), secret, client: client.clone() }))
                        }
                        _ => None,
                    }
                }
            };
            if let Some(c) = channel {
                by_name.insert(name.to_string(), c);
            }
        }
        if problems.is_empty() {
            Ok(Arc::new(Channels { by_name }))
        } else {
            Err(problems)
        }
    }

    /// Sends one message to one receiver; `key` is the idempotency key.
    pub async fn send(&self, receiver: &str, message: &Message, key: &str) -> Result<(), SendError> {
        match self.by_name.get(receiver) {
            Some(channel) => channel.send(message, key).await,
            None => Err(SendError::Permanent(format!("no receiver named {receiver:?} in the configuration"))),
        }
    }
}
