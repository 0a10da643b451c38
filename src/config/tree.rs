//! The configuration file as a tree of values: TOML text parsed (a syntax error names its
//! line and column), then `STORMWATCH__SECTION__KEY` environment overrides laid over it.
//! Nothing is checked here but the syntax; `settings::Table` reads the tree into types.
//!
//! The tree is `serde_json::Value` because the source kinds and the settings reader work on
//! it. JSON has no infinity or NaN, and TOML does: those become the text `inf` / `nan`, so the
//! reader reports them as the out-of-range numbers they are instead of as missing values.

use serde_json::{Map, Value};

use crate::secret::Environment;

/// The prefix of override variables; `__` separates the section from the key.
pub(crate) const ENV_PREFIX: &str = "STORMWATCH__";

/// Parses `text`; a syntax error is one message with its place in the file.
pub(crate) fn parse(text: &str) -> Result<Value, String> {
    match text.parse::<toml::Table>() {
        Ok(table) => Ok(Value::Object(table.into_iter().map(|(k, v)| (k, from_toml(v))).collect())),
        Err(e) => Err(syntax_error(text, &e)),
    }
}

/// "TOML syntax: line 5, column 20: …" — the toml crate's own text repeats the line and
/// draws a caret under it, which is more than one line of `check` output should be.
fn syntax_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("TOML syntax: line {line}, column {column}: {message}")
        }
        None => format!("TOML syntax: {message}"),
    }
}

fn from_toml(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) if f.is_finite() => Value::from(f),
        toml::Value::Float(f) => Value::String(f.to_string()),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(from_toml).collect()),
        toml::Value::Table(t) => Value::Object(t.into_iter().map(|(k, v)| (k, from_toml(v))).collect()),
    }
}

/// Lays `STORMWATCH__SECTION__KEY=value` over the tree (keys lower-cased, values as text: the
/// reader parses numbers and durations from text too). Arrays of tables come from the file
/// only. Returns the overrides applied, by variable name, for `check` to show.
pub(crate) fn apply_overrides(tree: &mut Value, env: &Environment) -> Vec<String> {
    let mut applied = Vec::new();
    for (name, value) in env.with_prefix(ENV_PREFIX) {
        let path: Vec<String> = name[ENV_PREFIX.len()..].split("__").map(str::to_ascii_lowercase).collect();
        if path.iter().any(String::is_empty) {
            continue;
        }
        if set(tree, &path, value) {
            applied.push(name);
        }
    }
    applied
}

/// Sets `path` to a string, creating tables on the way; false where the path runs into a
/// value that is not a table (an array of tables, a scalar), which the file decides.
fn set(tree: &mut Value, path: &[String], value: String) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut at = tree;
    for key in parents {
        let Value::Object(map) = at else { return false };
        at = map.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
    match at {
        Value::Object(map) => {
            map.insert(last.clone(), Value::String(value));
            true
        }
        _ => false,
    }
}

/// Inline webhook URLs of Slack and Teams receivers carry their credential in the path:
/// only the origin stays.
pub(crate) fn redact_inline_urls(tree: &mut Value) {
    let Some(Value::Array(receivers)) = tree.get_mut("receivers") else { return };
    for r in receivers {
        let credential = matches!(r.get("kind").and_then(Value::as_str), Some("slack" | "teams"));
        if let (true, Some(Value::String(u))) = (credential, r.get_mut("url")) {
            let origin = url::Url::parse(u).map(|p| p.origin().ascii_serialization()).unwrap_or_default();
            *u = format!("{origin}/… (redacted)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn infinities_and_nan_stay_visible_and_syntax_errors_say_where() {
        let tree = parse("[t]\na = inf\nb = nan\nc = 1.5\nd = 1979-05-27").unwrap();
        assert_eq!(tree, json!({"t": {"a": "inf", "b": "NaN", "c": 1.5, "d": "1979-05-27"}}));
        let e = parse("[t]\na = 99999999999999999999\n").unwrap_err();
        assert!(e.starts_with("TOML syntax: line 2, column 5: "), "{e}");
    }

    #[test]
    fn overrides_create_tables_but_never_replace_arrays() {
        let mut tree = parse("[[sources]]\nname = \"a\"\n[server]\nlisten = \"127.0.0.1:1\"").unwrap();
        let env = Environment::fixed([
            ("STORMWATCH__SERVER__LISTEN", "0.0.0.0:9464"),
            ("STORMWATCH__STORAGE__PATH", "/var/lib/sw.db"),
            ("STORMWATCH__SOURCES__NAME", "b"),
            ("OTHER", "x"),
        ]);
        let applied = apply_overrides(&mut tree, &env);
        assert_eq!(applied, ["STORMWATCH__SERVER__LISTEN", "STORMWATCH__STORAGE__PATH"]);
        assert_eq!(tree["server"]["listen"], "0.0.0.0:9464");
        assert_eq!(tree["storage"]["path"], "/var/lib/sw.db");
        assert_eq!(tree["sources"][0]["name"], "a");
    }
}
