//! A candidate the watch detector does not run yet: a spike test on the *count* of negative
//! mentions, evaluated beside the share test on the same streams.
//!
//! The share test asks whether the window's negatives are more than the usual share of the
//! window's volume explains, so an episode that brings more mentions *and* a larger share of
//! negative ones is judged only by the share. A count test sees both: twice the share at three
//! times the volume is six times the usual negatives. DESIGN.md asks for "negativity spike
//! (share and count)"; this prototype is the library's own `CountsDetector` (the volume spike
//! test, public API, unchanged) run over the per-minute count of scorer-negative mentions.

use std::time::Duration;

use stormwatch::detect::{CountsDetector, Preset};

use crate::eval::{sim_start, Tally};

/// How the prototype judges: a preset with a few knobs overridden.
#[derive(Debug, Clone, Copy)]
pub struct CountTest {
    pub preset: Preset,
    /// `z` to start.
    pub k: f64,
    /// Negative mentions above the expected count a window must reach.
    pub min_excess: f64,
    /// The window must hold this multiple of the expected count.
    pub min_factor: f64,
    /// The busiest minute must be a record for this long (0: off).
    pub novelty_hours: u64,
}

impl CountTest {
    pub fn describe(&self) -> String {
        format!(
            "CountsDetector ({:?} preset) on scorer-negative counts per minute: k {}, min_excess {}, \
             min_factor {}, novelty {} h",
            self.preset, self.k, self.min_excess, self.min_factor, self.novelty_hours
        )
    }

    /// Minutes (since the simulation start) at which the test's events start: the end of the
    /// minute that fired, when it could have been known.
    pub fn starts(&self, tallies: &[Tally]) -> Vec<u32> {
        let mut spec = self.preset.spec();
        spec.k = self.k;
        spec.min_excess = self.min_excess;
        spec.min_factor = self.min_factor;
        spec.novelty = Duration::from_secs(self.novelty_hours * 3600);
        let mut detector = CountsDetector::new(&spec, Duration::from_secs(60));
        let start = sim_start();
        let mut out = Vec::new();
        for (t, tally) in tallies.iter().enumerate() {
            let at = start + chrono::Duration::minutes(t as i64);
            if let (Some(_), _) = detector.step(at, tally.scored_neg as f64) {
                out.push(t as u32 + 1);
            }
        }
        out
    }
}
