//! `[smtp]`, `[alerts]` and `[[receivers]]`: who hears about an episode, how, and when.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use chrono::NaiveTime;
use serde_json::Value;

use crate::alert::holding::Templates;
use crate::alert::{AlertPolicy, GroupBy, QuietHours, ReceiverPolicy};
use crate::model::{Lang, Severity};
use crate::notify::action::ActionTemplate;
use crate::notify::{ReceiverKind, SmtpSpec, SmtpTls};
use crate::secret::SecretOr;
use crate::server::ServerSpec;
use crate::settings::{Problems, Table};

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

/// `[server]`.
pub(super) fn server(t: &mut Table<'_>) -> ServerSpec {
    t.refuse_unknown(&["listen", "token_env", "token_file", "ingest_max_bytes"], |_| None);
    let mut spec = ServerSpec::default();
    if let Some(listen) = t.string("listen") {
        match listen.parse() {
            Ok(addr) => spec.listen = addr,
            Err(_) => t.problem("listen", format!("{listen:?} is not an address:port like 127.0.0.1:9464")),
        }
    }
    spec.token = t.secret("token");
    if let Some(n) = t.integer("ingest_max_bytes", 1024..=64 * 1024 * 1024) {
        spec.ingest_max_bytes = n as usize;
    }
    spec
}

/// `[smtp]`, when the file has one.
pub(super) fn smtp(t: &mut Table<'_>) -> Option<SmtpSpec> {
    t.refuse_unknown(
        &["host", "port", "tls", "from", "username", "password_env", "password_file", "allow_plaintext", "timeout"],
        |_| None,
    );
    let host = t.required_string("host", "(the mail relay's name or address)");
    let tls = match t.string("tls").as_deref().unwrap_or("starttls") {
        "starttls" => SmtpTls::StartTls,
        "tls" => SmtpTls::Implicit,
        "none" => SmtpTls::None,
        other => {
            t.problem("tls", format!("unknown value {other:?}: expected starttls, tls or none"));
            SmtpTls::StartTls
        }
    };
    let port = match t.integer("port", 1..=65535) {
        Some(p) => p as u16,
        None if tls == SmtpTls::Implicit => 465,
        None if tls == SmtpTls::None => 25,
        None => 587,
    };
    if let (SmtpTls::None, Some(h)) = (tls, &host) {
        if !is_loopback(h) && t.bool("allow_plaintext") != Some(true) {
            t.problem(
                "tls",
                format!(
                    "\"none\" would send mail and the password unencrypted to {h}: use starttls or tls, \
                     or set allow_plaintext = true if that is really intended"
                ),
            );
        }
    }
    let from = t.required_string("from", "(the sender address, e.g. stormwatch@example.org)");
    if let Some(addr) = &from {
        if addr.parse::<lettre::message::Mailbox>().is_err() {
            t.problem("from", format!("{addr:?} is not an email address"));
        }
    }
    let username = t.string("username");
    let password = t.secret("password");
    if password.is_some() && username.is_none() {
        t.problem("username", "required when a password is given");
    }
    let timeout =
        t.duration("timeout", Duration::from_secs(1)..=Duration::from_secs(600)).unwrap_or(Duration::from_secs(20));
    Some(SmtpSpec { host: host?, port, tls, from: from?, username, password, timeout })
}

/// Whether a host name is this machine: plain SMTP there never crosses a network.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `[alerts]`. Acknowledge links point at `public_url`, or, without one, at the server's
/// own `listen` address; `warnings` says when such links would only work on this machine.
pub(super) fn alerts(t: &mut Table<'_>, server: &ServerSpec, warnings: &mut Vec<String>) -> AlertPolicy {
    t.refuse_unknown(
        &[
            "for",
            "repeat_interval",
            "group_interval",
            "group_by",
            "resolve_after",
            "cooldown",
            "public_url",
            "ack_secret_env",
            "ack_secret_file",
            "ack_link_ttl",
            "max_age",
            "fallback",
            "language",
            "holding_statements",
        ],
        |_| None,
    );
    let mut p = AlertPolicy::default();
    let (minute, day) = (Duration::from_secs(60), Duration::from_secs(24 * 3600));
    for (key, into, range) in [
        ("for", &mut p.pending_for, Duration::ZERO..=day),
        ("repeat_interval", &mut p.repeat_interval, minute..=7 * day),
        ("group_interval", &mut p.group_interval, Duration::ZERO..=day),
        ("resolve_after", &mut p.resolve_after, Duration::ZERO..=7 * day),
        ("cooldown", &mut p.cooldown, Duration::ZERO..=7 * day),
        ("ack_link_ttl", &mut p.ack_link_ttl, minute..=90 * day),
        ("max_age", &mut p.max_age, minute..=30 * day),
    ] {
        if let Some(d) = t.duration(key, range) {
            *into = d;
        }
    }
    let given = if t.has("public_url") { t.url("public_url", None) } else { None };
    p.public_url = match given {
        Some(u) => u.as_str().trim_end_matches('/').to_string(),
        // Invalid (and recorded as a problem): the value does not matter.
        None if t.has("public_url") => link_base(server.listen),
        None => {
            let link = link_base(server.listen);
            if server.listen.ip().is_loopback() {
                warnings.push(format!(
                    "alerts.public_url is not set: acknowledge links point to {link}, which works only on \
                     this machine; set public_url to the address your team reaches the server at"
                ));
            }
            link
        }
    };
    if let Some(g) = group_by(t) {
        p.group_by = g;
    }
    p.ack_secret = t.secret("ack_secret");
    p.fallback = t.string("fallback");
    if let Some(lang) = t.string("language") {
        match lang.parse::<Lang>() {
            Ok(l) => p.language = l,
            Err(e) => t.problem("language", e),
        }
    }
    if let Some(mut statements) = t.table("holding_statements") {
        p.holding_statements = holding_statements(&mut statements);
    }
    p
}

/// `group_by = "watch" | "signal"`, if given and valid.
fn group_by(t: &mut Table<'_>) -> Option<GroupBy> {
    let given = t.string("group_by")?;
    let parsed = GroupBy::parse(&given);
    if parsed.is_none() {
        t.problem(
            "group_by",
            format!("unknown grouping {given:?}: expected \"watch\" (one incident per storm) or \"signal\" (one alert per signal kind)"),
        );
    }
    parsed
}

/// Where acknowledge links point when `public_url` is not set: the address the server listens
/// on, with a listen-on-all-interfaces address written as this machine's loopback.
fn link_base(listen: std::net::SocketAddr) -> String {
    let host = match listen.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}", listen.port())
}

/// `[alerts.holding_statements.<category|general>] <lang> = "template"`.
fn holding_statements(t: &mut Table<'_>) -> Templates {
    let mut templates = Templates::default();
    for category in t.keys() {
        let Some(mut langs) = t.table(&category) else { continue };
        for lang in langs.keys() {
            let Some(text) = langs.string(&lang) else { continue };
            if let Err(e) = templates.set(&category, &lang, &text) {
                langs.problem(&lang, e);
            }
        }
    }
    templates
}

const COMMON_KEYS: [&str; 11] = [
    "name",
    "kind",
    "min_severity",
    "watches",
    "escalation_only",
    "max_per_hour",
    "quiet_hours",
    "timezone",
    "escalate_after",
    "escalate_to",
    "group_by",
];

const KIND_KEYS: [(&str, &[&str]); 6] = [
    ("email", &["to"]),
    ("webhook", &["url", "url_env", "url_file", "secret_env", "secret_file"]),
    ("slack", &["url", "url_env", "url_file"]),
    ("teams", &["url", "url_env", "url_file"]),
    ("action", &["url", "url_env", "url_file", "secret_env", "secret_file", "body"]),
    ("folder", &["path"]),
];

/// `[[receivers]]`.
pub(super) fn read_all(
    entries: &[Value],
    watch_names: &[&str],
    default_group: GroupBy,
    base_dir: &Path,
    problems: &mut Problems,
    warnings: &mut Vec<String>,
) -> Vec<ReceiverSpec> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let mut t = Table::new(format!("receivers[{i}]"), entry, base_dir, problems);
        let name = t.required_string("name", "(a unique name for this receiver)");
        if let Some(n) = &name {
            if !seen.insert(n.clone()) {
                t.problem("name", format!("{n:?} is used twice"));
            }
        }
        let kind = receiver_kind(&mut t, warnings);
        let min_severity = match t.string("min_severity").as_deref().unwrap_or("warning") {
            "warning" => Severity::Warning,
            "critical" => Severity::Critical,
            other => {
                t.problem("min_severity", format!("unknown severity {other:?}: expected warning or critical"));
                Severity::Warning
            }
        };
        let watches = t.strings("watches").unwrap_or_default();
        for (j, w) in watches.iter().enumerate() {
            if !watch_names.contains(&w.as_str()) {
                t.problem(&format!("watches[{j}]"), format!("no watch is named {w:?}"));
            }
        }
        let max_per_hour = t.integer("max_per_hour", 1..=10_000).map_or(30, |n| n as u32);
        let quiet_hours = quiet(&mut t);
        let escalate_after = t.duration("escalate_after", Duration::from_secs(60)..=Duration::from_secs(7 * 24 * 3600));
        let escalate_to = t.strings("escalate_to").unwrap_or_default();
        if escalate_after.is_some() == escalate_to.is_empty() {
            t.problem("escalate_to", "give escalate_after and escalate_to together");
        }
        let escalation_only = t.bool("escalation_only").unwrap_or(false);
        let group_by = group_by(&mut t).unwrap_or(default_group);
        if let (Some(name), Some(kind)) = (name, kind) {
            let policy = ReceiverPolicy {
                name,
                min_severity,
                watches,
                escalation_only,
                max_per_hour,
                quiet_hours,
                escalate_after,
                escalate_to,
                group_by,
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

fn receiver_kind(t: &mut Table<'_>, warnings: &mut Vec<String>) -> Option<ReceiverKind> {
    let kind = t.string("kind").unwrap_or_default();
    let Some((_, allowed)) = KIND_KEYS.iter().find(|(k, _)| *k == kind) else {
        let known: Vec<&str> = KIND_KEYS.iter().map(|(k, _)| *k).collect();
        match crate::settings::did_you_mean(&kind, known.iter().copied()) {
            Some(near) => t.problem("kind", format!("unknown kind {kind:?}; did you mean {near:?}?")),
            None => t.problem("kind", format!("unknown kind {kind:?}: expected {}", known.join(", "))),
        }
        return None;
    };
    let keys: Vec<&str> = COMMON_KEYS.iter().chain(allowed.iter()).copied().collect();
    t.refuse_unknown(&keys, |key| {
        KIND_KEYS.iter().any(|(_, ks)| ks.contains(&key)).then(|| format!("not used by kind {kind}"))
    });
    let url = |t: &mut Table<'_>, warnings: &mut Vec<String>| -> Option<SecretOr> {
        let secret_url = t.secret("url");
        match (t.has("url"), secret_url) {
            (true, Some(_)) => {
                t.problem("url", "give url, url_env or url_file, only one");
                None
            }
            (true, None) => {
                let u = t.url("url", None)?;
                if kind == "slack" || kind == "teams" {
                    // These URLs are the credential: anyone who has one can post to the channel.
                    warnings.push(format!(
                        "{}: a {kind} webhook URL is a secret; keep it out of the file with url_env or url_file",
                        t.at("url")
                    ));
                }
                Some(SecretOr::Plain(u.to_string()))
            }
            (false, Some(s)) => Some(SecretOr::Secret(s)),
            (false, None) => {
                t.problem("url", format!("required for kind {kind} (url, url_env or url_file)"));
                None
            }
        }
    };
    match kind.as_str() {
        "email" => {
            let to = t.strings("to").unwrap_or_default();
            if to.is_empty() {
                t.problem("to", "give at least one address");
            }
            for (j, addr) in to.iter().enumerate() {
                if addr.parse::<lettre::message::Mailbox>().is_err() {
                    t.problem(&format!("to[{j}]"), format!("{addr:?} is not an email address"));
                }
            }
            Some(ReceiverKind::Email { to })
        }
        "webhook" => {
            let url = url(t, warnings);
            let secret = t.secret("secret");
            if secret.is_none() {
                t.problem("secret_env", "required: receivers verify the signature with it");
            }
            if let Some(SecretOr::Plain(u)) = &url {
                plain_http_warning(t, u, warnings);
            }
            Some(ReceiverKind::Webhook { url: url?, secret: secret? })
        }
        "slack" => Some(ReceiverKind::Slack { url: url(t, warnings)? }),
        "teams" => Some(ReceiverKind::Teams { url: url(t, warnings)? }),
        "folder" => match t.path_value("path") {
            Some(path) => Some(ReceiverKind::Folder { path }),
            None => {
                if !t.has("path") {
                    t.problem("path", "required for kind folder: the folder alerts are written to");
                }
                None
            }
        },
        _ => {
            let url = url(t, warnings);
            let secret = t.secret("secret");
            let body = match t.string("body").as_deref().map(ActionTemplate::parse).transpose() {
                Ok(body) => Some(body.unwrap_or_default()),
                Err(e) => {
                    t.problem("body", e);
                    None
                }
            };
            if let (Some(SecretOr::Plain(u)), Some(_)) = (&url, &secret) {
                plain_http_warning(t, u, warnings);
            }
            Some(ReceiverKind::Action { url: url?, body: body?, secret })
        }
    }
}

/// A signed request over plain http to another machine: the signature proves who sent it,
/// but anyone on the way reads the alert (and could replay it within its timestamp window).
fn plain_http_warning(t: &Table<'_>, url: &str, warnings: &mut Vec<String>) {
    if let Ok(u) = url::Url::parse(url) {
        if u.scheme() == "http" && !u.host_str().is_some_and(is_loopback) {
            warnings
                .push(format!("{}: {url} is plain http: alerts cross the network unencrypted; use https", t.at("url")));
        }
    }
}

fn quiet(t: &mut Table<'_>) -> Option<QuietHours> {
    let zone = match t.string("timezone") {
        None => chrono_tz::UTC,
        Some(name) => match name.parse::<chrono_tz::Tz>() {
            Ok(z) => z,
            Err(_) => {
                t.problem("timezone", format!("unknown time zone {name:?} (use a name like Europe/Amsterdam)"));
                return None;
            }
        },
    };
    let hours = t.string("quiet_hours")?;
    let parsed = hours.split_once('-').and_then(|(a, b)| {
        let t = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").ok();
        Some((t(a)?, t(b)?))
    });
    match parsed {
        Some((start, end)) if start != end => Some(QuietHours { start, end, tz: zone }),
        _ => {
            t.problem("quiet_hours", format!("{hours:?} is not a span like \"22:00-07:00\""));
            None
        }
    }
}
