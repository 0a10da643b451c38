//! Metrics: their names, what they mean, and the Prometheus recorder `/metrics` renders.
//!
//! Steps count with the `metrics` macros where things happen (a poll fails, a mention is
//! scored, a delivery is attempted); nothing is passed around for it. Without an installed
//! recorder (the one-shot CLI commands) the macros cost nearly nothing. The daemon installs
//! the recorder once per process (`install`), renders it on `/metrics`, and runs its upkeep
//! every few seconds so histogram samples never pile up between scrapes.

use std::sync::OnceLock;

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub(crate) const POLLS: &str = "stormwatch_polls_total";
pub(crate) const POLL_ERRORS: &str = "stormwatch_poll_errors_total";
pub(crate) const SOURCE_PANICS: &str = "stormwatch_source_panics_total";
pub(crate) const MENTIONS_NEW: &str = "stormwatch_mentions_new_total";
pub(crate) const MENTIONS_INGESTED: &str = "stormwatch_mentions_ingested_total";
pub(crate) const MENTIONS_SCORED: &str = "stormwatch_mentions_scored_total";
pub(crate) const SCORING_SECONDS: &str = "stormwatch_scoring_seconds";
pub(crate) const CHANNEL_DEPTH: &str = "stormwatch_channel_depth";
pub(crate) const SIGNALS: &str = "stormwatch_signals_total";
pub(crate) const ALERTS: &str = "stormwatch_alerts_total";
pub(crate) const DELIVERY_ATTEMPTS: &str = "stormwatch_delivery_attempts_total";
pub(crate) const OUTBOX: &str = "stormwatch_outbox_deliveries";
pub(crate) const WATCH_MENTIONS: &str = "stormwatch_watch_mentions";
pub(crate) const WATCH_EXPECTED: &str = "stormwatch_watch_expected_mentions";
pub(crate) const WATCH_NEGATIVE_SHARE: &str = "stormwatch_watch_negative_share";
pub(crate) const WATCH_USUAL_NEGATIVE_SHARE: &str = "stormwatch_watch_usual_negative_share";
pub const RELOADS: &str = "stormwatch_config_reloads_total";
pub const RELOAD_FAILURES: &str = "stormwatch_config_reload_failures_total";

/// Scoring one mention takes microseconds; the buckets reach far enough to show a stall.
const SCORING_BUCKETS: [f64; 10] = [1e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2, 1e-1];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same handle). `None` when
/// another recorder was installed first, in which case `/metrics` says so.
pub(crate) fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(SCORING_SECONDS.into()), &SCORING_BUCKETS)
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

/// Drains histogram samples into their buckets; called every few seconds by the daemon.
pub(crate) fn upkeep() {
    if let Some(Some(h)) = HANDLE.get() {
        h.run_upkeep();
    }
}

fn describe() {
    describe_counter!(POLLS, "Polls of a source.");
    describe_counter!(POLL_ERRORS, "Failed polls, by source and kind of failure.");
    describe_counter!(SOURCE_PANICS, "Poll tasks that panicked and were started again, by source.");
    describe_counter!(MENTIONS_NEW, "Mentions not seen before, by source (matched to a watch or not).");
    describe_counter!(MENTIONS_INGESTED, "Mentions scored for a watch, by source, language and label.");
    describe_counter!(MENTIONS_SCORED, "Mentions scored and counted by detection.");
    describe_histogram!(SCORING_SECONDS, Unit::Seconds, "Time to score one mention.");
    describe_gauge!(CHANNEL_DEPTH, "Items waiting in a channel between steps (mentions, signals).");
    describe_counter!(SIGNALS, "Signals from detection, by watch, kind and severity.");
    describe_counter!(ALERTS, "Alert notifications, by watch, severity and event (not per receiver).");
    describe_counter!(DELIVERY_ATTEMPTS, "Delivery attempts, by receiver and outcome.");
    describe_gauge!(OUTBOX, "Deliveries in the outbox, by status.");
    describe_gauge!(WATCH_MENTIONS, "A watch's mentions in its last complete 5-minute step.");
    describe_gauge!(WATCH_EXPECTED, "The mentions the watch's baseline expected in that step.");
    describe_gauge!(WATCH_NEGATIVE_SHARE, "The negative share of that step, 0 to 1.");
    describe_gauge!(WATCH_USUAL_NEGATIVE_SHARE, "The watch's usual negative share, once learned.");
    describe_counter!(RELOADS, "Configurations applied by a reload.");
    describe_counter!(RELOAD_FAILURES, "Reloads refused because the new configuration is invalid.");
}
