//! `[smtp]`, `[alerts]` and `[[receivers]]`: who hears about an episode, how, and when.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use chrono::NaiveTime;
use serde::Deserialize;

use super::{duration, Problems};
use crate::alert::holding::Templates;
use crate::alert::{AlertPolicy, QuietHours, ReceiverPolicy};
use crate::model::{Lang, Severity};
use crate::notify::action::ActionTemplate;
use crate::notify::{ReceiverKind, SmtpSpec, SmtpTls};
use crate::secret::{SecretOr, SecretRef};
use crate::server::ServerSpec;

/// A receiver: who the alert policy routes to (`policy`) and how notify reaches it (`kind`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiverSpec {
    pub policy: ReceiverPolicy,
    pub kind: ReceiverKind,
}

impl ReceiverSpec {
    pub fn name(&self) -> &str {
        &self.policy.name
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub listen: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    pub ingest_max_bytes: Option<i64>,
}

pub(super) fn server(raw: Option<RawServer>, base_dir: &Path, problems: &mut Problems) -> ServerSpec {
    let mut spec = ServerSpec::default();
    let Some(raw) = raw else { return spec };
    if let Some(listen) = raw.listen {
        match listen.parse() {
            Ok(addr) => spec.listen = addr,
            Err(_) => problems.add("server.listen", format!("{listen:?} is not an address:port like 127.0.0.1:9464")),
        }
    }
    spec.token = secret("server.token", raw.token_env, raw.token_file, base_dir, problems);
    match raw.ingest_max_bytes {
        Some(n) if (1024..=64 * 1024 * 1024).contains(&n) => spec.ingest_max_bytes = n as usize,
        Some(n) => problems.add("server.ingest_max_bytes", format!("must be between 1024 and 67108864, got {n}")),
        None => {}
    }
    spec
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSmtp {
    pub host: Option<String>,
    pub port: Option<i64>,
    pub tls: Option<String>,
    pub from: Option<String>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub allow_plaintext: Option<bool>,
    pub timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerts {
    #[serde(rename = "for")]
    pub pending_for: Option<String>,
    pub repeat_interval: Option<String>,
    pub resolve_after: Option<String>,
    pub cooldown: Option<String>,
    pub public_url: Option<String>,
    pub ack_secret_env: Option<String>,
    pub ack_secret_file: Option<String>,
    pub ack_link_ttl: Option<String>,
    pub max_age: Option<String>,
    pub fallback: Option<String>,
    pub language: Option<String>,
    /// `[alerts.holding_statements.<category|general>] <lang> = "template"`.
    #[serde(default)]
    pub holding_statements: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReceiver {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub to: Option<Vec<String>>,
    pub url: Option<String>,
    pub url_env: Option<String>,
    pub url_file: Option<String>,
    pub secret_env: Option<String>,
    pub secret_file: Option<String>,
    pub body: Option<String>,
    pub path: Option<String>,
    pub min_severity: Option<String>,
    pub watches: Option<Vec<String>>,
    pub escalation_only: Option<bool>,
    pub max_per_hour: Option<i64>,
    pub quiet_hours: Option<String>,
    pub timezone: Option<String>,
    pub escalate_after: Option<String>,
    pub escalate_to: Option<Vec<String>>,
}

pub(super) fn smtp(raw: Option<RawSmtp>, base_dir: &Path, problems: &mut Problems) -> Option<SmtpSpec> {
    let raw = raw?;
    let host = raw.host.filter(|h| !h.trim().is_empty());
    if host.is_none() {
        problems.add("smtp.host", "required");
    }
    let tls = match raw.tls.as_deref().unwrap_or("starttls") {
        "starttls" => SmtpTls::StartTls,
        "tls" => SmtpTls::Implicit,
        "none" => SmtpTls::None,
        other => {
            problems.add("smtp.tls", format!("unknown value {other:?}: expected starttls, tls or none"));
            SmtpTls::StartTls
        }
    };
    let port = match raw.port {
        Some(p) if (1..=65535).contains(&p) => p as u16,
        Some(p) => {
            problems.add("smtp.port", format!("must be between 1 and 65535, got {p}"));
            0
        }
        None if tls == SmtpTls::Implicit => 465,
        None if tls == SmtpTls::None => 25,
        None => 587,
    };
    if let (SmtpTls::None, Some(h)) = (tls, &host) {
        if !is_loopback(h) && raw.allow_plaintext != Some(true) {
            problems.add(
                "smtp.tls",
                format!(
                    "\"none\" would send mail and the password unencrypted to {h}: use starttls or tls, \
                     or set allow_plaintext = true if that is really intended"
                ),
            );
        }
    }
    let from = raw.from.filter(|f| f.contains('@'));
    if from.is_none() {
        problems.add("smtp.from", "required: the sender address, e.g. stormwatch@example.org");
    }
    for (key, addr) in from.iter().map(|f| ("smtp.from", f)) {
        if addr.parse::<lettre::message::Mailbox>().is_err() {
            problems.add(key, format!("{addr:?} is not an email address"));
        }
    }
    let password = secret("smtp.password", raw.password_env, raw.password_file, base_dir, problems);
    if password.is_some() && raw.username.is_none() {
        problems.add("smtp.username", "required when a password is given");
    }
    let timeout = raw.timeout.and_then(|t| duration("smtp.timeout", &t, problems)).unwrap_or(Duration::from_secs(20));
    Some(SmtpSpec { host: host?, port, tls, from: from?, username: raw.username, password, timeout })
}

/// Whether a host name is this machine: plain SMTP there never crosses a network.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `<key>_env` / `<key>_file` into a reference; both given is a mistake.
fn secret(
    path: &str,
    env: Option<String>,
    file: Option<String>,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<SecretRef> {
    match (env, file) {
        (Some(_), Some(_)) => {
            problems.add(path, format!("give {path}_env or {path}_file, not both"));
            None
        }
        (Some(e), None) => Some(SecretRef::Env(e)),
        (None, Some(f)) => Some(SecretRef::File(base_dir.join(f))),
        (None, None) => None,
    }
}

pub(super) fn alerts(raw: Option<RawAlerts>, base_dir: &Path, problems: &mut Problems) -> AlertPolicy {
    let mut p = AlertPolicy::default();
    let Some(raw) = raw else { return p };
    let mut set = |key: &str, text: Option<String>, into: &mut Duration, zero_ok: bool| {
        let Some(text) = text else { return };
        if zero_ok && humantime::parse_duration(text.trim()) == Ok(Duration::ZERO) {
            *into = Duration::ZERO;
        } else if let Some(d) = duration(&format!("alerts.{key}"), &text, problems) {
            *into = d;
        }
    };
    set("for", raw.pending_for, &mut p.pending_for, true);
    set("repeat_interval", raw.repeat_interval, &mut p.repeat_interval, false);
    set("resolve_after", raw.resolve_after, &mut p.resolve_after, true);
    set("cooldown", raw.cooldown, &mut p.cooldown, true);
    set("ack_link_ttl", raw.ack_link_ttl, &mut p.ack_link_ttl, false);
    set("max_age", raw.max_age, &mut p.max_age, false);
    if let Some(url) = raw.public_url {
        match url::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => p.public_url = url.trim_end_matches('/').to_string(),
            _ => problems.add("alerts.public_url", format!("{url:?} is not an http(s) URL")),
        }
    }
    p.ack_secret = secret("alerts.ack_secret", raw.ack_secret_env, raw.ack_secret_file, base_dir, problems);
    p.fallback = raw.fallback;
    if let Some(lang) = raw.language {
        match lang.parse::<Lang>() {
            Ok(l) => p.language = l,
            Err(e) => problems.add("alerts.language", e),
        }
    }
    let mut templates = Templates::default();
    for (category, langs) in raw.holding_statements {
        for (lang, text) in langs {
            if let Err(e) = templates.set(&category, &lang, &text) {
                problems.add(format!("alerts.holding_statements.{category}.{lang}"), e);
            }
        }
    }
    p.holding_statements = templates;
    p
}

const KIND_KEYS: [(&str, &[&str]); 6] = [
    ("email", &["to"]),
    ("webhook", &["url", "url_env", "url_file", "secret_env", "secret_file"]),
    ("slack", &["url", "url_env", "url_file"]),
    ("teams", &["url", "url_env", "url_file"]),
    ("action", &["url", "url_env", "url_file", "secret_env", "secret_file", "body"]),
    ("folder", &["path"]),
];

pub(super) fn receivers(
    raw: Vec<RawReceiver>,
    watch_names: &[&str],
    base_dir: &Path,
    problems: &mut Problems,
) -> Vec<ReceiverSpec> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let at = |key: &str| format!("receivers[{i}].{key}");
        let name = r.name.clone().filter(|n| !n.trim().is_empty());
        match &name {
            None => problems.add(at("name"), "required"),
            Some(n) if !seen.insert(n.clone()) => problems.add(at("name"), format!("{n:?} is used twice")),
            Some(_) => {}
        }
        let kind = receiver_kind(&r, &at, base_dir, problems);
        let min_severity = match r.min_severity.as_deref().unwrap_or("warning") {
            "warning" => Severity::Warning,
            "critical" => Severity::Critical,
            other => {
                problems.add(at("min_severity"), format!("unknown severity {other:?}: expected warning or critical"));
                Severity::Warning
            }
        };
        let watches = r.watches.unwrap_or_default();
        for (j, w) in watches.iter().enumerate() {
            if !watch_names.contains(&w.as_str()) {
                problems.add(format!("receivers[{i}].watches[{j}]"), format!("no watch is named {w:?}"));
            }
        }
        let max_per_hour = match r.max_per_hour {
            None => 30,
            Some(n) if (1..=10_000).contains(&n) => n as u32,
            Some(n) => {
                problems.add(at("max_per_hour"), format!("must be between 1 and 10000, got {n}"));
                30
            }
        };
        let quiet_hours = quiet(r.quiet_hours.as_deref(), r.timezone.as_deref(), &at, problems);
        let escalate_after = r.escalate_after.and_then(|d| duration(&at("escalate_after"), &d, problems));
        let escalate_to = r.escalate_to.unwrap_or_default();
        if escalate_after.is_some() == escalate_to.is_empty() {
            problems.add(at("escalate_to"), "give escalate_after and escalate_to together");
        }
        if let (Some(name), Some(kind)) = (name, kind) {
            let policy = ReceiverPolicy {
                name,
                min_severity,
                watches,
                escalation_only: r.escalation_only.unwrap_or(false),
                max_per_hour,
                quiet_hours,
                escalate_after,
                escalate_to,
            };
            out.push(ReceiverSpec { policy, kind });
        }
    }
    let names: Vec<&str> = out.iter().map(ReceiverSpec::name).collect();
    for (i, r) in out.iter().enumerate() {
        for (j, to) in r.policy.escalate_to.iter().enumerate() {
            if !names.contains(&to.as_str()) {
                problems.add(format!("receivers[{i}].escalate_to[{j}]"), format!("no receiver is named {to:?}"));
            }
        }
    }
    out
}

fn receiver_kind(
    r: &RawReceiver,
    at: &dyn Fn(&str) -> String,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<ReceiverKind> {
    let kind = r.kind.as_deref().unwrap_or("");
    let Some((_, allowed)) = KIND_KEYS.iter().find(|(k, _)| *k == kind) else {
        problems
            .add(at("kind"), format!("unknown kind {kind:?}: expected email, webhook, slack, teams, action or folder"));
        return None;
    };
    let given = [
        ("to", r.to.is_some()),
        ("url", r.url.is_some()),
        ("url_env", r.url_env.is_some()),
        ("url_file", r.url_file.is_some()),
        ("secret_env", r.secret_env.is_some()),
        ("secret_file", r.secret_file.is_some()),
        ("body", r.body.is_some()),
        ("path", r.path.is_some()),
    ];
    for (key, _) in given.iter().filter(|(k, g)| *g && !allowed.contains(k)) {
        problems.add(at(key), format!("not used by kind {kind}"));
    }
    let mut url = || -> Option<SecretOr> {
        let secret_url = secret(&at("url"), r.url_env.clone(), r.url_file.clone(), base_dir, problems);
        match (&r.url, secret_url) {
            (Some(_), Some(_)) => {
                problems.add(at("url"), "give url, url_env or url_file, only one");
                None
            }
            (Some(u), None) => match url::Url::parse(u) {
                Ok(p) if matches!(p.scheme(), "http" | "https") => Some(SecretOr::Plain(u.clone())),
                _ => {
                    problems.add(at("url"), format!("{u:?} is not an http(s) URL"));
                    None
                }
            },
            (None, Some(s)) => Some(SecretOr::Secret(s)),
            (None, None) => {
                problems.add(at("url"), format!("required for kind {kind} (url, url_env or url_file)"));
                None
            }
        }
    };
    match kind {
        "email" => {
            let to = r.to.clone().unwrap_or_default();
            if to.is_empty() {
                problems.add(at("to"), "give at least one address");
            }
            for (j, addr) in to.iter().enumerate() {
                if addr.parse::<lettre::message::Mailbox>().is_err() {
                    problems.add(at(&format!("to[{j}]")), format!("{addr:?} is not an email address"));
                }
            }
            Some(ReceiverKind::Email { to })
        }
        "webhook" => {
            let url = url();
            let secret = secret(&at("secret"), r.secret_env.clone(), r.secret_file.clone(), base_dir, problems);
            if secret.is_none() {
                problems.add(at("secret_env"), "required: receivers verify the signature with it");
            }
            Some(ReceiverKind::Webhook { url: url?, secret: secret? })
        }
        "slack" => Some(ReceiverKind::Slack { url: url()? }),
        "folder" => match &r.path {
            Some(p) if !p.trim().is_empty() => Some(ReceiverKind::Folder { path: base_dir.join(p) }),
            _ => {
                problems.add(at("path"), "required for kind folder: the folder alerts are written to");
                None
            }
        },
        "teams" => Some(ReceiverKind::Teams { url: url()? }),
        _ => {
            let url = url();
            let secret = secret(&at("secret"), r.secret_env.clone(), r.secret_file.clone(), base_dir, problems);
            let body = match r.body.as_deref().map(ActionTemplate::parse).transpose() {
                Ok(body) => Some(body.unwrap_or_default()),
                Err(e) => {
                    problems.add(at("body"), e);
                    None
                }
            };
            Some(ReceiverKind::Action { url: url?, body: body?, secret })
        }
    }
}

fn quiet(
    hours: Option<&str>,
    tz: Option<&str>,
    at: &dyn Fn(&str) -> String,
    problems: &mut Problems,
) -> Option<QuietHours> {
    let zone = match tz {
        None => chrono_tz::UTC,
        Some(name) => match name.parse::<chrono_tz::Tz>() {
            Ok(z) => z,
            Err(_) => {
                problems.add(at("timezone"), format!("unknown time zone {name:?} (use a name like Europe/Amsterdam)"));
                return None;
            }
        },
    };
    let hours = hours?;
    let parsed = hours.split_once('-').and_then(|(a, b)| {
        let t = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").ok();
        Some((t(a)?, t(b)?))
    });
    match parsed {
        Some((start, end)) if start != end => Some(QuietHours { start, end, tz: zone }),
        _ => {
            problems.add(at("quiet_hours"), format!("{hours:?} is not a span like \"22:00-07:00\""));
            None
        }
    }
}
