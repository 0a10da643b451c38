//! Every tunable detection knob, by the name a user writes in `[watches.thresholds]` or
//! `replay --param key=value`: its kind, its allowed range, and where it lands in
//! `WatchParams`. One table, so the config file and the replay command cannot drift apart,
//! and every mistake is named the same way: `negative_share: must be between 0 and 1, got 1.5`.

use std::time::Duration;

use super::presets::Season;
use super::watch::WatchParams;

/// A value as written: TOML gives numbers and strings; the command line gives strings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Input<'a> {
    Number(f64),
    Text(&'a str),
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A number in `[min, max]`; `whole` ones must be integers.
    Number {
        min: f64,
        max: f64,
        whole: bool,
    },
    /// A duration ("15m", "4d") in `[min, max]` seconds: unbounded windows would be
    /// unbounded memory (a ring of "9999999d" is 345 GB).
    Duration {
        min: u64,
        max: u64,
    },
    Season,
}

/// Why a knob's value cannot be used. Messages name the problem, not the path: the caller
/// knows where the value was written and prefixes it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KnobError {
    #[error("unknown threshold {key:?}; did you mean {near:?}?")]
    Misspelt { key: String, near: &'static str },
    #[error("unknown threshold {key:?}; known: {}", keys().collect::<Vec<_>>().join(", "))]
    Unknown { key: String },
    #[error("expected a number, got {0:?}")]
    NotANumber(String),
    #[error("must be between {min} and {max}, got {got}")]
    OutOfRange { min: f64, max: f64, got: f64 },
    #[error("must be a whole number, got {0}")]
    NotWhole(f64),
    #[error("expected a duration in quotes, such as \"15m\" or \"4d\"")]
    DurationNotQuoted,
    #[error("{0:?} is not a duration (use 90s, 15m, 1h, 4d)")]
    NotADuration(String),
    #[error("{text:?} is out of range: between {} and {}", human(*min), human(*max))]
    DurationOutOfRange { text: String, min: u64, max: u64 },
    #[error("expected \"off\", \"day\" or \"week\", got {0}")]
    NotASeason(String),
    #[error("k_critical ({k_critical}) must be at least k ({k}): critical is the larger spike")]
    CriticalBelowK { k_critical: f64, k: f64 },
    #[error("bucket must divide an hour evenly (1m, 5m, 15m...), got {0}")]
    BucketNotDividingHour(String),
    #[error("{key} must be at least one bucket ({bucket})")]
    WindowBelowBucket { key: &'static str, bucket: String },
}

/// Seconds as a config file writes them: "1m", "2h", "30d".
fn human(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

type Setter = fn(&mut WatchParams, Parsed);

#[derive(Debug, Clone, Copy)]
enum Parsed {
    Number(f64),
    Duration(Duration),
    Season(Season),
}

impl Parsed {
    fn number(self) -> f64 {
        match self {
            Parsed::Number(x) => x,
            _ => f64::NAN,
        }
    }
    fn duration(self) -> Duration {
        match self {
            Parsed::Duration(d) => d,
            _ => Duration::ZERO,
        }
    }
}

struct Knob {
    key: &'static str,
    kind: Kind,
    set: Setter,
}

const fn num(min: f64, max: f64) -> Kind {
    Kind::Number { min, max, whole: false }
}
const fn whole(min: f64, max: f64) -> Kind {
    Kind::Number { min, max, whole: true }
}
const fn dur(min: u64, max: u64) -> Kind {
    Kind::Duration { min, max }
}

const KNOBS: &[Knob] = &[
    // Volume: the spike test's noise units and floors (see presets.rs).
    Knob { key: "k", kind: num(0.5, 50.0), set: |p, v| p.spec.k = v.number() },
    Knob { key: "k_critical", kind: num(0.5, 100.0), set: |p, v| p.spec.k_critical = v.number() },
    Knob { key: "min_excess", kind: num(0.0, 1e9), set: |p, v| p.spec.min_excess = v.number() },
    Knob { key: "volume_factor", kind: num(1.0, 1000.0), set: |p, v| p.spec.min_factor = v.number() },
    Knob { key: "novelty", kind: dur(3600, 5184000), set: |p, v| p.spec.novelty = v.duration() },
    Knob { key: "warm_up", kind: dur(60, 5184000), set: |p, v| p.spec.warm_up = v.duration() },
    Knob { key: "level_half_life", kind: dur(3600, 31536000), set: |p, v| p.spec.level_half_life = v.duration() },
    Knob { key: "season_half_life", kind: dur(3600, 31536000), set: |p, v| p.spec.season_half_life = v.duration() },
    Knob { key: "calm", kind: dur(60, 604800), set: |p, v| p.spec.calm = v.duration() },
    Knob { key: "short", kind: dur(60, 86400), set: |p, v| p.spec.short = v.duration() },
    Knob {
        key: "season",
        kind: Kind::Season,
        set: |p, v| {
            if let Parsed::Season(s) = v {
                p.spec.season = s
            }
        },
    },
    // Windows.
    Knob { key: "bucket", kind: dur(1, 3600), set: |p, v| p.bucket = v.duration() },
    Knob { key: "lateness", kind: dur(1, 604800), set: |p, v| p.lateness = v.duration() },
    Knob { key: "ring", kind: dur(60, 604800), set: |p, v| p.ring = v.duration() },
    Knob { key: "min_mentions", kind: whole(0.0, 1e9), set: |p, v| p.min_mentions = v.number() as u32 },
    // Negativity.
    Knob { key: "negative_share", kind: num(0.0, 1.0), set: |p, v| p.negative_share = v.number() },
    Knob { key: "share_factor", kind: num(1.0, 100.0), set: |p, v| p.share_factor = v.number() },
    Knob { key: "share_z", kind: num(0.5, 50.0), set: |p, v| p.share_z = v.number() },
    Knob { key: "min_negative", kind: whole(0.0, 1e9), set: |p, v| p.min_negative = v.number() as u32 },
    Knob { key: "negativity_window", kind: dur(60, 86400), set: |p, v| p.negativity_window = v.duration() },
    // Sentiment dip.
    Knob { key: "dip_drop", kind: num(0.0, 2.0), set: |p, v| p.dip_drop = v.number() },
    Knob { key: "dip_z", kind: num(0.5, 50.0), set: |p, v| p.dip_z = v.number() },
    // High reach (0: off).
    Knob { key: "reach_followers", kind: whole(0.0, 1e15), set: |p, v| p.reach_followers = v.number() as u64 },
    // Emerging topics (topic.rs).
    Knob { key: "topic_z", kind: num(0.5, 50.0), set: |p, v| p.topics.z = v.number() },
    Knob { key: "topic_beta", kind: num(0.1, 100.0), set: |p, v| p.topics.beta = v.number() },
    Knob { key: "topic_min_mentions", kind: whole(1.0, 1e9), set: |p, v| p.topics.min_mentions = v.number() as u32 },
];

/// Old and alternative names still accepted.
const ALIASES: &[(&str, &str)] = &[("min_factor", "volume_factor")];

/// The names of every knob, for help texts.
pub(crate) fn keys() -> impl Iterator<Item = &'static str> {
    KNOBS.iter().map(|k| k.key)
}

/// Sets one knob. The error names the problem, not the path: the caller knows where the
/// value was written and prefixes it.
pub(crate) fn set(params: &mut WatchParams, key: &str, value: Input<'_>) -> Result<(), KnobError> {
    let key = key.trim();
    let canonical = ALIASES.iter().find(|(alias, _)| *alias == key).map_or(key, |(_, k)| k);
    let Some(knob) = KNOBS.iter().find(|k| k.key == canonical) else {
        return Err(unknown(key));
    };
    let parsed = parse(knob.kind, value)?;
    (knob.set)(params, parsed);
    Ok(())
}

/// Checks what no single knob can: the relations between them.
/// The ranges of single knobs hold by construction (`set`); the relations between them are
/// checked here.
pub(crate) fn check(params: &WatchParams) -> Result<(), KnobError> {
    if params.spec.k_critical < params.spec.k {
        return Err(KnobError::CriticalBelowK { k_critical: params.spec.k_critical, k: params.spec.k });
    }
    let bucket = params.bucket.as_secs();
    if bucket == 0 || bucket > 3600 || 3600 % bucket != 0 {
        return Err(KnobError::BucketNotDividingHour(humantime::format_duration(params.bucket).to_string()));
    }
    for (key, d) in [("short", params.spec.short), ("negativity_window", params.negativity_window)] {
        if d < params.bucket {
            return Err(KnobError::WindowBelowBucket {
                key,
                bucket: humantime::format_duration(params.bucket).to_string(),
            });
        }
    }
    Ok(())
}

fn parse(kind: Kind, value: Input<'_>) -> Result<Parsed, KnobError> {
    match kind {
        Kind::Number { min, max, whole } => {
            let x = match value {
                Input::Number(x) => x,
                Input::Text(t) => t.trim().parse::<f64>().map_err(|_| KnobError::NotANumber(t.to_string()))?,
            };
            if !x.is_finite() || !(min..=max).contains(&x) {
                return Err(KnobError::OutOfRange { min, max, got: x });
            }
            if whole && x.fract() != 0.0 {
                return Err(KnobError::NotWhole(x));
            }
            Ok(Parsed::Number(x))
        }
        Kind::Duration { min, max } => {
            let Input::Text(t) = value else {
                return Err(KnobError::DurationNotQuoted);
            };
            match humantime::parse_duration(t.trim()) {
                Ok(d) if (min..=max).contains(&d.as_secs()) && !d.is_zero() => Ok(Parsed::Duration(d)),
                Ok(_) => Err(KnobError::DurationOutOfRange { text: t.to_string(), min, max }),
                Err(_) => Err(KnobError::NotADuration(t.to_string())),
            }
        }
        Kind::Season => match value {
            Input::Text("off") => Ok(Parsed::Season(Season::Off)),
            Input::Text("day") => Ok(Parsed::Season(Season::Day)),
            Input::Text("week") => Ok(Parsed::Season(Season::Week)),
            other => Err(KnobError::NotASeason(format!("{other:?}"))),
        },
    }
}

fn unknown(key: &str) -> KnobError {
    let candidates = keys().chain(ALIASES.iter().map(|(a, _)| *a));
    match crate::settings::did_you_mean(key, candidates) {
        Some(near) => KnobError::Misspelt { key: key.to_string(), near },
        None => KnobError::Unknown { key: key.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Preset;

    fn balanced() -> WatchParams {
        WatchParams::new(Preset::Balanced.spec())
    }

    #[test]
    fn numbers_durations_and_seasons_land_where_they_belong() {
        let mut p = balanced();
        set(&mut p, "negative_share", Input::Number(0.4)).unwrap();
        set(&mut p, "min_mentions", Input::Text("20")).unwrap();
        set(&mut p, "negativity_window", Input::Text("10m")).unwrap();
        set(&mut p, "min_factor", Input::Number(3.0)).unwrap();
        set(&mut p, "season", Input::Text("week")).unwrap();
        assert_eq!(p.negative_share, 0.4);
        assert_eq!(p.min_mentions, 20);
        assert_eq!(p.negativity_window, Duration::from_secs(600));
        assert_eq!(p.spec.min_factor, 3.0, "the old name still works");
        assert_eq!(p.spec.season, Season::Week);
        assert!(check(&p).is_ok());
    }

    #[test]
    fn mistakes_are_named() {
        let mut p = balanced();
        let err = |p: &mut WatchParams, key: &str, v: Input<'_>| set(p, key, v).unwrap_err().to_string();
        assert_eq!(err(&mut p, "negative_share", Input::Number(1.5)), "must be between 0 and 1, got 1.5");
        assert!(err(&mut p, "negativ_share", Input::Number(0.3)).contains("did you mean \"negative_share\""));
        assert!(err(&mut p, "zzz", Input::Number(1.0)).contains("known: k, k_critical"));
        assert!(err(&mut p, "min_mentions", Input::Number(2.5)).contains("whole number"));
        assert!(err(&mut p, "short", Input::Number(15.0)).contains("duration in quotes"));
        assert!(err(&mut p, "short", Input::Text("soon")).contains("not a duration"));
        assert_eq!(
            err(&mut p, "ring", Input::Text("9999999d")),
            "\"9999999d\" is out of range: between 1m and 7d",
            "a window is memory: it has a ceiling"
        );
        assert!(err(&mut p, "lateness", Input::Text("8d")).contains("between 1s and 7d"));
        assert!(err(&mut p, "k", Input::Number(f64::NAN)).contains("between"));
        assert_eq!(p, balanced(), "a refused value changes nothing");
        set(&mut p, "k_critical", Input::Number(2.0)).unwrap();
        assert!(check(&p).unwrap_err().to_string().contains("at least k"));
        let mut p = balanced();
        set(&mut p, "bucket", Input::Text("7m")).unwrap();
        assert!(check(&p).unwrap_err().to_string().contains("divide an hour"));
    }
}
