//! The configuration file, parsed once into typed, validated structs.
//!
//! A TOML file (see `config/stormwatch.example.toml`), with environment overrides named
//! `STORMWATCH__SECTION__KEY`, is read by the `config` crate into the `raw` structs (every
//! key declared, unknown keys refused), then validated into the types below. Code past this
//! module never sees raw TOML or an `Option` that "can't be None". Every error names the
//! field path and the problem: `sources[2].interval: "5x" is not a duration (use 90s, 5m, 1h)`.

pub mod changes;
mod raw;
mod receivers;
mod watches;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::alert::{AlertPolicy, Routes};
use crate::detect::BlindSpotParams;
use crate::notify::{ReceiverKind, SmtpSpec};
use crate::server::ServerSpec;

pub(crate) use receivers::ReceiverSpec;
pub use watches::WatchSpec;

use crate::settings::Problems;
use crate::sources::SourceSpec;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub storage: StorageSpec,
    /// When a failing or silent source counts as a blind spot.
    pub blind_spots: BlindSpotParams,
    pub sources: Vec<SourceSpec>,
    pub watches: Vec<WatchSpec>,
    /// The HTTP server (health, metrics, acknowledge links).
    pub server: ServerSpec,
    /// The mail relay, needed by email receivers.
    pub smtp: Option<SmtpSpec>,
    /// How episodes become notifications.
    pub alerts: AlertPolicy,
    pub receivers: Vec<ReceiverSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StorageSpec {
    /// The SQLite file; created if missing.
    pub path: PathBuf,
    /// How long a seen mention id is remembered (dedup window).
    pub seen_ttl: Duration,
    /// How long counted mentions are kept for `stormwatch report`.
    pub history: Duration,
}

/// Problems found in a configuration, each with its field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {problem}")]
    Read { path: String, problem: String },
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

impl Config {
    /// Who hears about which watch: the receivers' policies and each watch's own list.
    pub(crate) fn routes(&self) -> Routes {
        let explicit = self
            .watches
            .iter()
            .filter(|w| !w.receivers.is_empty())
            .map(|w| (w.name.clone(), w.receivers.clone()))
            .collect();
        Routes::new(self.receivers.iter().map(|r| r.policy.clone()).collect(), explicit)
    }

    /// Which watches a mention belongs to, for every watch of this config.
    pub fn matcher(&self) -> crate::sources::matching::Matcher {
        crate::sources::matching::Matcher::new(self.watches.iter().map(WatchSpec::terms))
    }

    /// Each receiver's name and kind, in config order: what `notify::Channels` is built from.
    pub fn channels(&self) -> impl Iterator<Item = (&str, &ReceiverKind)> {
        self.receivers.iter().map(|r| (r.name(), &r.kind))
    }

    /// Reads and validates `path`, applying `STORMWATCH__…` environment overrides.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.display().to_string(), problem: e.to_string() })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::from_toml_with_env(&text, &base_dir)
    }

    /// Parses TOML text (relative paths resolve against `base_dir`), with env overrides.
    pub fn from_toml_with_env(text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        let built = ::config::Config::builder()
            .add_source(::config::File::from_str(text, ::config::FileFormat::Toml))
            .add_source(::config::Environment::with_prefix("STORMWATCH").prefix_separator("__").separator("__"))
            .build()
            .map_err(|e| ConfigError::Invalid(vec![e.to_string()]))?;
        let raw: raw::RawConfig = built.try_deserialize().map_err(|e| ConfigError::Invalid(vec![e.to_string()]))?;
        Config::validate(raw, base_dir)
    }

    fn validate(raw: raw::RawConfig, base_dir: &Path) -> Result<Config, ConfigError> {
        let mut problems = Problems::default();
        let storage = StorageSpec {
            path: raw
                .storage
                .as_ref()
                .and_then(|s| s.path.clone())
                .map(|p| base_dir.join(p))
                .unwrap_or_else(|| base_dir.join("stormwatch.db")),
            seen_ttl: raw
                .storage
                .as_ref()
                .and_then(|s| s.seen_ttl.as_deref())
                .and_then(|d| duration("storage.seen_ttl", d, &mut problems))
                .unwrap_or(Duration::from_secs(7 * 24 * 3600)),
            history: raw
                .storage
                .as_ref()
                .and_then(|s| s.history.as_deref())
                .and_then(|d| duration("storage.history", d, &mut problems))
                .unwrap_or(Duration::from_secs(90 * 24 * 3600)),
        };
        if storage.history < Duration::from_secs(24 * 3600) {
            // The journal is also what windows are recounted from after a crash.
            problems.add("storage.history", "at least 1d: the mention journal must outlast a restart");
        }
        let blind_spots = blind_spots(raw.blind_spots.as_ref(), &mut problems);
        let sources = crate::sources::registry::read_all(&raw.sources, base_dir, &mut problems);
        let source_names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
        let watches = watches::validate(raw.watches, &source_names, &mut problems);
        let watch_names: Vec<&str> = watches.iter().map(|w| w.name.as_str()).collect();
        let server = receivers::server(raw.server, base_dir, &mut problems);
        let smtp = receivers::smtp(raw.smtp, base_dir, &mut problems);
        let alerts = receivers::alerts(raw.alerts, base_dir, &mut problems);
        let receivers = receivers::receivers(raw.receivers, &watch_names, base_dir, &mut problems);
        cross_check(&watches, &receivers, smtp.is_some(), &alerts, &mut problems);
        if problems.is_empty() {
            Ok(Config { storage, blind_spots, sources, watches, server, smtp, alerts, receivers })
        } else {
            Err(ConfigError::Invalid(problems.into_vec()))
        }
    }
}

/// What only the whole file can tell: names that point at receivers, and a relay for email.
fn cross_check(
    watches: &[WatchSpec],
    receivers: &[ReceiverSpec],
    have_smtp: bool,
    alerts: &AlertPolicy,
    problems: &mut Problems,
) {
    let names: Vec<&str> = receivers.iter().map(ReceiverSpec::name).collect();
    for (i, w) in watches.iter().enumerate() {
        for (j, r) in w.receivers.iter().enumerate() {
            if !names.contains(&r.as_str()) {
                problems.add(format!("watches[{i}].receivers[{j}]"), format!("no receiver is named {r:?}"));
            }
        }
    }
    if let Some(f) = &alerts.fallback {
        if !names.contains(&f.as_str()) {
            problems.add("alerts.fallback", format!("no receiver is named {f:?}"));
        }
    }
    if !have_smtp {
        if let Some(i) = receivers.iter().position(|r| matches!(r.kind, ReceiverKind::Email { .. })) {
            problems.add(format!("receivers[{i}]"), "an email receiver needs an [smtp] section");
        }
    }
}

/// `[blind_spots]`, each key optional (defaults in `BlindSpotParams::default`).
fn blind_spots(raw: Option<&raw::RawBlindSpots>, problems: &mut Problems) -> BlindSpotParams {
    let mut p = BlindSpotParams::default();
    let Some(raw) = raw else { return p };
    let mut count = |key: &str, v: Option<i64>, into: &mut u32| match v {
        Some(n) if (1..=1000).contains(&n) => *into = n as u32,
        Some(n) => problems.add(format!("blind_spots.{key}"), format!("must be between 1 and 1000 polls, got {n}")),
        None => {}
    };
    count("failures", raw.failures, &mut p.failures);
    count("silent_polls", raw.silent_polls, &mut p.silent_polls);
    match raw.silent_factor {
        Some(f) if (1.0..=1000.0).contains(&f) => p.silent_factor = f,
        Some(f) => problems.add("blind_spots.silent_factor", format!("must be between 1 and 1000, got {f}")),
        None => {}
    }
    if let Some(d) = raw.silent_min.as_deref().and_then(|d| duration("blind_spots.silent_min", d, problems)) {
        p.silent_min = d;
    }
    p
}

/// Parses a duration string ("90s", "5m", "1h", "7d") or records the problem.
pub(crate) fn duration(path: &str, text: &str, problems: &mut Problems) -> Option<Duration> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d > Duration::ZERO => Some(d),
        Ok(_) => {
            problems.add(path, format!("{text:?} must be longer than zero"));
            None
        }
        Err(_) => {
            problems.add(path, format!("{text:?} is not a duration (use 90s, 5m, 1h, 7d)"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_with_env(text, Path::new("/etc/stormwatch"))
    }

    #[test]
    fn the_design_example_loads() {
        let c = load(include_str!("../../config/stormwatch.example.toml")).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.sources.len() >= 2 && !c.watches.is_empty());
        assert_eq!(c.storage.path, Path::new("/etc/stormwatch/stormwatch.db"));
    }

    #[test]
    fn every_problem_is_reported_with_its_field_path() {
        let err = load(
            r#"
            [[sources]]
            name = "news"
            kind = "rss"
            interval = "5x"
            timeout = "0s"

            [[sources]]
            name = "news"
            kind = "telegraph"

            [[watches]]
            name = "w"
            terms = []
            sources = ["nope"]
            "#,
        )
        .unwrap_err()
        .to_string();
        for needle in [
            "sources[0].url: required for kind rss",
            "sources[0].interval: \"5x\" is not a duration",
            "sources[0].timeout: \"0s\" must be longer than zero",
            "sources[1].name: \"news\" is used by sources[0] too",
            "sources[1].kind: unknown kind \"telegraph\"",
            "watches[0].terms: give at least one term",
            "watches[0].sources[0]: no source is named \"nope\"",
        ] {
            assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
        }
    }

    #[test]
    fn receiver_mistakes_name_their_path() {
        let err = load(
            r#"
            [smtp]
            host = "mail.example.org"
            tls = "none"
            from = "stormwatch@example.org"

            [alerts]
            fallback = "nobody"
            cooldown = "soon"

            [[watches]]
            name = "w"
            terms = ["w"]
            receivers = ["team", "ghost"]

            [[receivers]]
            name = "team"
            kind = "email"
            to = ["not an address"]
            quiet_hours = "22-7"
            timezone = "Mars/Olympus"
            escalate_after = "15m"

            [[receivers]]
            name = "hook"
            kind = "webhook"
            url = "ftp://example.org"
            to = ["x@example.org"]

            [[receivers]]
            name = "act"
            kind = "action"
            url = "https://example.org/pause"
            body = '{"x": {company}}'

            [[receivers]]
            name = "pager"
            kind = "pager"
            "#,
        )
        .unwrap_err()
        .to_string();
        for needle in [
            "smtp.tls: \"none\" would send mail and the password unencrypted to mail.example.org",
            "alerts.cooldown: \"soon\" is not a duration",
            "alerts.fallback: no receiver is named \"nobody\"",
            "watches[0].receivers[1]: no receiver is named \"ghost\"",
            "receivers[0].to[0]: \"not an address\" is not an email address",
            "receivers[0].timezone: unknown time zone \"Mars/Olympus\"",
            "receivers[0].escalate_to: give escalate_after and escalate_to together",
            "receivers[1].url: \"ftp://example.org\" is not an http(s) URL",
            "receivers[1].to: not used by kind webhook",
            "receivers[1].secret_env: required",
            "receivers[2].body: unknown placeholder {company}",
            "receivers[3].kind: unknown kind \"pager\"",
        ] {
            assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
        }
    }

    #[test]
    fn the_printed_config_shows_no_secret() {
        let c = load(
            "[[receivers]]\nname = \"s\"\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T0/B0/XYZSECRET\"\n\
             [[receivers]]\nname = \"w\"\nkind = \"webhook\"\nurl = \"https://h.example.org/x\"\nsecret_env = \"HOOK_KEY\"\n",
        )
        .unwrap();
        let printed = format!("{c:#?}");
        assert!(!printed.contains("XYZSECRET") && printed.contains("https://hooks.slack.com/…"), "{printed}");
        assert!(printed.contains("env HOOK_KEY"), "where the secret is, not what it is: {printed}");
    }

    #[test]
    fn plain_smtp_to_loopback_is_fine_and_defaults_hold() {
        let c = load("[smtp]\nhost = \"127.0.0.1\"\ntls = \"none\"\nfrom = \"sw@example.org\"\n").unwrap();
        let smtp = c.smtp.unwrap();
        assert_eq!((smtp.port, smtp.tls), (25, crate::notify::SmtpTls::None));
        assert_eq!(c.alerts.repeat_interval, Duration::from_secs(1800));
        assert!(c.server.listen.ip().is_loopback(), "the server listens on loopback unless told otherwise");
        let c = load("[smtp]\nhost = \"mail.example.org\"\nfrom = \"sw@example.org\"\n").unwrap();
        assert_eq!(c.smtp.map(|s| (s.port, s.tls)), Some((587, crate::notify::SmtpTls::StartTls)));
    }

    #[test]
    fn thresholds_override_the_preset_and_mistakes_name_their_path() {
        let watch = |thresholds: &str| {
            format!(
                "[[watches]]\nname = \"w\"\nterms = [\"w\"]\npreset = \"strict\"\n[watches.thresholds]\n{thresholds}\n"
            )
        };
        let c = load(&watch("negative_share = 0.3\nnegativity_window = \"10m\"\nmin_mentions = 12")).unwrap();
        let d = &c.watches[0].detection;
        assert_eq!(c.watches[0].preset, crate::detect::Preset::Strict);
        assert_eq!((d.negative_share, d.negativity_window.as_secs(), d.min_mentions), (0.3, 600, 12));
        assert_eq!(d.spec.k, crate::detect::Preset::Strict.spec().k, "the rest is the preset's");
        let err = load(&watch("negative_share = 1.5\nmin_mentons = 3\nshort = 15")).unwrap_err().to_string();
        for needle in [
            "watches[0].thresholds.negative_share: must be between 0 and 1, got 1.5",
            "watches[0].thresholds.min_mentons: unknown threshold \"min_mentons\"; did you mean \"min_mentions\"?",
            "watches[0].thresholds.short: expected a duration in quotes",
        ] {
            assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
        }
        let err = load("[[watches]]\nname = \"w\"\nterms = [\"w\"]\npreset = \"loud\"\n").unwrap_err().to_string();
        assert!(err.contains("watches[0].preset: unknown preset \"loud\""), "{err}");
    }

    #[test]
    fn blind_spot_thresholds_are_read_and_checked() {
        let c = load("[blind_spots]\nfailures = 5\nsilent_min = \"6h\"\n").unwrap();
        assert_eq!((c.blind_spots.failures, c.blind_spots.silent_min.as_secs()), (5, 6 * 3600));
        assert_eq!(c.blind_spots.silent_polls, BlindSpotParams::default().silent_polls, "the rest keeps its default");
        let err =
            load("[blind_spots]\nfailures = 0\nsilent_factor = 0.5\nsilent_min = \"soon\"\n").unwrap_err().to_string();
        for needle in [
            "blind_spots.failures: must be between 1 and 1000 polls, got 0",
            "blind_spots.silent_factor: must be between 1 and 1000, got 0.5",
            "blind_spots.silent_min: \"soon\" is not a duration",
        ] {
            assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = load("[storage]\npaht = \"x.db\"\n").unwrap_err().to_string();
        assert!(err.contains("paht"), "{err}");
    }
}
