//! The configuration file as written: every key declared (unknown ones are refused), every
//! value still unchecked. `mod.rs` validates this into the typed `Config`.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub storage: Option<RawStorage>,
    pub blind_spots: Option<RawBlindSpots>,
    pub server: Option<super::receivers::RawServer>,
    pub smtp: Option<super::receivers::RawSmtp>,
    pub alerts: Option<super::receivers::RawAlerts>,
    #[serde(default)]
    pub receivers: Vec<super::receivers::RawReceiver>,
    #[serde(default)]
    pub sources: Vec<RawSource>,
    #[serde(default)]
    pub watches: Vec<RawWatch>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBlindSpots {
    pub failures: Option<i64>,
    pub silent_polls: Option<i64>,
    pub silent_factor: Option<f64>,
    pub silent_min: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub path: Option<String>,
    pub seen_ttl: Option<String>,
    pub history: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub url: Option<String>,
    pub interval: Option<String>,
    pub backfill: Option<String>,
    pub max_body_bytes: Option<u64>,
    pub timeout: Option<String>,
    // mastodon
    pub tags: Option<Vec<String>>,
    pub token_env: Option<String>,
    // bluesky, reddit, hackernews
    pub query: Option<String>,
    pub identifier_env: Option<String>,
    pub password_env: Option<String>,
    // reddit
    pub subreddit: Option<String>,
    pub user_agent: Option<String>,
    pub client_id_env: Option<String>,
    pub client_secret_env: Option<String>,
    // json
    pub items: Option<String>,
    pub fields: Option<RawJsonFields>,
    pub cursor: Option<RawJsonCursor>,
    // file
    pub path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJsonFields {
    pub id: Option<String>,
    pub text: Option<String>,
    pub author: Option<String>,
    pub followers: Option<String>,
    pub lang: Option<String>,
    pub created: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJsonCursor {
    pub strategy: Option<String>,
    pub param: Option<String>,
    pub pointer: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWatch {
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
