//! `[[watches]]`: the brands and topics followed, and which mentions belong to them.

use crate::detect::knobs::{self, Input};
use crate::detect::{Preset, WatchParams};
use crate::model::Lang;
use crate::sources::matching::WatchTerms;

use super::raw::RawWatch;
use super::Problems;

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
            detection: WatchParams::new(Preset::default().spec()),
            receivers: Vec::new(),
        }
    }
}

pub(super) fn validate(raw: Vec<RawWatch>, source_names: &[&str], problems: &mut Problems) -> Vec<WatchSpec> {
    let mut out: Vec<WatchSpec> = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let at = format!("watches[{i}]");
        let name = r.name.as_deref().map(str::trim).unwrap_or("").to_string();
        if name.is_empty() {
            problems.add(format!("{at}.name"), "required: a unique name for this watch");
        } else if let Some(j) = out.iter().position(|w| w.name == name) {
            problems.add(format!("{at}.name"), format!("{name:?} is used by watches[{j}] too"));
        }
        let clean = |terms: &[String], key: &str, problems: &mut Problems| -> Vec<String> {
            let mut kept = Vec::new();
            for (j, t) in terms.iter().enumerate() {
                let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
                if t.trim_start_matches(['#', '@']).is_empty() {
                    problems.add(format!("{at}.{key}[{j}]"), "an empty term matches nothing");
                } else {
                    kept.push(t);
                }
            }
            kept
        };
        let terms = clean(&r.terms, "terms", problems);
        if r.terms.is_empty() {
            problems.add(format!("{at}.terms"), "give at least one term (a phrase, #hashtag or @handle)");
        }
        let exclude = clean(&r.exclude, "exclude", problems);
        let mut languages = Vec::new();
        for (j, l) in r.languages.iter().enumerate() {
            match l.parse::<Lang>() {
                Ok(lang) => languages.push(lang),
                Err(e) => problems.add(format!("{at}.languages[{j}]"), e),
            }
        }
        if languages.is_empty() {
            languages = Lang::ALL.to_vec();
        }
        if let Some(sources) = &r.sources {
            for (j, s) in sources.iter().enumerate() {
                if !source_names.contains(&s.as_str()) {
                    problems.add(format!("{at}.sources[{j}]"), format!("no source is named {s:?}"));
                }
            }
        }
        let preset = match r.preset.as_deref().map(str::parse::<Preset>).transpose() {
            Ok(p) => p.unwrap_or_default(),
            Err(e) => {
                problems.add(format!("{at}.preset"), e);
                Preset::default()
            }
        };
        let detection = thresholds(&at, preset, r.thresholds.as_ref(), problems);
        out.push(WatchSpec {
            name,
            terms,
            exclude,
            languages,
            sources: r.sources,
            preset,
            detection,
            receivers: r.receivers,
        });
    }
    out
}

/// The preset's parameters with the watch's `[watches.thresholds]` overrides applied.
fn thresholds(at: &str, preset: Preset, table: Option<&serde_json::Value>, problems: &mut Problems) -> WatchParams {
    let mut params = WatchParams::new(preset.spec());
    let Some(table) = table else { return params };
    let Some(table) = table.as_object() else {
        problems.add(format!("{at}.thresholds"), "expected a table of key = value overrides");
        return params;
    };
    let mut ok = true;
    for (key, value) in table {
        let input = match value {
            serde_json::Value::Number(n) => n.as_f64().map(Input::Number),
            serde_json::Value::String(s) => Some(Input::Text(s)),
            _ => None,
        };
        let result = match input {
            Some(input) => knobs::set(&mut params, key, input).map_err(|e| e.to_string()),
            None => Err(format!("expected a number or a string, got {value}")),
        };
        if let Err(e) = result {
            problems.add(format!("{at}.thresholds.{key}"), e);
            ok = false;
        }
    }
    if ok {
        if let Err(e) = knobs::check(&params) {
            problems.add(format!("{at}.thresholds"), e);
        }
    }
    params
}
