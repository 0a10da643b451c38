//! `[[watches]]`: the brands and topics followed, and which mentions belong to them.

use crate::detect::knobs::{self, Input};
use crate::detect::{Preset, WatchParams};
use crate::model::Lang;
use crate::sources::matching::WatchTerms;

use std::path::Path;

use serde_json::Value;

use crate::settings::{Problems, Table};

#[derive(Debug, Clone, PartialEq)]
pub struct WatchSpec {
    pub name: String,
    /// Phrases, `#hashtags` and `@handles`; a mention matching any belongs to the watch.
    pub terms: Vec<String>,
    /// A mention matching any of these does not belong, whatever else it matches.
    pub exclude: Vec<String>,
    /// Languages scored for this watch; all four when the config leaves it empty.
    pub languages: Vec<Lang>,
    /// Sources that feed this watch; `None` means all.
    pub sources: Option<Vec<String>>,
    pub preset: Preset,
    /// How this watch detects: its preset with `[watches.thresholds]` applied.
    pub detection: WatchParams,
    pub receivers: Vec<String>,
}

impl WatchSpec {
    /// What matching mentions to this watch needs.
    pub fn terms(&self) -> WatchTerms<'_> {
        WatchTerms { name: &self.name, terms: &self.terms, exclude: &self.exclude, sources: self.sources.as_deref() }
    }

    /// A watch on `terms` with every default: all languages and sources, the balanced
    /// preset, no receivers. For tests, benches and tools; a config file goes through `validate`.
    pub fn new(name: &str, terms: &[&str]) -> WatchSpec {
        WatchSpec {
            name: name.to_string(),
            terms: terms.iter().map(|t| t.to_string()).collect(),
            exclude: Vec::new(),
            languages: Lang::ALL.to_vec(),
            sources: None,
            preset: Preset::default(),
            detection: WatchParams {
                own_terms: terms.iter().map(|t| t.to_string()).collect(),
                ..WatchParams::new(Preset::default().spec())
            },
            receivers: Vec::new(),
        }
    }
}

const KEYS: [&str; 8] = ["name", "terms", "exclude", "languages", "sources", "preset", "thresholds", "receivers"];

/// `[[watches]]`.
pub(super) fn read_all(
    entries: &[Value],
    source_names: &[&str],
    base_dir: &Path,
    problems: &mut Problems,
) -> Vec<WatchSpec> {
    let mut out: Vec<WatchSpec> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let mut t = Table::new(format!("watches[{i}]"), entry, base_dir, problems);
        t.refuse_unknown(&KEYS, |_| None);
        let name = t.required_string("name", "(a unique name for this watch)").unwrap_or_default();
        if let Some(j) = out.iter().position(|w| !name.is_empty() && w.name == name) {
            t.problem("name", format!("{name:?} is used by watches[{j}] too"));
        }
        let given_terms = t.strings("terms");
        if given_terms.as_ref().is_none_or(Vec::is_empty)
            && !matches!(t.raw("terms"), Some(v) if !v.is_array() && !v.is_string())
        {
            t.problem("terms", "give at least one term (a phrase, #hashtag or @handle)");
        }
        let terms = clean(&mut t, "terms", given_terms.unwrap_or_default());
        let given_exclude = t.strings("exclude").unwrap_or_default();
        let exclude = clean(&mut t, "exclude", given_exclude);
        let mut languages = Vec::new();
        for (j, l) in t.strings("languages").unwrap_or_default().iter().enumerate() {
            match l.parse::<Lang>() {
                Ok(lang) => languages.push(lang),
                Err(e) => t.problem(&format!("languages[{j}]"), e),
            }
        }
        if languages.is_empty() {
            languages = Lang::ALL.to_vec();
        }
        let sources = t.strings("sources");
        for (j, s) in sources.iter().flatten().enumerate() {
            if !source_names.contains(&s.as_str()) {
                t.problem(&format!("sources[{j}]"), format!("no source is named {s:?}"));
            }
        }
        let preset = match t.string("preset").as_deref().map(str::parse::<Preset>).transpose() {
            Ok(p) => p.unwrap_or_default(),
            Err(e) => {
                t.problem("preset", e);
                Preset::default()
            }
        };
        let mut detection = thresholds(&mut t, preset);
        detection.own_terms = terms.clone();
        let receivers = t.strings("receivers").unwrap_or_default();
        out.push(WatchSpec { name, terms, exclude, languages, sources, preset, detection, receivers });
    }
    out
}

/// Terms with their inner whitespace collapsed; an empty one is a mistake (it matches nothing).
fn clean(t: &mut Table<'_>, key: &str, terms: Vec<String>) -> Vec<String> {
    let mut kept = Vec::new();
    for (j, term) in terms.iter().enumerate() {
        let term = term.split_whitespace().collect::<Vec<_>>().join(" ");
        if term.trim_start_matches(['#', '@']).is_empty() {
            t.problem(&format!("{key}[{j}]"), "an empty term matches nothing");
        } else {
            kept.push(term);
        }
    }
    kept
}

/// The preset's parameters with the watch's `[watches.thresholds]` overrides applied.
fn thresholds(t: &mut Table<'_>, preset: Preset) -> WatchParams {
    let mut params = WatchParams::new(preset.spec());
    let Some(table) = t.raw("thresholds").cloned() else { return params };
    let Some(table) = table.as_object() else {
        t.problem("thresholds", "expected a table of key = value overrides");
        return params;
    };
    let mut ok = true;
    for (key, value) in table {
        let input = match value {
            Value::Number(n) => n.as_f64().map(Input::Number),
            Value::String(s) => Some(Input::Text(s)),
            _ => None,
        };
        let result = match input {
            Some(input) => knobs::set(&mut params, key, input).map_err(|e| e.to_string()),
            None => Err(format!("expected a number or a string, got {value}")),
        };
        if let Err(e) = result {
            t.problem(&format!("thresholds.{key}"), e);
            ok = false;
        }
    }
    if ok {
        if let Err(e) = knobs::check(&params) {
            t.problem("thresholds", e);
        }
    }
    params
}
