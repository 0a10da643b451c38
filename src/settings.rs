//! Reading one table of the configuration file into typed values, every problem collected
//! with its field path. A leaf: `config` reads the file's sections with it, and each source
//! kind reads its own keys with it (`sources::<kind>::Spec::read`), so the keys of a kind are
//! declared and checked next to the code that uses them.
//!
//! ```
//! use std::path::Path;
//! use stormwatch::settings::{Problems, Table};
//! let value = serde_json::json!({"url": "ftp://x", "intervl": "5m"});
//! let mut problems = Problems::default();
//! let mut t = Table::new("sources[0]", &value, Path::new("/etc"), &mut problems);
//! assert!(t.url("url", None).is_none());
//! t.refuse_unknown(&["url", "interval"], |_| None);
//! assert_eq!(
//!     problems.into_vec(),
//!     [
//!         "sources[0].url: \"ftp://x\": scheme \"ftp\" is not http or https",
//!         "sources[0].intervl: unknown key; did you mean \"interval\"?",
//!     ]
//! );
//! ```

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};
use url::Url;

use crate::secret::SecretRef;

/// Problems found in a configuration, each `path: problem`; collected, not stopped at, so
/// one run of `check` shows them all.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(Vec<String>);

impl Problems {
    pub(crate) fn add(&mut self, path: impl Display, problem: impl Display) {
        self.0.push(format!("{path}: {problem}"));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

/// One table being read: its path in the file (`sources[2]`), its keys, and where problems go.
pub struct Table<'a> {
    path: String,
    map: Map<String, Value>,
    base_dir: &'a Path,
    problems: &'a mut Problems,
}

impl<'a> Table<'a> {
    /// `value` should be a table; anything else is recorded as a problem and read as empty.
    pub fn new(path: impl Into<String>, value: &Value, base_dir: &'a Path, problems: &'a mut Problems) -> Table<'a> {
        let path = path.into();
        let map = match value {
            Value::Object(m) => m.clone(),
            Value::Null => Map::new(),
            other => {
                problems.add(&path, format!("expected a table of key = value settings, got {}", kind_of(other)));
                Map::new()
            }
        };
        Table { path, map, base_dir, problems }
    }

    /// The path of a key in this table, for messages.
    pub(crate) fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Records a problem with `key`.
    pub(crate) fn problem(&mut self, key: &str, problem: impl Display) {
        let at = self.at(key);
        self.problems.add(at, problem);
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The keys this table has (sorted).
    pub(crate) fn keys(&self) -> Vec<String> {
        self.map.keys().cloned().collect()
    }

    pub(crate) fn raw(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// Every key not in `allowed` is a problem: `elsewhere(key)` may say where it belongs
    /// ("not used by kind rss"); otherwise the nearest allowed key is suggested.
    pub fn refuse_unknown(&mut self, allowed: &[&str], elsewhere: impl Fn(&str) -> Option<String>) {
        let unknown: Vec<String> = self.map.keys().filter(|k| !allowed.contains(&k.as_str())).cloned().collect();
        for key in unknown {
            let why = match elsewhere(&key) {
                Some(why) => why,
                None => match did_you_mean(&key, allowed.iter().copied()) {
                    Some(near) => format!("unknown key; did you mean {near:?}?"),
                    None => format!("unknown key (known here: {})", allowed.join(", ")),
                },
            };
            self.problem(&key, why);
        }
    }

    /// A string, trimmed; `None` when absent or not a string (recorded).
    pub(crate) fn string(&mut self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::String(s) => Some(s.trim().to_string()),
            other => {
                let got = kind_of(other);
                self.problem(key, format!("expected a string in quotes, got {got}"));
                None
            }
        }
    }

    /// A non-empty string the table must have; `why` completes "required …" ("for kind
    /// bluesky", "(a unique name for this source)").
    pub(crate) fn required_string(&mut self, key: &str, why: &str) -> Option<String> {
        match self.string(key) {
            Some(s) if !s.is_empty() => Some(s),
            Some(_) => {
                self.problem(key, format!("must not be empty: required {why}"));
                None
            }
            None if self.has(key) => None,
            None => {
                self.problem(key, format!("required {why}"));
                None
            }
        }
    }

    /// A list of strings, each trimmed; a single string is a list of one.
    pub(crate) fn strings(&mut self, key: &str) -> Option<Vec<String>> {
        match self.map.get(key)? {
            Value::String(s) => Some(vec![s.trim().to_string()]),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut bad = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.trim().to_string()),
                        other => bad.push((i, kind_of(other))),
                    }
                }
                for (i, got) in bad {
                    self.problem(&format!("{key}[{i}]"), format!("expected a string in quotes, got {got}"));
                }
                Some(out)
            }
            other => {
                let got = kind_of(other);
                self.problem(key, format!("expected a list of strings, such as [\"a\", \"b\"], got {got}"));
                None
            }
        }
    }

    /// true or false (also as text, since environment overrides arrive as text).
    pub(crate) fn bool(&mut self, key: &str) -> Option<bool> {
        match self.map.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.trim() == "true" => Some(true),
            Value::String(s) if s.trim() == "false" => Some(false),
            other => {
                let got = shown(other);
                self.problem(key, format!("expected true or false, got {got}"));
                None
            }
        }
    }

    /// The entries of an array of tables (`[[sources]]`), each to be read as its own table;
    /// empty when absent. A single `[sources]` table instead is the common mistake named here.
    pub(crate) fn tables(&mut self, key: &str) -> Vec<Value> {
        match self.map.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(other) => {
                let got = kind_of(other);
                self.problem(key, format!("expected a list of [[{key}]] tables, got {got}"));
                Vec::new()
            }
        }
    }

    /// A whole number within `range` (inclusive); numbers written as strings are read too, since
    /// environment overrides arrive as text.
    pub(crate) fn integer(&mut self, key: &str, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
        let value = self.map.get(key)?;
        let n = match value {
            Value::Number(n) => {
                n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64))
            }
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if range.contains(&n) => Some(n),
            Some(n) => {
                self.problem(key, format!("must be between {} and {}, got {n}", range.start(), range.end()));
                None
            }
            None => {
                let got = shown(value);
                self.problem(
                    key,
                    format!("expected a whole number between {} and {}, got {got}", range.start(), range.end()),
                );
                None
            }
        }
    }

    /// A number within `range` (inclusive).
    pub(crate) fn number(&mut self, key: &str, range: std::ops::RangeInclusive<f64>) -> Option<f64> {
        let value = self.map.get(key)?;
        let x = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match x {
            Some(x) if x.is_finite() && range.contains(&x) => Some(x),
            Some(x) => {
                self.problem(key, format!("must be between {} and {}, got {x}", range.start(), range.end()));
                None
            }
            None => {
                let got = shown(value);
                self.problem(
                    key,
                    format!("expected a number between {} and {}, got {got}", range.start(), range.end()),
                );
                None
            }
        }
    }

    /// A duration ("90s", "5m", "1h", "7d") within `range` (inclusive).
    pub(crate) fn duration(&mut self, key: &str, range: std::ops::RangeInclusive<Duration>) -> Option<Duration> {
        let text = match self.map.get(key)? {
            Value::String(s) => s.trim().to_string(),
            other => {
                let got = shown(other);
                self.problem(
                    key,
                    format!("expected a duration in quotes, such as \"90s\", \"5m\" or \"1h\", got {got}"),
                );
                return None;
            }
        };
        match humantime::parse_duration(&text) {
            Ok(d) if d.is_zero() && !range.contains(&d) => {
                self.problem(key, format!("{text:?} must be longer than zero"));
                None
            }
            Ok(d) if range.contains(&d) => Some(d),
            Ok(_) => {
                let (lo, hi) = (human(*range.start()), human(*range.end()));
                self.problem(key, format!("{text:?} is out of range: between {lo} and {hi}"));
                None
            }
            Err(_) => {
                self.problem(key, format!("{text:?} is not a duration (use 90s, 5m, 1h, 7d)"));
                None
            }
        }
    }

    /// An http(s) URL; `default` when the key is absent (absent with no default is recorded).
    pub fn url(&mut self, key: &str, default: Option<&str>) -> Option<Url> {
        let text = match (self.string(key), default) {
            (Some(u), _) => u,
            (None, _) if self.has(key) => return None,
            (None, Some(d)) => d.to_string(),
            (None, None) => {
                self.problem(key, "required");
                return None;
            }
        };
        match Url::parse(&text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
            Ok(u) => {
                self.problem(key, format!("{text:?}: scheme {:?} is not http or https", u.scheme()));
                None
            }
            Err(e) => {
                self.problem(key, format!("{text:?} is not a URL: {e}"));
                None
            }
        }
    }

    /// An http(s) URL the table must have; `why` completes "required …" ("for kind rss").
    pub(crate) fn required_url(&mut self, key: &str, why: &str) -> Option<Url> {
        if !self.has(key) {
            self.problem(key, format!("required {why}"));
            return None;
        }
        self.url(key, None)
    }

    /// A file or folder path, relative to the configuration file's folder.
    pub(crate) fn path_value(&mut self, key: &str) -> Option<PathBuf> {
        let p = self.string(key)?;
        if p.is_empty() {
            self.problem(key, "must not be empty");
            return None;
        }
        Some(self.base_dir.join(p))
    }

    /// A secret given as `<base>_env` (an environment variable) or `<base>_file` (a file,
    /// relative to the configuration's folder); both at once is a mistake.
    pub(crate) fn secret(&mut self, base: &str) -> Option<SecretRef> {
        let (env_key, file_key) = (format!("{base}_env"), format!("{base}_file"));
        let env = self.string(&env_key);
        let file = self.string(&file_key);
        match (env, file) {
            (Some(_), Some(_)) => {
                self.problem(&env_key, format!("give {env_key} or {file_key}, not both"));
                None
            }
            (Some(e), None) if e.is_empty() => {
                self.problem(&env_key, "must name an environment variable");
                None
            }
            (Some(e), None) => Some(SecretRef::Env(e)),
            (None, Some(f)) if f.is_empty() => {
                self.problem(&file_key, "must name a file");
                None
            }
            (None, Some(f)) => Some(SecretRef::File(self.base_dir.join(f))),
            (None, None) => None,
        }
    }

    /// A nested table (`[sources.fields]`), read with the same problems; `None` when absent.
    pub(crate) fn table(&mut self, key: &str) -> Option<Table<'_>> {
        let value = self.map.get(key)?.clone();
        let path = self.at(key);
        Some(Table::new(path, &value, self.base_dir, self.problems))
    }
}

/// The nearest of `candidates` to a misspelt `key`, if it is near enough to be a typo.
pub(crate) fn did_you_mean<'k>(key: &str, candidates: impl Iterator<Item = &'k str>) -> Option<&'k str> {
    candidates
        .map(|c| (edit_distance(key, c), c))
        .filter(|(d, _)| *d <= (key.chars().count() / 4).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb)).min(above + 1).min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

/// A value as the file wrote it, for messages (strings quoted, tables and lists by kind).
fn shown(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        other => kind_of(other).to_string(),
    }
}

/// A duration as the file writes one: "90d", "1h", "5m", "30s".
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s > 0 && s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s > 0 && s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s > 0 && s.is_multiple_of(60) => format!("{}m", s / 60),
        _ if d.subsec_nanos() == 0 => format!("{s}s"),
        _ => humantime::format_duration(d).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read<T>(value: Value, f: impl FnOnce(&mut Table<'_>) -> T) -> (T, Vec<String>) {
        let mut problems = Problems::default();
        let mut t = Table::new("t", &value, Path::new("/etc/sw"), &mut problems);
        let out = f(&mut t);
        (out, problems.into_vec())
    }

    #[test]
    fn each_getter_names_the_key_and_what_was_expected() {
        let (_, problems) =
            read(json!({"a": 5, "b": "x", "c": "-3", "d": true, "e": "0s", "f": "9999999d", "g": [1, "y"]}), |t| {
                t.string("a");
                t.integer("b", 1..=10);
                t.integer("c", 1..=10);
                t.number("d", 0.0..=1.0);
                t.duration("e", Duration::from_secs(1)..=Duration::from_secs(3600));
                t.duration("f", Duration::from_secs(1)..=Duration::from_secs(3600));
                t.strings("g");
            });
        assert_eq!(
            problems,
            [
                "t.a: expected a string in quotes, got a number",
                "t.b: expected a whole number between 1 and 10, got \"x\"",
                "t.c: expected a whole number between 1 and 10, got \"-3\"",
                "t.d: expected a number between 0 and 1, got true/false",
                "t.e: \"0s\" must be longer than zero",
                "t.f: \"9999999d\" is out of range: between 1s and 1h",
                "t.g[0]: expected a string in quotes, got a number",
            ]
        );
    }

    #[test]
    fn secrets_paths_and_unknown_keys() {
        let (got, problems) = read(json!({"token_file": "tok", "pw_env": "A", "pw_file": "b", "urll": "x"}), |t| {
            let token = t.secret("token");
            let pw = t.secret("pw");
            t.refuse_unknown(&["token_file", "pw_env", "pw_file", "url"], |_| None);
            (token, pw)
        });
        assert_eq!(got, (Some(SecretRef::File(PathBuf::from("/etc/sw/tok"))), None));
        assert_eq!(
            problems,
            ["t.pw_env: give pw_env or pw_file, not both", "t.urll: unknown key; did you mean \"url\"?"]
        );
        assert_eq!(did_you_mean("min_mentons", ["min_mentions", "k"].into_iter()), Some("min_mentions"));
        assert_eq!(did_you_mean("zzz", ["min_mentions"].into_iter()), None);
    }
}
