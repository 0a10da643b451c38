//! Email over SMTP (lettre): multipart text + HTML with the chart inline. STARTTLS by default
//! and required, implicit TLS on request, plain only to a loopback relay unless the config
//! says `allow_plaintext` (checked when the config is validated).

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::html::CHART_CID;
use super::{chart, html, render, text, Channel, SendError};
use crate::alert::Message as AlertMessage;

/// The mail relay (`[smtp]`), needed by email receivers.
#[derive(Debug, Clone, PartialEq)]
pub struct SmtpSpec {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub from: String,
    pub username: Option<String>,
    pub password: Option<crate::secret::SecretRef>,
    pub timeout: std::time::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587): required, not opportunistic.
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS: only to a loopback relay, unless `allow_plaintext`.
    None,
}

/// Why the mail relay cannot be used (found when the channels are built, before start).
#[derive(Debug, thiserror::Error)]
pub(crate) enum MailerError {
    #[error("smtp: cannot set up TLS for {host}: {source}")]
    Tls { host: String, source: lettre::transport::smtp::Error },
    #[error("smtp.from: {0}")]
    From(#[from] lettre::address::AddressError),
}

/// An email receiver: its addresses, sent through the one relay.
pub(crate) struct Email {
    pub(crate) to: Vec<String>,
    pub(crate) mailer: std::sync::Arc<Mailer>,
}

#[async_trait::async_trait]
impl Channel for Email {
    async fn send(&self, message: &AlertMessage, key: &str) -> Result<(), SendError> {
        self.mailer.send(&self.to, message, key).await
    }
}

pub(crate) struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `[smtp] timeout`, for the whole session: lettre's async transport applies its own
    /// timeout to the TCP connect only, so a relay that accepts and then says nothing would
    /// hold the delivery (and its slot in the worker) for as long as it keeps the line open.
    timeout: std::time::Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mailer(from {})", self.from)
    }
}

impl Mailer {
    /// `password`: already read from its env var or file.
    pub(crate) fn new(spec: &SmtpSpec, password: Option<String>) -> Result<Mailer, MailerError> {
        let builder = match spec.tls {
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&spec.host),
            SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&spec.host),
            SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&spec.host)),
        }
        .map_err(|source| MailerError::Tls { host: spec.host.clone(), source })?;
        let mut builder = builder.port(spec.port).timeout(Some(spec.timeout));
        if let (Some(user), Some(password)) = (&spec.username, password) {
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let from = spec.from.parse()?;
        Ok(Mailer { transport: builder.build(), from, timeout: spec.timeout })
    }

    /// Sends one message to `to`. The Message-ID is derived from the idempotency key, so a
    /// duplicate after a crash is recognisable (and dropped by many mail systems); replies
    /// thread per alert.
    pub(crate) async fn send(&self, to: &[String], message: &AlertMessage, key: &str) -> Result<(), SendError> {
        let email = build(&self.from, to, message, key)?;
        let Ok(sent) = tokio::time::timeout(self.timeout, self.transport.send(email)).await else {
            let limit = humantime::format_duration(self.timeout);
            let reason =
                format!("SMTP: timed out: the relay did not finish the session within {limit} ([smtp] timeout)");
            return Err(SendError::Retry { reason, after: None });
        };
        sent.map(|_| ()).map_err(|e| {
            let reason = format!("SMTP: {e}");
            if e.is_permanent() {
                SendError::Permanent(reason)
            } else {
                // Connection refused, timeouts, TLS hiccups and 4xx (greylisting) all pass.
                SendError::Retry { reason, after: None }
            }
        })
    }
}

/// The MIME message: text and HTML alternatives, the HTML with the chart as a related image.
pub(crate) fn build(from: &Mailbox, to: &[String], message: &AlertMessage, key: &str) -> Result<Message, SendError> {
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(render::subject(message))
        .message_id(Some(format!("<{}@stormwatch>", sanitize_id(key))));
    for addr in to {
        let mailbox: Mailbox =
            addr.parse().map_err(|e| SendError::Permanent(format!("recipient {addr:?} is not an address: {e}")))?;
        builder = builder.to(mailbox);
    }
    if let AlertMessage::Alert(n) = message {
        let thread = format!("<{}@stormwatch>", sanitize_id(&n.alert_id));
        builder = builder.in_reply_to(thread.clone()).references(thread);
    }
    let timeline = match message {
        AlertMessage::Alert(n) => n.signal.evidence.timeline.as_slice(),
        AlertMessage::Summary(_) => &[],
    };
    let png = (!timeline.is_empty()).then(|| chart::png(timeline, 600, 200)).flatten().filter(|p| !p.is_empty());
    let html = SinglePart::html(html::body(message, png.is_some()));
    let html_part = match png {
        Some(png) => MultiPart::related().singlepart(html).singlepart(
            Attachment::new_inline(CHART_CID.to_string())
                .body(png, ContentType::parse("image/png").unwrap_or(ContentType::TEXT_PLAIN)),
        ),
        None => MultiPart::related().singlepart(html),
    };
    let body = MultiPart::alternative().singlepart(SinglePart::plain(text::body(message))).multipart(html_part);
    builder.multipart(body).map_err(|e| SendError::Permanent(format!("cannot build the email: {e}")))
}

/// Message-IDs allow a narrow character set; keys are ours but keep it safe.
fn sanitize_id(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || "-._".contains(c) { c } else { '.' }).collect()
}
