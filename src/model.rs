//! The narrow types that travel between the pipeline's steps.
//!
//! `sources → sentiment → detect → alert → notify`: each step receives and returns only the
//! types defined here, so a step's internals can change without touching its neighbours, and
//! every type is plain owned data that serializes (the scale-out plan moves them over NATS).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A language stormwatch scores. Anything else is detected as one of these or as unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Nl,
    Sv,
    Pl,
}

impl Lang {
    pub const ALL: [Lang; 4] = [Lang::En, Lang::Nl, Lang::Sv, Lang::Pl];

    /// ISO 639-1 code, as used in configs, feeds and the CLI.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Nl => "nl",
            Lang::Sv => "sv",
            Lang::Pl => "pl",
        }
    }

    /// Dense index for per-language arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Reads a language tag as feeds send it: `nl`, `NL`, `nl-BE`, `sv_SE`, `pol`.
    /// Returns `None` for languages stormwatch does not score.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next().unwrap_or("").trim();
        match primary.to_ascii_lowercase().as_str() {
            "en" | "eng" => Some(Lang::En),
            "nl" | "nld" | "dut" => Some(Lang::Nl),
            "sv" | "swe" => Some(Lang::Sv),
            "pl" | "pol" => Some(Lang::Pl),
            _ => None,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The error for a language code stormwatch does not support; lists the ones it does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported language {given:?}: supported codes are en, nl, sv, pl")]
pub struct UnsupportedLang {
    pub given: String,
}

impl FromStr for Lang {
    type Err = UnsupportedLang;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::from_tag(s).ok_or_else(|| UnsupportedLang { given: s.to_string() })
    }
}

/// Sentiment label of one text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Neg,
    Neu,
    Pos,
}

impl Label {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Label::Neg => "neg",
            Label::Neu => "neu",
            Label::Pos => "pos",
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Label {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "neg" | "negative" => Ok(Label::Neg),
            "neu" | "neutral" => Ok(Label::Neu),
            "pos" | "positive" => Ok(Label::Pos),
            other => Err(format!("unknown label {other:?}: expected neg, neu or pos")),
        }
    }
}

/// What kind of crisis a term points at. Alerts group evidence and pick holding statements
/// by category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrisisCategory {
    Outage,
    Product,
    Service,
    Offensive,
    Conduct,
    Boycott,
    PrivacyFraud,
}

impl CrisisCategory {
    pub(crate) const ALL: [CrisisCategory; 7] = [
        CrisisCategory::Outage,
        CrisisCategory::Product,
        CrisisCategory::Service,
        CrisisCategory::Offensive,
        CrisisCategory::Conduct,
        CrisisCategory::Boycott,
        CrisisCategory::PrivacyFraud,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CrisisCategory::Outage => "outage",
            CrisisCategory::Product => "product",
            CrisisCategory::Service => "service",
            CrisisCategory::Offensive => "offensive",
            CrisisCategory::Conduct => "conduct",
            CrisisCategory::Boycott => "boycott",
            CrisisCategory::PrivacyFraud => "privacy_fraud",
        }
    }
}

impl fmt::Display for CrisisCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CrisisCategory {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CrisisCategory::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| {
            format!(
                "unknown crisis category {s:?}: expected one of outage, product, service, \
                     offensive, conduct, boycott, privacy_fraud"
            )
        })
    }
}

/// One post about something a watch follows, as a source saw it: the narrow type between
/// `sources` and the scoring step. Source kinds differ a lot; this is what they all agree on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    /// The configured name of the source it came from.
    pub source: String,
    /// The source's own id for the item; unique within the source, stable across polls.
    pub id: String,
    /// Plain text: HTML stripped, entities decoded.
    pub text: String,
    /// Handle or display name of the author, when the source gives one.
    pub author: Option<String>,
    /// The author's audience (followers, subscribers), when the source gives it.
    pub reach: Option<u64>,
    /// The language the source declared, as a lower-case primary tag ("nl", "de"); scoring
    /// uses it when it is one of the four languages stormwatch scores.
    pub lang: Option<String>,
    /// When it was published (the source's time, not when it was fetched).
    pub published: chrono::DateTime<chrono::Utc>,
    pub url: Option<String>,
}

impl Mention {
    /// The declared language, if stormwatch scores it.
    pub fn scored_lang(&self) -> Option<Lang> {
        self.lang.as_deref().and_then(Lang::from_tag)
    }
}

/// A mention with the watches it belongs to: what the sources step hands on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchedMention {
    #[serde(flatten)]
    pub mention: Mention,
    pub watches: Vec<String>,
}

/// What kind of change a signal reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// Many more mentions than usual.
    Volume,
    /// A much larger share (or number) of negative mentions than usual.
    Negativity,
    /// The mean sentiment fell well below its usual level.
    SentimentDip,
    /// A negative mention from an account with a large audience.
    HighReach,
    /// A source failing or silent: the watch cannot see part of what is said.
    BlindSpot,
    /// A new subject in what is said: terms far above their own usual level.
    Topic,
}

impl SignalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Volume => "volume",
            SignalKind::Negativity => "negativity",
            SignalKind::SentimentDip => "sentiment_dip",
            SignalKind::HighReach => "high_reach",
            SignalKind::BlindSpot => "blind_spot",
            SignalKind::Topic => "topic",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Where a signal is in its life: detection reports the start, growth and end of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Started,
    Ongoing,
    Ended,
}

/// A mention shown as evidence: enough for a person to judge it in a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MentionRef {
    pub source: String,
    pub id: String,
    pub author: Option<String>,
    pub reach: Option<u64>,
    pub url: Option<String>,
    /// The text, cut to a few hundred characters.
    pub text: String,
    pub compound: f32,
    pub published: chrono::DateTime<chrono::Utc>,
}

/// The numbers and examples behind a signal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Mentions, negative and positive ones in the window.
    pub mentions: u32,
    pub negative: u32,
    pub positive: u32,
    /// The terms that pulled scores down most often among all the window's negative
    /// mentions, each counted once per mention, most frequent first (at most 5). Counted in
    /// bounded per-bucket tallies: a count is exact unless a very busy bucket ran out of
    /// room for the term, and then it is at most that short.
    pub top_terms: Vec<(String, u32)>,
    /// The crisis categories of all the window's negative mentions, each counted once per
    /// mention, most frequent first (exact).
    pub categories: Vec<(CrisisCategory, u32)>,
    /// Examples, not counts: the most-reached negative mentions of the window that the
    /// watch kept (the last 32 negative ones), most reached first (at most 5).
    pub top_mentions: Vec<MentionRef>,
    /// Languages of all the window's mentions (the scored language, else the one the source
    /// declared, else `?`), most frequent first (at most 5), then `other` for the rest, so
    /// the counts add up to the mentions tallied.
    pub languages: Vec<(String, u32)>,
    /// Sources of all the window's mentions, counted like `languages`.
    pub sources: Vec<(String, u32)>,
    /// For a blind spot: the sources the watch cannot see through, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blind_sources: Vec<BlindSource>,
    /// Mentions the volume baseline expected in the window, once it has learned one: the
    /// "(baseline 40)" in "342 mentions/15 min (baseline 40)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_mentions: Option<f64>,
    /// The watch's usual share of negative mentions, once learned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usual_share: Option<f64>,
    /// The last hours of the watch, oldest first, for the chart in an alert.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelinePoint>,
    /// What the watch's conversation is about right now beyond its usual: emerging topics,
    /// strongest first (the topic signal's own topic first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<Topic>,
    /// The same link or the same text spreading inside the window, most repeated first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stories: Vec<Story>,
}

/// An emerging topic: terms that are far above their own usual level in a watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topic {
    /// Its words as people wrote them, most significant first ("storing", "inloggen").
    pub terms: Vec<String>,
    /// Mentions carrying it in the window, and what its usual level expected.
    pub mentions: u32,
    pub expected: f64,
    /// How many of those mentions were negative.
    pub negative: u32,
    pub categories: Vec<(CrisisCategory, u32)>,
    /// A few mentions that carry it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<MentionRef>,
}

/// The same link, or the same text (reposts, quotes, near-duplicates), repeated in a window:
/// named in evidence when at least 3 mentions by at least 2 authors carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Story {
    /// The link everyone shares (tracking parameters, fragment and trailing slash left
    /// out), if it is a link that spreads; `None` for a repeated text.
    pub url: Option<String>,
    /// The text (cut to 140 characters), as the first to repeat it wrote it.
    pub text: String,
    /// Mentions carrying it in the window.
    pub mentions: u32,
    /// Distinct authors among them, counted up to 8.
    pub authors: u32,
    /// When it was first seen (to the second), possibly before the window.
    pub first_seen: chrono::DateTime<chrono::Utc>,
}

/// One step of a watch's recent history: what an alert's chart draws.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Start of the step.
    pub at: chrono::DateTime<chrono::Utc>,
    pub mentions: u32,
    pub negative: u32,
    /// Mentions the baseline expected in the step (0 before it has learned).
    pub expected: f64,
}

/// A source failing or silent, as evidence of a blind spot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlindSource {
    pub source: String,
    /// What a person can act on: "401 unauthorized 3 polls in a row: check the token".
    pub reason: String,
    /// Since when it has been failing or silent.
    pub since: chrono::DateTime<chrono::Utc>,
}

/// What a signal's `value`, `baseline` and `threshold` measure, so an alert can say it in
/// words ("71%", "342 mentions", "-0.42").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Mentions in the window.
    #[default]
    Mentions,
    /// Negative mentions in the window.
    NegativeMentions,
    /// The share of negative mentions, 0 to 1.
    NegativeShare,
    /// Mean compound sentiment, -1 to 1.
    MeanSentiment,
    /// Followers of one author.
    Reach,
    /// Sources failing or silent.
    Sources,
    /// Mentions carrying an emerging topic's terms in the window.
    TopicMentions,
}

/// A detected change in what is said about a watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub watch: String,
    pub kind: SignalKind,
    #[serde(default)]
    pub measure: Measure,
    pub severity: Severity,
    pub phase: Phase,
    /// When it was detected (the end of the window judged).
    pub at: chrono::DateTime<chrono::Utc>,
    /// The window judged, in seconds.
    pub window_secs: u64,
    /// The measured value (mentions in the window, negative share, mean compound, reach),
    /// what the baseline expected, and the threshold it had to pass.
    pub value: f64,
    pub baseline: f64,
    pub threshold: f64,
    /// How far beyond the baseline, in noise units (where meaningful).
    pub z: f64,
    pub evidence: Evidence,
}

/// One term that moved a text's score, and by how much (after all rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TermScore {
    pub term: String,
    pub score: f32,
}

/// The sentiment of one text: what the scoring step hands to detection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    /// The language the text was scored in; `None` when it has no words to tell (only emoji,
    /// say), in which case only language-independent signs (emoji, emoticons) were scored.
    pub lang: Option<Lang>,
    pub label: Label,
    /// VADER-style normalized sum of valences, in [-1, 1].
    pub compound: f32,
    pub terms: Vec<TermScore>,
    pub categories: Vec<CrisisCategory>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_from_feeds_map_to_supported_languages() {
        assert_eq!(Lang::from_tag("nl-BE"), Some(Lang::Nl));
        assert_eq!(Lang::from_tag("sv_SE"), Some(Lang::Sv));
        assert_eq!(Lang::from_tag("PL"), Some(Lang::Pl));
        assert_eq!(Lang::from_tag("de"), None);
    }

    #[test]
    fn unknown_language_error_lists_supported_codes() {
        let err = "de".parse::<Lang>().unwrap_err().to_string();
        assert!(err.contains("\"de\"") && err.contains("en, nl, sv, pl"), "{err}");
    }

    #[test]
    fn crisis_categories_round_trip_through_their_names() {
        for c in CrisisCategory::ALL {
            assert_eq!(c.as_str().parse::<CrisisCategory>(), Ok(c));
        }
        assert_eq!(serde_json::to_string(&CrisisCategory::PrivacyFraud).unwrap(), "\"privacy_fraud\"");
    }
}
