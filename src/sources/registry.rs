//! `[[sources]]`: the settings every source has (name, interval, backfill, limits), and the
//! `kinds!` registry (invoked in `sources/mod.rs`), which declares each kind's module and
//! dispatches to it. Each kind reads its own keys (`<kind>.rs`, `Spec`, which fills in
//! [`Settings`]). Adding a kind is one file and one line in `kinds!`.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::{Kind, SourceError, SourceKind, KINDS};
use crate::secret::Environment;
use crate::settings::{Problems, Table};

/// Bodies larger than this are refused by default (stop reading, don't buffer it).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;

/// What a kind's file provides besides its [`Kind`]: its settings, read from its own keys.
pub trait Settings: Sized {
    /// The keys of a `[[sources]]` entry this kind reads, besides the common ones.
    const KEYS: &'static [&'static str];
    /// Reads the kind's keys; every problem is recorded in `t` with its path.
    fn read(t: &mut Table<'_>) -> Option<Self>;
    /// The kind, ready to poll. Secrets are read here, once, from `env`.
    fn build(&self, env: &Environment) -> Result<Box<dyn Kind>, SourceError>;
    /// The host polls are limited by (`poll::PER_HOST` at a time).
    fn host(&self) -> String;
}

/// The registry: a kind's name in the config, its variant, and its module (declared here).
macro_rules! kinds {
    ($($name:literal => $variant:ident($module:ident)),* $(,)?) => {
        $(pub mod $module;)*

        /// A source's kind, with that kind's own settings.
        #[derive(Debug, Clone, PartialEq)]
        pub enum SourceKind {
            $($variant($module::Spec),)*
        }

        /// Every kind's name and keys, in registry order.
        const KINDS: &[(&str, &[&str])] = &[$(($name, <$module::Spec as registry::Settings>::KEYS),)*];

        impl SourceKind {
            /// The kind's name as the config writes it.
            pub fn name(&self) -> &'static str {
                match self {
                    $(SourceKind::$variant(_) => $name,)*
                }
            }

            /// The kind, ready to poll (secrets read from `env`).
            pub fn build(&self, env: &crate::secret::Environment) -> Result<Box<dyn Kind>, SourceError> {
                match self {
                    $(SourceKind::$variant(spec) => spec.build(env),)*
                }
            }

            /// The host polls are limited by.
            pub(crate) fn host(&self) -> String {
                match self {
                    $(SourceKind::$variant(spec) => spec.host(),)*
                }
            }

            /// `None` for a kind that is not registered.
            fn read_kind(kind: &str, t: &mut crate::settings::Table<'_>) -> Option<Option<SourceKind>> {
                match kind {
                    $($name => Some(<$module::Spec as registry::Settings>::read(t).map(SourceKind::$variant)),)*
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use kinds;

impl SourceKind {
    /// Whether the daemon polls it (a `push` source is fed through the ingest route).
    pub(crate) fn is_polled(&self) -> bool {
        !matches!(self, SourceKind::Push(_))
    }
}

/// One configured source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSpec {
    pub name: String,
    /// Time between polls (a little jitter is added).
    pub interval: Duration,
    /// How far back the first poll pages, to seed the baseline.
    pub backfill: Duration,
    pub max_body_bytes: u64,
    /// How long one request may take, connecting and reading the whole body.
    pub timeout: Duration,
    pub kind: SourceKind,
}

/// The keys every source takes.
const COMMON: [&str; 6] = ["name", "kind", "interval", "backfill", "max_body_bytes", "timeout"];

const SECOND: Duration = Duration::from_secs(1);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Reads every `[[sources]]` entry; names must be unique.
pub(crate) fn read_all(entries: &[Value], base_dir: &Path, problems: &mut Problems) -> Vec<SourceSpec> {
    let mut out: Vec<SourceSpec> = Vec::new();
    let mut names: Vec<(String, usize)> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let mut t = Table::new(format!("sources[{i}]"), entry, base_dir, problems);
        let name = t.required_string("name", "(a unique name for this source)");
        if let Some(name) = &name {
            if let Some((_, j)) = names.iter().find(|(n, _)| n == name) {
                t.problem("name", format!("{name:?} is used by sources[{j}] too"));
            }
            names.push((name.clone(), i));
        }
        if let (Some(spec), Some(name)) = (read(&mut t), name) {
            out.push(SourceSpec { name, ..spec });
        }
    }
    out
}

/// Everything but the name (read by the caller, which checks it is unique).
fn read(t: &mut Table<'_>) -> Option<SourceSpec> {
    let interval = t.duration("interval", 5 * SECOND..=DAY);
    let interval = if t.has("interval") { interval } else { Some(Duration::from_secs(60)) };
    let backfill = if t.has("backfill") { t.duration("backfill", SECOND..=90 * DAY) } else { Some(DAY) };
    let max_body_bytes = if t.has("max_body_bytes") {
        t.integer("max_body_bytes", 1024..=1 << 30)
    } else {
        Some(DEFAULT_MAX_BODY_BYTES)
    };
    let timeout =
        if t.has("timeout") { t.duration("timeout", SECOND..=600 * SECOND) } else { Some(Duration::from_secs(30)) };
    let names = || KINDS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    let kind_name = match t.string("kind") {
        Some(k) => k,
        None if t.has("kind") => return None,
        None => {
            t.problem("kind", format!("required: one of {}", names()));
            return None;
        }
    };
    let Some((_, keys)) = KINDS.iter().find(|(n, _)| *n == kind_name) else {
        t.problem("kind", format!("unknown kind {kind_name:?}: expected one of {}", names()));
        return None;
    };
    let allowed: Vec<&str> = COMMON.iter().chain(keys.iter()).copied().collect();
    t.refuse_unknown(&allowed, |key| {
        if KINDS.iter().any(|(_, keys)| keys.contains(&key)) {
            return Some(format!("not used by kind {kind_name}"));
        }
        // A typo of another kind's key is still worth naming.
        let every = COMMON.iter().chain(KINDS.iter().flat_map(|(_, keys)| keys.iter())).copied();
        crate::settings::did_you_mean(key, every).map(|near| format!("unknown key; did you mean {near:?}?"))
    });
    let kind = SourceKind::read_kind(&kind_name, t).flatten();
    Some(SourceSpec {
        name: String::new(),
        interval: interval?,
        backfill: backfill?,
        max_body_bytes: max_body_bytes?,
        timeout: timeout?,
        kind: kind?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(entries: Value) -> (Vec<SourceSpec>, Vec<String>) {
        let mut problems = Problems::default();
        let entries = entries.as_array().cloned().unwrap_or_default();
        let specs = read_all(&entries, Path::new("/etc/sw"), &mut problems);
        (specs, problems.into_vec())
    }

    #[test]
    fn common_keys_have_defaults_and_ranges() {
        let (specs, problems) = read(json!([{"name": "news", "kind": "rss", "url": "https://example.org/feed"}]));
        assert!(problems.is_empty(), "{problems:?}");
        let s = &specs[0];
        assert_eq!((s.interval.as_secs(), s.backfill.as_secs(), s.timeout.as_secs()), (60, 86_400, 30));
        assert_eq!((s.max_body_bytes, s.kind.name()), (DEFAULT_MAX_BODY_BYTES, "rss"));
        let (_, problems) =
            read(json!([{"name": "a", "kind": "rss", "url": "https://x.example", "backfill": "100000000d",
            "interval": "1s", "max_body_bytes": 10, "tags": ["x"], "querry": "y"}]));
        assert_eq!(
            problems,
            [
                "sources[0].interval: \"1s\" is out of range: between 5s and 1d",
                "sources[0].backfill: \"100000000d\" is out of range: between 1s and 90d",
                "sources[0].max_body_bytes: must be between 1024 and 1073741824, got 10",
                "sources[0].querry: unknown key; did you mean \"query\"?",
                "sources[0].tags: not used by kind rss",
            ]
        );
    }
}
