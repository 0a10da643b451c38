//! The configuration file, parsed once into typed, validated structs.
//!
//! A TOML file (see `config/stormwatch.example.toml`), with environment overrides named
//! `STORMWATCH__SECTION__KEY`, becomes a tree of values (`tree`), and every section is read
//! from it with `settings::Table`: each key declared with its type and range, unknown keys
//! refused with the nearest known one suggested, and every problem collected with its field
//! path, so one `check` shows them all: `sources[2].interval: "5x" is not a duration (use
//! 90s, 5m, 1h)`. Code past this module never sees raw TOML or an `Option` that "can't be
//! None".

pub mod changes;
mod receivers;
mod tree;
mod watches;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::alert::{AlertPolicy, Routes};
use crate::detect::BlindSpotParams;
use crate::notify::{ReceiverKind, SmtpSpec};
use crate::secret::Environment;
use crate::server::ServerSpec;

pub(crate) use receivers::ReceiverSpec;
pub use watches::WatchSpec;

use crate::settings::{Problems, Table};
use crate::sources::SourceSpec;

/// The sections a configuration file may have.
const SECTIONS: [&str; 8] = ["storage", "blind_spots", "server", "smtp", "alerts", "sources", "watches", "receivers"];

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
    /// What is valid but probably not meant (`check` prints them; `run` logs them).
    pub warnings: Vec<String>,
    /// The `STORMWATCH__…` variables that changed a value of the file.
    pub overrides: Vec<String>,
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

    /// Reads and validates `path`, applying `STORMWATCH__…` overrides from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, &Environment::process())
    }

    /// Reads and validates `path` with overrides from `env` (an empty one: the file alone).
    pub fn load_with(path: &Path, env: &Environment) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.display().to_string(), problem: e.to_string() })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::read(&text, &base_dir, env)
    }

    /// Parses TOML text (relative paths resolve against `base_dir`), with process env overrides.
    pub fn from_toml_with_env(text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        Config::read(text, base_dir, &Environment::process())
    }

    /// Parses TOML text with overrides from `env`.
    pub fn read(text: &str, base_dir: &Path, env: &Environment) -> Result<Config, ConfigError> {
        let mut tree = tree::parse(text).map_err(|e| ConfigError::Invalid(vec![e]))?;
        let overrides = tree::apply_overrides(&mut tree, env);
        let mut config = Config::validate(&tree, base_dir)?;
        config.overrides = overrides;
        Ok(config)
    }

    fn validate(tree: &Value, base_dir: &Path) -> Result<Config, ConfigError> {
        let mut problems = Problems::default();
        let mut warnings = Vec::new();
        let (source_entries, watch_entries, receiver_entries) = {
            let mut root = Table::new("", tree, base_dir, &mut problems);
            root.refuse_unknown(&SECTIONS, |_| None);
            (root.tables("sources"), root.tables("watches"), root.tables("receivers"))
        };
        let null = Value::Null;
        let section = |key: &str| tree.get(key).unwrap_or(&null);
        let storage = storage(&mut Table::new("storage", section("storage"), base_dir, &mut problems), base_dir);
        let blind_spots = blind_spots(&mut Table::new("blind_spots", section("blind_spots"), base_dir, &mut problems));
        let sources = crate::sources::registry::read_all(&source_entries, base_dir, &mut problems);
        let source_names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
        let watches = watches::read_all(&watch_entries, &source_names, base_dir, &mut problems);
        let watch_names: Vec<&str> = watches.iter().map(|w| w.name.as_str()).collect();
        let server = receivers::server(&mut Table::new("server", section("server"), base_dir, &mut problems));
        let smtp = match section("smtp") {
            Value::Null => None,
            v => receivers::smtp(&mut Table::new("smtp", v, base_dir, &mut problems)),
        };
        let alerts = receivers::alerts(
            &mut Table::new("alerts", section("alerts"), base_dir, &mut problems),
            &server,
            &mut warnings,
        );
        let receivers = receivers::read_all(
            &receiver_entries,
            &watch_names,
            alerts.group_by,
            base_dir,
            &mut problems,
            &mut warnings,
        );
        cross_check(&watches, &receivers, smtp.is_some(), &alerts, &mut problems);
        if sources.is_empty() {
            warnings.push("no [[sources]]: nothing will be polled or ingested".into());
        }
        if watches.is_empty() {
            warnings.push("no [[watches]]: nothing will be detected".into());
        }
        if problems.is_empty() {
            Ok(Config {
                storage,
                blind_spots,
                sources,
                watches,
                server,
                smtp,
                alerts,
                receivers,
                warnings,
                overrides: Vec::new(),
            })
        } else {
            Err(ConfigError::Invalid(problems.into_vec()))
        }
    }
}

/// The configuration as `check` prints it: the file with the environment's overrides laid
/// over it, as TOML. Secrets are not in it (the file names where they are), and inline
/// Slack/Teams URLs, which are credentials, show their origin only. Keys not shown take their
/// documented defaults.
pub fn effective_toml(path: &Path, env: &Environment) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Read { path: path.display().to_string(), problem: e.to_string() })?;
    let mut tree = tree::parse(&text).map_err(|e| ConfigError::Invalid(vec![e]))?;
    let overrides = tree::apply_overrides(&mut tree, env);
    tree::redact_inline_urls(&mut tree);
    let body = toml::to_string_pretty(&tree).map_err(|e| ConfigError::Invalid(vec![e.to_string()]))?;
    let mut out = String::from("# Effective configuration: the file");
    if !overrides.is_empty() {
        out.push_str(&format!(" with {} from the environment", overrides.join(", ")));
    }
    out.push_str("; keys not shown take their defaults (docs/configuration.md).\n\n");
    out.push_str(&body);
    Ok(out)
}

/// `[storage]`.
fn storage(t: &mut Table<'_>, base_dir: &Path) -> StorageSpec {
    t.refuse_unknown(&["path", "seen_ttl", "history"], |_| None);
    let day = Duration::from_secs(24 * 3600);
    StorageSpec {
        path: t.path_value("path").unwrap_or_else(|| base_dir.join("stormwatch.db")),
        seen_ttl: t.duration("seen_ttl", Duration::from_secs(60)..=3650 * day).unwrap_or(7 * day),
        // At least a day: the journal is also what windows are recounted from after a crash.
        history: t.duration("history", day..=3650 * day).unwrap_or(90 * day),
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
fn blind_spots(t: &mut Table<'_>) -> BlindSpotParams {
    t.refuse_unknown(&["failures", "silent_polls", "silent_factor", "silent_min"], |_| None);
    let mut p = BlindSpotParams::default();
    if let Some(n) = t.integer("failures", 1..=1000) {
        p.failures = n as u32;
    }
    if let Some(n) = t.integer("silent_polls", 1..=1000) {
        p.silent_polls = n as u32;
    }
    if let Some(f) = t.number("silent_factor", 1.0..=1000.0) {
        p.silent_factor = f;
    }
    if let Some(d) = t.duration("silent_min", Duration::from_secs(60)..=Duration::from_secs(30 * 24 * 3600)) {
        p.silent_min = d;
    }
    p
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
            "receivers[1].url: \"ftp://example.org\": scheme \"ftp\" is not http or https",
            "receivers[1].to: not used by kind webhook",
            "receivers[1].secret_env: required",
            "receivers[2].body: unknown placeholder {company}",
            "receivers[3].kind: unknown kind \"pager\"",
        ] {
            assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
        }
    }

    #[test]
    fn grouping_is_per_receiver_with_alerts_as_the_default_and_a_typo_is_named() {
        let c = load(
            "[alerts]\ngroup_by = \"signal\"\n\
             [[receivers]]\nname = \"a\"\nkind = \"folder\"\npath = \"out\"\n\
             [[receivers]]\nname = \"b\"\nkind = \"folder\"\npath = \"out\"\ngroup_by = \"watch\"\n",
        )
        .unwrap();
        let groups: Vec<_> = c.receivers.iter().map(|r| r.policy.group_by).collect();
        assert_eq!(groups, [crate::alert::GroupBy::Signal, crate::alert::GroupBy::Watch]);
        let err = load("[alerts]\ngroup_by = \"storm\"\n").unwrap_err().to_string();
        assert!(err.contains("alerts.group_by: unknown grouping \"storm\""), "{err}");
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
            "blind_spots.failures: must be between 1 and 1000, got 0",
            "blind_spots.silent_factor: must be between 1 and 1000, got 0.5",
            "blind_spots.silent_min: \"soon\" is not a duration",
        ] {
            assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
        }
    }

    #[test]
    fn every_misspelt_key_bad_number_and_infinity_is_reported_at_once_with_its_path() {
        let err = load(
            r#"
            [storage]
            pth = "x.db"
            [server]
            listn = "127.0.0.1:9"
            ingest_max_bytes = 9223372036854775807
            [alerts]
            publc_url = "http://x"
            [blind_spots]
            silent_factor = inf
            [[sources]]
            name = "a"
            kind = "rss"
            url = "http://127.0.0.1:1/x"
            intervl = "5m"
            max_body_bytes = -1
            [[watches]]
            name = "w"
            terms = ["x"]
            trms = ["y"]
            thresholds = { k = nan, ring = "9999999d" }
            [[receivers]]
            name = "r"
            kind = "webhok"
            "#,
        )
        .unwrap_err()
        .to_string();
        for needle in [
            "storage.pth: unknown key; did you mean \"path\"?",
            "server.listn: unknown key; did you mean \"listen\"?",
            "server.ingest_max_bytes: must be between 1024 and 67108864, got 9223372036854775807",
            "alerts.publc_url: unknown key; did you mean \"public_url\"?",
            "blind_spots.silent_factor: must be between 1 and 1000, got inf",
            "sources[0].intervl: unknown key; did you mean \"interval\"?",
            "sources[0].max_body_bytes: expected a whole number",
            "watches[0].trms: unknown key; did you mean \"terms\"?",
            "watches[0].thresholds.k:",
            "watches[0].thresholds.ring: \"9999999d\"",
            "receivers[0].kind: unknown kind \"webhok\"; did you mean \"webhook\"?",
        ] {
            assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
        }
        assert!(!err.contains("null"), "an infinity is not a missing value:\n{err}");
        let syntax = load("[server]\ningest_max_bytes = 99999999999999999999\n").unwrap_err().to_string();
        assert!(syntax.starts_with("TOML syntax: line 2, column 20: "), "{syntax}");
    }

    #[test]
    fn a_section_written_as_one_table_instead_of_a_list_is_named() {
        let err = load("[sources]\nname = \"a\"\n").unwrap_err().to_string();
        assert!(err.contains("sources: expected a list of [[sources]] tables, got a table"), "{err}");
        let err = load("[storage]\nhistory = \"1h\"\n[smtp]\nport = 70000\n").unwrap_err().to_string();
        for needle in [
            "storage.history: \"1h\" is out of range: between 1d and 3650d",
            "smtp.port: must be between 1 and 65535",
            "smtp.host: required",
        ] {
            assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
        }
    }

    #[test]
    fn acknowledge_links_follow_listen_unless_public_url_is_set() {
        let c = load("[server]\nlisten = \"10.1.2.3:8080\"\n").unwrap();
        assert_eq!(c.alerts.public_url, "http://10.1.2.3:8080");
        assert!(!c.warnings.iter().any(|w| w.contains("public_url")), "{:?}", c.warnings);
        let c = load("[server]\nlisten = \"127.0.0.1:9999\"\n").unwrap();
        assert_eq!(c.alerts.public_url, "http://127.0.0.1:9999");
        assert!(c.warnings.iter().any(|w| w.contains("works only on this machine")), "{:?}", c.warnings);
        let c =
            load("[server]\nlisten = \"0.0.0.0:9000\"\n[alerts]\npublic_url = \"https://sw.example.org/\"\n").unwrap();
        assert_eq!(c.alerts.public_url, "https://sw.example.org");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = load("[storage]\npaht = \"x.db\"\n").unwrap_err().to_string();
        assert!(err.contains("paht"), "{err}");
    }
}
