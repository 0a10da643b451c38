//! Secrets named in the configuration: a leaf every step that needs a credential reads from.
//!
//! The configuration holds *where* a secret is (`*_env`, an environment variable; `*_file`, a
//! file), never the value, so a printed or logged configuration cannot leak one. Values are
//! read once, when the part that needs them is built, from an [`Environment`]: the process
//! environment in the daemon, a fixed set in tests (which must not change the process
//! environment under tests running in parallel).
//!
//! ```
//! use stormwatch::secret::{Environment, SecretRef};
//! let env = Environment::fixed([("HOOK_KEY", "s3cret")]);
//! assert_eq!(SecretRef::Env("HOOK_KEY".into()).read(&env).ok().as_deref(), Some("s3cret"));
//! assert!(SecretRef::Env("OTHER".into()).read(&env).is_err());
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Where `*_env` secrets are looked up.
#[derive(Clone, Default)]
pub struct Environment {
    /// `None`: the process environment.
    fixed: Option<Arc<BTreeMap<String, String>>>,
}

impl Environment {
    /// The process environment, read when a secret is read.
    pub fn process() -> Environment {
        Environment { fixed: None }
    }

    /// Only these variables (tests; nothing is read from the process).
    pub fn fixed<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Environment {
        Environment { fixed: Some(Arc::new(vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect())) }
    }

    /// Every variable whose name starts with `prefix`, sorted by name (configuration
    /// overrides). Names or values that are not UTF-8 are skipped: no key could be spelt so.
    pub(crate) fn with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = match &self.fixed {
            None => std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .filter(|(k, _)| k.starts_with(prefix))
                .collect(),
            Some(vars) => {
                vars.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.clone(), v.clone())).collect()
            }
        };
        vars.sort();
        vars
    }

    fn var(&self, name: &str) -> Option<String> {
        match &self.fixed {
            None => std::env::var(name).ok(),
            Some(vars) => vars.get(name).cloned(),
        }
    }
}

/// Names only: a debug print of an environment must not show a secret.
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.fixed {
            None => f.write_str("Environment(process)"),
            Some(vars) => f.debug_tuple("Environment").field(&vars.keys().collect::<Vec<_>>()).finish(),
        }
    }
}

/// Why a secret could not be read. The message names where it looked, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {0} is not set")]
    Unset(String),
    #[error("cannot read secret file {path}: {problem}")]
    File { path: String, problem: String },
    #[error("{0} is empty")]
    Empty(String),
}

/// A secret named in the config: the config holds where it is, never the value.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

impl std::fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env {name}"),
            SecretRef::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

impl SecretRef {
    /// Reads the secret now; a trailing line break (as `echo` writes one) is not part of it.
    pub fn read(&self, env: &Environment) -> Result<String, SecretError> {
        let value = match self {
            SecretRef::Env(name) => env.var(name).ok_or_else(|| SecretError::Unset(name.clone()))?,
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map_err(|e| SecretError::File { path: path.display().to_string(), problem: e.to_string() })?,
        };
        let value = value.trim_end_matches(['\r', '\n']);
        if value.trim().is_empty() {
            return Err(SecretError::Empty(format!("{self:?}")));
        }
        Ok(value.to_string())
    }
}

/// A value given inline, or as a secret (a Slack webhook URL is a credential).
#[derive(Clone, PartialEq)]
pub enum SecretOr {
    Plain(String),
    Secret(SecretRef),
}

/// Only the origin of an inline URL is shown (`check`, logs): webhook URLs often carry
/// their credential in the path.
impl std::fmt::Debug for SecretOr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretOr::Plain(u) => {
                let origin = url::Url::parse(u).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
                write!(f, "{origin}/…")
            }
            SecretOr::Secret(r) => write!(f, "{r:?}"),
        }
    }
}

impl SecretOr {
    pub(crate) fn read(&self, env: &Environment) -> Result<String, SecretError> {
        match self {
            SecretOr::Plain(s) => Ok(s.clone()),
            SecretOr::Secret(r) => r.read(env),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_read_from_where_the_config_says_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "from-file\n").unwrap();
        let env = Environment::fixed([("KEY", "from-env"), ("BLANK", " \n")]);
        assert_eq!(SecretRef::Env("KEY".into()).read(&env).unwrap(), "from-env");
        assert_eq!(SecretRef::File(file).read(&env).unwrap(), "from-file");
        assert_eq!(SecretRef::Env("NONE".into()).read(&env), Err(SecretError::Unset("NONE".into())));
        assert_eq!(SecretRef::Env("BLANK".into()).read(&env), Err(SecretError::Empty("env BLANK".into())));
        assert!(matches!(SecretRef::File(dir.path().join("none")).read(&env), Err(SecretError::File { .. })));
        assert_eq!(format!("{env:?}"), "Environment([\"BLANK\", \"KEY\"])", "names only");
    }
}
