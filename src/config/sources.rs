//! `[[sources]]`: where mentions come from. One variant per kind, each with exactly the
//! settings that kind uses; a setting given to a kind that ignores it is an error, not a
//! silent no-op.

use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use super::raw::{RawJsonCursor, RawJsonFields, RawSource};
use super::{duration, Problems};

/// Bodies larger than this are refused by default (stop reading, don't buffer it).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;

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

#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    Rss {
        url: Url,
    },
    Mastodon {
        /// The instance, e.g. `https://mastodon.social`.
        url: Url,
        tags: Vec<String>,
        token_env: Option<String>,
    },
    Bluesky {
        /// The service host, default `https://bsky.social`.
        url: Url,
        query: String,
        identifier_env: String,
        password_env: String,
    },
    Reddit {
        /// Default `https://www.reddit.com` (or `https://oauth.reddit.com` with credentials).
        url: Url,
        /// Exactly one of `query` and `subreddit`.
        query: Option<String>,
        subreddit: Option<String>,
        user_agent: String,
        client_id_env: Option<String>,
        client_secret_env: Option<String>,
    },
    HackerNews {
        /// Default `https://hn.algolia.com`.
        url: Url,
        query: String,
    },
    Json {
        url: Url,
        /// JSON Pointer to the array of items ("" for a top-level array).
        items: String,
        fields: JsonFields,
        cursor: JsonCursor,
        token_env: Option<String>,
    },
    File {
        /// JSON lines; `-` is standard input.
        path: PathBuf,
    },
    /// Not polled: mentions arrive by `POST /api/v1/ingest?source=<name>`.
    Push,
}

impl SourceKind {
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Rss { .. } => "rss",
            SourceKind::Mastodon { .. } => "mastodon",
            SourceKind::Bluesky { .. } => "bluesky",
            SourceKind::Reddit { .. } => "reddit",
            SourceKind::HackerNews { .. } => "hackernews",
            SourceKind::Json { .. } => "json",
            SourceKind::File { .. } => "file",
            SourceKind::Push => "push",
        }
    }
}

/// JSON Pointers (RFC 6901) into one item, for the generic `json` kind.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonFields {
    pub id: String,
    pub text: String,
    pub author: Option<String>,
    pub followers: Option<String>,
    pub lang: Option<String>,
    pub created: Option<String>,
    pub url: Option<String>,
}

/// How the generic `json` kind asks for what is new.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonCursor {
    /// Send the highest id seen so far as query parameter `param` (e.g. X's `since_id`).
    MaxId { param: String },
    /// Send the newest `created` time seen so far (RFC 3339) as query parameter `param`.
    MaxTime { param: String },
    /// Follow the URL (or token, sent as `param`) found at `pointer` in each response.
    NextPage { pointer: String, param: Option<String> },
}

const KINDS: &str = "rss, mastodon, bluesky, reddit, hackernews, json, file, push";

pub(super) fn validate(raw: Vec<RawSource>, base_dir: &Path, problems: &mut Problems) -> Vec<SourceSpec> {
    let mut out: Vec<SourceSpec> = Vec::new();
    let mut names: Vec<(String, usize)> = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let at = format!("sources[{i}]");
        let name = match r.name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => {
                problems.add(format!("{at}.name"), "required: a unique name for this source");
                format!("#{i}")
            }
        };
        if let Some((_, j)) = names.iter().find(|(n, _)| *n == name) {
            problems.add(format!("{at}.name"), format!("{name:?} is used by sources[{j}] too"));
        }
        names.push((name.clone(), i));
        let interval = r
            .interval
            .as_deref()
            .map_or(Some(Duration::from_secs(60)), |d| duration(&format!("{at}.interval"), d, problems));
        let backfill = r
            .backfill
            .as_deref()
            .map_or(Some(Duration::from_secs(24 * 3600)), |d| duration(&format!("{at}.backfill"), d, problems));
        if let Some(iv) = interval {
            if iv < Duration::from_secs(5) {
                problems.add(format!("{at}.interval"), "at least 5s: polling faster gets a source rate-limited");
            }
        }
        let max_body_bytes = r.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if max_body_bytes < 1024 {
            problems.add(format!("{at}.max_body_bytes"), format!("{max_body_bytes} is too small (at least 1024)"));
        }
        let timeout = r
            .timeout
            .as_deref()
            .map_or(Some(Duration::from_secs(30)), |d| duration(&format!("{at}.timeout"), d, problems));
        let kind = kind(&at, r, base_dir, problems);
        if let (Some(interval), Some(backfill), Some(timeout), Some(kind)) = (interval, backfill, timeout, kind) {
            out.push(SourceSpec { name, interval, backfill, max_body_bytes, timeout, kind });
        }
    }
    out
}

/// The settings each kind uses besides the common ones; anything else given is an error.
fn allowed(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "rss" => &["url"],
        "mastodon" => &["url", "tags", "token_env"],
        "bluesky" => &["url", "query", "identifier_env", "password_env"],
        "reddit" => &["url", "query", "subreddit", "user_agent", "client_id_env", "client_secret_env"],
        "hackernews" => &["url", "query"],
        "json" => &["url", "items", "fields", "cursor", "token_env"],
        "file" => &["path"],
        "push" => &[],
        _ => return None,
    })
}

fn given(r: &RawSource) -> Vec<&'static str> {
    let mut g = Vec::new();
    let mut note = |present: bool, key: &'static str| {
        if present {
            g.push(key);
        }
    };
    note(r.url.is_some(), "url");
    note(r.tags.is_some(), "tags");
    note(r.token_env.is_some(), "token_env");
    note(r.query.is_some(), "query");
    note(r.identifier_env.is_some(), "identifier_env");
    note(r.password_env.is_some(), "password_env");
    note(r.subreddit.is_some(), "subreddit");
    note(r.user_agent.is_some(), "user_agent");
    note(r.client_id_env.is_some(), "client_id_env");
    note(r.client_secret_env.is_some(), "client_secret_env");
    note(r.items.is_some(), "items");
    note(r.fields.is_some(), "fields");
    note(r.cursor.is_some(), "cursor");
    note(r.path.is_some(), "path");
    g
}

fn kind(at: &str, r: RawSource, base_dir: &Path, problems: &mut Problems) -> Option<SourceKind> {
    let Some(kind) = r.kind.as_deref().map(str::trim) else {
        problems.add(format!("{at}.kind"), format!("required: one of {KINDS}"));
        return None;
    };
    let Some(allowed) = allowed(kind) else {
        problems.add(format!("{at}.kind"), format!("unknown kind {kind:?}: expected one of {KINDS}"));
        return None;
    };
    for key in given(&r) {
        if !allowed.contains(&key) {
            problems.add(format!("{at}.{key}"), format!("not used by kind {kind}"));
        }
    }
    let url = |default: Option<&str>, problems: &mut Problems| -> Option<Url> {
        let text = match (r.url.as_deref(), default) {
            (Some(u), _) => u,
            (None, Some(d)) => d,
            (None, None) => {
                problems.add(format!("{at}.url"), format!("required for kind {kind}"));
                return None;
            }
        };
        match Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
            Ok(u) => {
                problems.add(format!("{at}.url"), format!("{text:?}: scheme {:?} is not http or https", u.scheme()));
                None
            }
            Err(e) => {
                problems.add(format!("{at}.url"), format!("{text:?} is not a URL: {e}"));
                None
            }
        }
    };
    let required = |value: &Option<String>, key: &str, problems: &mut Problems| -> Option<String> {
        match value.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => Some(v.to_string()),
            _ => {
                problems.add(format!("{at}.{key}"), format!("required for kind {kind}"));
                None
            }
        }
    };
    match kind {
        "rss" => Some(SourceKind::Rss { url: url(None, problems)? }),
        "mastodon" => {
            let tags: Vec<String> = r
                .tags
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|t| t.trim().trim_start_matches('#').to_string())
                .filter(|t| !t.is_empty())
                .collect();
            if tags.is_empty() {
                problems.add(format!("{at}.tags"), "give at least one tag to follow (without #)");
            }
            let url = url(None, problems)?;
            (!tags.is_empty()).then_some(SourceKind::Mastodon { url, tags, token_env: r.token_env.clone() })
        }
        "bluesky" => {
            let query = required(&r.query, "query", problems);
            let id = required(&r.identifier_env, "identifier_env", problems);
            let pw = required(&r.password_env, "password_env", problems);
            let url = url(Some("https://bsky.social"), problems)?;
            Some(SourceKind::Bluesky { url, query: query?, identifier_env: id?, password_env: pw? })
        }
        "reddit" => {
            if r.query.is_some() == r.subreddit.is_some() {
                problems.add(format!("{at}.query"), "give exactly one of query and subreddit");
            }
            if r.client_id_env.is_some() != r.client_secret_env.is_some() {
                problems
                    .add(format!("{at}.client_id_env"), "give both client_id_env and client_secret_env, or neither");
            }
            let user_agent = r.user_agent.clone().unwrap_or_else(|| {
                format!("stormwatch/{} (brand monitoring; +https://example.org/stormwatch)", env!("CARGO_PKG_VERSION"))
            });
            let url = url(Some("https://www.reddit.com"), problems)?;
            Some(SourceKind::Reddit {
                url,
                query: r.query.clone(),
                subreddit: r.subreddit.clone().map(|s| s.trim().trim_start_matches("r/").to_string()),
                user_agent,
                client_id_env: r.client_id_env.clone(),
                client_secret_env: r.client_secret_env.clone(),
            })
        }
        "hackernews" => {
            let query = required(&r.query, "query", problems);
            let url = url(Some("https://hn.algolia.com"), problems)?;
            Some(SourceKind::HackerNews { url, query: query? })
        }
        "json" => {
            let items = r.items.clone().unwrap_or_default();
            pointer(&format!("{at}.items"), &items, problems);
            let fields = json_fields(at, r.fields.as_ref(), problems);
            let has_created = r.fields.as_ref().is_some_and(|f| f.created.is_some());
            let cursor = json_cursor(at, r.cursor.as_ref(), has_created, problems);
            let url = url(None, problems)?;
            Some(SourceKind::Json { url, items, fields: fields?, cursor: cursor?, token_env: r.token_env.clone() })
        }
        "file" => {
            let path = required(&r.path, "path", problems)?;
            let path = if path == "-" { PathBuf::from("-") } else { base_dir.join(path) };
            Some(SourceKind::File { path })
        }
        "push" => Some(SourceKind::Push),
        _ => None,
    }
}

fn pointer(path: &str, p: &str, problems: &mut Problems) -> bool {
    if p.is_empty() || p.starts_with('/') {
        true
    } else {
        problems.add(path, format!("{p:?} is not a JSON Pointer (they start with /, e.g. /data/0/text)"));
        false
    }
}

fn json_fields(at: &str, raw: Option<&RawJsonFields>, problems: &mut Problems) -> Option<JsonFields> {
    let Some(f) = raw else {
        problems.add(format!("{at}.fields"), "required for kind json: JSON Pointers for at least id and text");
        return None;
    };
    let mut ok = true;
    let mut req = |key: &str, v: &Option<String>| -> String {
        match v {
            Some(p) => {
                ok &= pointer(&format!("{at}.fields.{key}"), p, problems);
                p.clone()
            }
            None => {
                problems.add(format!("{at}.fields.{key}"), "required for kind json");
                ok = false;
                String::new()
            }
        }
    };
    let id = req("id", &f.id);
    let text = req("text", &f.text);
    let mut opt = |key: &str, v: &Option<String>| -> Option<String> {
        let p = v.clone()?;
        ok &= pointer(&format!("{at}.fields.{key}"), &p, problems);
        Some(p)
    };
    let fields = JsonFields {
        id,
        text,
        author: opt("author", &f.author),
        followers: opt("followers", &f.followers),
        lang: opt("lang", &f.lang),
        created: opt("created", &f.created),
        url: opt("url", &f.url),
    };
    ok.then_some(fields)
}

fn json_cursor(
    at: &str,
    raw: Option<&RawJsonCursor>,
    has_created: bool,
    problems: &mut Problems,
) -> Option<JsonCursor> {
    let Some(c) = raw else {
        problems.add(format!("{at}.cursor"), "required for kind json: strategy = max_id | max_time | next_page");
        return None;
    };
    let param = c.param.clone().filter(|p| !p.trim().is_empty());
    match c.strategy.as_deref() {
        Some("max_id") | Some("max_time") if param.is_none() => {
            problems.add(format!("{at}.cursor.param"), "required: the query parameter that carries the cursor");
            None
        }
        Some("max_id") => Some(JsonCursor::MaxId { param: param? }),
        Some("max_time") if !has_created => {
            problems.add(format!("{at}.cursor.strategy"), "max_time needs fields.created (where each item's time is)");
            None
        }
        Some("max_time") => Some(JsonCursor::MaxTime { param: param? }),
        Some("next_page") => {
            let pointer_text = c.pointer.clone().unwrap_or_default();
            if pointer_text.is_empty() {
                problems.add(
                    format!("{at}.cursor.pointer"),
                    "required for next_page: where the next page's URL or token is",
                );
                return None;
            }
            pointer(&format!("{at}.cursor.pointer"), &pointer_text, problems)
                .then_some(JsonCursor::NextPage { pointer: pointer_text, param })
        }
        other => {
            problems.add(
                format!("{at}.cursor.strategy"),
                format!("{:?}: expected max_id, max_time or next_page", other.unwrap_or("")),
            );
            None
        }
    }
}
