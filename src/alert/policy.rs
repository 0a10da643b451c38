//! Whether a notification goes to a receiver now or is held: quiet hours hold what is not
//! critical until they end; past the hourly cap everything waits for the hour to free up.
//! Held notifications are never dropped: the outbox sends them as one summary on release.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};

use super::episode::Event;
use super::routing::ReceiverPolicy;
use crate::model::{Lang, Severity};
use crate::secret::SecretRef;

/// How episodes turn into notifications (`[alerts]`); every key has a default.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPolicy {
    /// A warning must last this long before it fires (`for`); critical fires at once.
    pub pending_for: std::time::Duration,
    /// At most one update per episode per this, while it grows.
    pub repeat_interval: std::time::Duration,
    /// A new kind of signal joining an incident is told this long after the last notice at
    /// the earliest, so signals that trip minutes apart arrive as one update.
    pub group_interval: std::time::Duration,
    /// How receivers that do not say otherwise group signals.
    pub group_by: super::routing::GroupBy,
    /// Back to normal for this long before "resolved" is sent; a signal within it continues
    /// the episode silently (flapping).
    pub resolve_after: std::time::Duration,
    /// A new episode of the same watch and signal within this after the last one resolved
    /// reopens that one without a new "firing" notification.
    pub cooldown: std::time::Duration,
    /// Base of acknowledge links, e.g. "https://stormwatch.example.org".
    pub public_url: String,
    /// Key that signs acknowledge links; generated and kept in the state file when not given.
    pub ack_secret: Option<SecretRef>,
    /// How long an acknowledge link stays valid.
    pub ack_link_ttl: std::time::Duration,
    /// The outbox gives a delivery up after retrying this long.
    pub max_age: std::time::Duration,
    /// Receives what another receiver could not be given.
    pub fallback: Option<String>,
    /// Language of holding statements when the evidence shows none.
    pub language: Lang,
    /// Holding-statement overrides, checked when the config was read.
    pub holding_statements: super::holding::Templates,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        let minutes = |m: u64| std::time::Duration::from_secs(60 * m);
        AlertPolicy {
            pending_for: std::time::Duration::ZERO,
            repeat_interval: minutes(30),
            group_interval: minutes(5),
            group_by: super::routing::GroupBy::Watch,
            resolve_after: minutes(15),
            cooldown: minutes(60),
            public_url: "http://127.0.0.1:9464".into(),
            ack_secret: None,
            ack_link_ttl: minutes(7 * 24 * 60),
            max_age: minutes(6 * 60),
            fallback: None,
            language: Lang::En,
            holding_statements: super::holding::Templates::default(),
        }
    }
}

/// Hours of the day (in a time zone) when a receiver gets only critical alerts; the rest is
/// held and sent as one summary when they end. `start > end` spans midnight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub tz: chrono_tz::Tz,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    Send,
    Hold { until: DateTime<Utc>, reason: HoldReason },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HoldReason {
    QuietHours,
    HourlyCap,
}

impl HoldReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HoldReason::QuietHours => "quiet_hours",
            HoldReason::HourlyCap => "hourly_cap",
        }
    }
}

/// `sent_in_hour`: notifications the receiver got in the last hour, the oldest at `oldest`.
pub(crate) fn gate(
    receiver: &ReceiverPolicy,
    severity: Severity,
    event: Event,
    now: DateTime<Utc>,
    sent_in_hour: u32,
    oldest: Option<DateTime<Utc>>,
) -> Gate {
    // A "resolved" never needs to wake anyone.
    let urgent = severity == Severity::Critical && event != Event::Resolved;
    if let Some(q) = receiver.quiet_hours.filter(|_| !urgent) {
        if let Some(until) = quiet_until(&q, now) {
            return Gate::Hold { until, reason: HoldReason::QuietHours };
        }
    }
    if sent_in_hour >= receiver.max_per_hour {
        let until = oldest.map_or(now, |o| o + Duration::hours(1)).max(now + Duration::seconds(1));
        return Gate::Hold { until, reason: HoldReason::HourlyCap };
    }
    Gate::Send
}

/// When the quiet hours around `now` end, or `None` outside them.
pub(crate) fn quiet_until(q: &QuietHours, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = now.with_timezone(&q.tz).naive_local();
    let t = local.time();
    let quiet = if q.start < q.end { q.start <= t && t < q.end } else { t >= q.start || t < q.end };
    if !quiet {
        return None;
    }
    let mut day = local.date();
    if t >= q.end {
        day = day.succ_opt()?;
    }
    Some(local_instant(q, day.and_time(q.end)))
}

/// A local wall-clock time as an instant; in a DST gap, the first instant after it.
fn local_instant(q: &QuietHours, wall: chrono::NaiveDateTime) -> DateTime<Utc> {
    let mut wall = wall;
    for _ in 0..4 {
        if let Some(t) = q.tz.from_local_datetime(&wall).earliest() {
            return t.with_timezone(&Utc);
        }
        wall += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&wall)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receiver(quiet: Option<QuietHours>, cap: u32) -> ReceiverPolicy {
        ReceiverPolicy {
            name: "team".into(),
            min_severity: Severity::Warning,
            watches: Vec::new(),
            escalation_only: false,
            max_per_hour: cap,
            quiet_hours: quiet,
            escalate_after: None,
            escalate_to: Vec::new(),
            group_by: crate::alert::GroupBy::Watch,
        }
    }

    fn amsterdam_night() -> QuietHours {
        let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default();
        QuietHours { start: t(22), end: t(7), tz: chrono_tz::Europe::Amsterdam }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn quiet_hours_hold_warnings_until_local_morning_and_let_critical_through() {
        let r = receiver(Some(amsterdam_night()), 30);
        // 01:30 UTC in November is 02:30 in Amsterdam: quiet until 07:00 local = 06:00 UTC.
        let now = utc("2026-11-22T01:30:00Z");
        assert_eq!(
            gate(&r, Severity::Warning, Event::Firing, now, 0, None),
            Gate::Hold { until: utc("2026-11-22T06:00:00Z"), reason: HoldReason::QuietHours }
        );
        assert_eq!(gate(&r, Severity::Critical, Event::Firing, now, 0, None), Gate::Send);
        assert!(matches!(gate(&r, Severity::Critical, Event::Resolved, now, 0, None), Gate::Hold { .. }));
        // 21:30 local (20:30 UTC) is before they start; 22:30 local holds until the next morning.
        assert_eq!(gate(&r, Severity::Warning, Event::Firing, utc("2026-11-22T20:30:00Z"), 0, None), Gate::Send);
        assert_eq!(quiet_until(&amsterdam_night(), utc("2026-11-22T21:30:00Z")), Some(utc("2026-11-23T06:00:00Z")));
        // In summer Amsterdam is UTC+2.
        assert_eq!(quiet_until(&amsterdam_night(), utc("2026-07-01T01:00:00Z")), Some(utc("2026-07-01T05:00:00Z")));
    }

    #[test]
    fn over_the_cap_waits_for_the_oldest_to_leave_the_hour() {
        let r = receiver(None, 3);
        let now = utc("2026-11-22T12:00:00Z");
        assert_eq!(gate(&r, Severity::Critical, Event::Firing, now, 2, None), Gate::Send);
        assert_eq!(
            gate(&r, Severity::Critical, Event::Firing, now, 3, Some(utc("2026-11-22T11:20:00Z"))),
            Gate::Hold { until: utc("2026-11-22T12:20:00Z"), reason: HoldReason::HourlyCap }
        );
    }
}
