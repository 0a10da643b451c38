//! Detection: the step between scoring and alerting. Per watch, mentions are counted into
//! fixed-width time buckets; a short window is judged against a baseline learned from the
//! buckets before it, and a signal comes out when mentions spike, turn negative, or a
//! far-reaching account complains — or when a source goes blind.
//!
//! * `baseline` — robust, seasonal, O(1) per bucket: what normal is;
//! * `spike` — is a window a spike against it, and event hysteresis (fire on the rise);
//! * `counts` — the spike test over a plain count series (`replay --counts`);
//! * `blind` — blind spots: sources failing or silent, per watch they feed;
//! * `knobs` — every tunable by name, for `[watches.thresholds]` and `replay --param`;
//! * `persist` — window state saved to and loaded from the store;
//! * `presets` — `sensitive | balanced | strict`, in time units, turned into per-bucket
//!   parameters for a bucket width;
//! * `tally` — evidence (terms, categories, languages, sources) counted over every mention
//!   of a window, in bounded memory;
//! * `stories` and `fingerprint` — spreading stories: one link or text repeated in a
//!   window, keyed without allocating;
//! * `terms` — a mention's words as topic detection counts them: stemmed, hashed, without
//!   stop words and the watch's own terms;
//! * `topic` — emerging topics: terms and pairs far above their own usual level (SigniTrend);
//! * `watch` — one watch's buckets and every test on them: volume, negativity, sentiment
//!   dip, high reach, topics.
//!
//! Every decision takes time as an argument and uses only data before it (causal), so
//! replay gives the same answers the daemon would have given live.

pub(crate) mod baseline;
pub(crate) mod blind;
pub mod counts;
pub(crate) mod fingerprint;
pub(crate) mod knobs;
pub mod persist;
pub mod presets;
pub mod spike;
pub(crate) mod stories;
pub(crate) mod tally;
pub(crate) mod terms;
pub(crate) mod topic;
pub(crate) mod watch;

pub(crate) use blind::{BlindSpotParams, BlindSpots};

/// Why a detector's saved state cannot be used or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("saved {what} is unreadable: {source}")]
    Unreadable { what: String, source: serde_json::Error },
    #[error(
        "saved window state of {watch:?} has {saved} buckets, the configuration {configured}; \
         the bucket width or ring changed, so the watch starts a new baseline"
    )]
    RingChanged { watch: String, saved: usize, configured: usize },
    #[error("cannot serialize the {what}: {source}")]
    Unwritable { what: String, source: serde_json::Error },
}
pub use counts::{CountsAlert, CountsDetector};
pub use presets::{Preset, Season};
pub use topic::TopicParams;
pub use watch::{Judged, WatchDetector, WatchParams};
