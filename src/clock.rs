//! The one clock the daemon's edges read: the wall clock, or, for soak tests and rehearsals,
//! a simulated clock that runs faster than it.
//!
//! Deciding code never reads a clock (it takes `now` as an argument); the pipeline, the
//! sources, the store, the outbox and the server take `now()` from here, and wait with
//! `sleep` and `interval` from here. With `STORMWATCH_CLOCK` set, every one of them moves
//! on the simulated clock together: a 5-minute poll interval, a 1-minute bucket, a retry
//! back-off, `max_per_hour`, journal pruning and a signed link's expiry all shrink by the
//! same factor, so a week of detection and alert policy runs in an hour. What the daemon
//! waits for from outside stays in real time: HTTP and SMTP timeouts, the grace at stop, the
//! wait for the first round of polls.
//!
//! `STORMWATCH_CLOCK="SPEED,SIM,REAL"`: at the instant `REAL` (RFC 3339, on the wall clock)
//! the simulated clock reads `SIM` (RFC 3339), and it runs `SPEED` times as fast (1 to
//! 100,000). Every process given the same value reads the same time, so a test's feeds and
//! a restarted daemon agree with it.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The variable that selects a simulated clock.
pub const VAR: &str = "STORMWATCH_CLOCK";

/// The shortest real wait a scaled timer gets: at a high speed a 5-second tick would become
/// a busy loop.
const MIN_REAL_WAIT: Duration = Duration::from_millis(100);

/// Where the simulated clock stands against the wall clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Simulated {
    pub speed: f64,
    pub sim: DateTime<Utc>,
    pub real: DateTime<Utc>,
}

/// Why `STORMWATCH_CLOCK` cannot be used; each message ends with what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("{VAR}={value:?} has {parts} parts; {EXPECTED}")]
    Parts { value: String, parts: usize },
    #[error("{VAR}: speed {0:?} is not a number; {EXPECTED}")]
    Speed(String),
    #[error("{VAR}: speed {0} is out of range; {EXPECTED}")]
    SpeedRange(String),
    #[error("{VAR}: {what} time {text:?} is not RFC 3339 ({problem}); {EXPECTED}")]
    Time { what: &'static str, text: String, problem: String },
    #[error("{VAR} is not valid UTF-8")]
    NotUnicode,
}

const EXPECTED: &str = "expected SPEED,SIM,REAL: a speed from 1 to 100000 and two RFC 3339 times, \
                        e.g. 168,2026-01-05T00:00:00Z,2026-12-03T17:00:00Z";

impl Simulated {
    /// Parses `SPEED,SIM,REAL`; the error says what is wrong and what is expected.
    pub(crate) fn parse(value: &str) -> Result<Simulated, ClockError> {
        let parts: Vec<&str> = value.split(',').map(str::trim).collect();
        let [speed, sim, real] = parts[..] else {
            return Err(ClockError::Parts { value: value.to_string(), parts: parts.len() });
        };
        let speed_value: f64 = speed.parse().map_err(|_| ClockError::Speed(speed.to_string()))?;
        if !(1.0..=100_000.0).contains(&speed_value) {
            return Err(ClockError::SpeedRange(speed.to_string()));
        }
        let time = |what: &'static str, t: &str| {
            DateTime::parse_from_rfc3339(t).map(|t| t.with_timezone(&Utc)).map_err(|e| ClockError::Time {
                what,
                text: t.to_string(),
                problem: e.to_string(),
            })
        };
        Ok(Simulated { speed: speed_value, sim: time("simulated", sim)?, real: time("real", real)? })
    }

    /// The simulated time at wall-clock time `wall`.
    pub fn at(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        let real_micros = (wall - self.real).num_microseconds().unwrap_or(i64::MAX);
        // Saturating: a start near the end of the calendar must not panic the daemon.
        let step = chrono::Duration::microseconds((real_micros as f64 * self.speed) as i64);
        self.sim.checked_add_signed(step).unwrap_or(if step < chrono::Duration::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }

    /// The real wait for a simulated `d`.
    pub(crate) fn real_wait(&self, d: Duration) -> Duration {
        d.div_f64(self.speed).max(MIN_REAL_WAIT.min(d))
    }
}

static CLOCK: OnceLock<Option<Simulated>> = OnceLock::new();

/// Reads `STORMWATCH_CLOCK` once, at start. Later calls return the same answer. An
/// unreadable value is an error (the daemon refuses to start rather than guess the time).
pub fn init() -> Result<Option<Simulated>, ClockError> {
    if let Some(c) = CLOCK.get() {
        return Ok(*c);
    }
    let parsed = match std::env::var(VAR) {
        Ok(v) => Some(Simulated::parse(&v)?),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => return Err(ClockError::NotUnicode),
    };
    Ok(*CLOCK.get_or_init(|| parsed))
}

fn simulated() -> Option<Simulated> {
    CLOCK.get().copied().flatten()
}

/// Now, on the daemon's clock.
pub fn now() -> DateTime<Utc> {
    match simulated() {
        Some(s) => s.at(Utc::now()),
        None => Utc::now(),
    }
}

/// How long to wait in real time for `d` to pass on the daemon's clock.
pub(crate) fn real(d: Duration) -> Duration {
    simulated().map_or(d, |s| s.real_wait(d))
}

/// Sleeps until `d` has passed on the daemon's clock.
pub(crate) fn sleep(d: Duration) -> tokio::time::Sleep {
    tokio::time::sleep(real(d))
}

/// Ticks every `period` of the daemon's clock (the first tick at once, as tokio's does).
pub(crate) fn interval(period: Duration) -> tokio::time::Interval {
    tokio::time::interval(real(period))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn a_simulated_clock_reads_its_start_at_its_real_start_and_runs_at_its_speed() {
        let c = Simulated::parse("168, 2026-01-05T00:00:00Z, 2026-12-03T17:00:00Z").expect("valid");
        assert_eq!(c.at(t("2026-12-03T17:00:00Z")), t("2026-01-05T00:00:00Z"));
        // An hour of wall time is a week.
        assert_eq!(c.at(t("2026-12-03T18:00:00Z")), t("2026-01-12T00:00:00Z"));
        assert_eq!(c.real_wait(Duration::from_secs(168 * 60)), Duration::from_secs(60));
        // Short waits are floored (no busy loop), never lengthened beyond the asked wait.
        assert_eq!(c.real_wait(Duration::from_secs(1)), MIN_REAL_WAIT);
        assert_eq!(c.real_wait(Duration::from_millis(5)), Duration::from_millis(5));
        // A start at the calendar's end saturates instead of overflowing.
        let end = Simulated::parse("100000,9999-12-31T23:59:59Z,2026-12-03T17:00:00Z").expect("valid");
        assert_eq!(end.at(t("2126-12-03T17:00:00Z")), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn a_bad_clock_value_says_what_is_wrong() {
        for (value, says) in [
            ("168", "has 1 parts"),
            ("fast,2026-01-05T00:00:00Z,2026-12-03T17:00:00Z", "not a number"),
            ("0.5,2026-01-05T00:00:00Z,2026-12-03T17:00:00Z", "out of range"),
            ("168,monday,2026-12-03T17:00:00Z", "simulated time \"monday\""),
            ("168,2026-01-05T00:00:00Z,", "real time \"\""),
        ] {
            let e = Simulated::parse(value).expect_err(value).to_string();
            assert!(e.contains(says) && e.contains("expected SPEED,SIM,REAL"), "{value}: {e}");
        }
    }
}
