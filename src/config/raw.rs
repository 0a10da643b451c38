//! The configuration file as written: every key declared (unknown ones are refused), every
//! value still unchecked. `mod.rs` validates this into the typed `Config`.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub storage: Option<RawStorage>,
    pub blind_spots: Option<RawBlindSpots>,
    pub server: Option<super::receivers::RawServer>,
    pub smtp: Option<super::receivers::RawSmtp>,
    pub alerts: Option<super::receivers::RawAlerts>,
    #[serde(default)]
    pub receivers: Vec<super::receivers::RawReceiver>,
    /// Each kind reads its own keys (`sources::registry`).
    #[serde(default)]
    pub sources: Vec<serde_json::Value>,
    #[serde(default)]
    pub watches: Vec<RawWatch>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBlindSpots {
    pub failures: Option<i64>,
    pub silent_polls: Option<i64>,
    pub silent_factor: Option<f64>,
    pub silent_min: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStorage {
    pub path: Option<String>,
    pub seen_ttl: Option<String>,
    pub history: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWatch {
    pub name: Option<String>,
    #[serde(default)]
    pub terms: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    pub sources: Option<Vec<String>>,
    /// Detection and alerting keys, validated by those steps.
    pub preset: Option<String>,
    pub thresholds: Option<serde_json::Value>,
    #[serde(default)]
    pub receivers: Vec<String>,
}
