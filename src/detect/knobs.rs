//! Every tunable detection knob, by the name a user writes in `[watches.thresholds]` or
//! `replay --param key=value`: its kind, its allowed range, and where it lands in
//! `WatchParams`. One table, so the config file and the replay command cannot drift apart,
//! and every mistake is named the same way: `negative_share: must be between 0 and 1, got 1.5`.

use std::time::Duration;

use super::presets::Season;
use super::watch::WatchParams;

/// A value as written: TOML gives numbers and strings; the command line gives strings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input<'a> {
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
    /// A duration ("15m", "4d"), strictly positive.
    Duration,
    Season,
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

const KNOBS: &[Knob] = &[
    // Volume: the spike test's noise units and floors (see presets.rs).
    Knob { key: "k", kind: num(0.5, 50.0), set: |p, v| p.spec.k = v.number() },
    Knob { key: "k_critical", kind: num(0.5, 100.0), set: |p, v| p.spec.k_critical = v.number() },
    Knob { key: "min_excess", kind: num(0.0, 1e9), set: |p, v| p.spec.min_excess = v.number() },
    Knob { key: "volume_factor", kind: num(1.0, 1000.0), set: |p, v| p.spec.min_factor = v.number() },
    Knob { key: "novelty", kind: Kind::Duration, set: |p, v| p.spec.novelty = v.duration() },
    Knob { key: "warm_up", kind: Kind::Duration, set: |p, v| p.spec.warm_up = v.duration() },
    Knob { key: "level_half_life", kind: Kind::Duration, set: |p, v| p.spec.level_half_life = v.duration() },
    Knob { key: "season_half_life", kind: Kind::Duration, set: |p, v| p.spec.season_half_life = v.duration() },
    Knob { key: "calm", kind: Kind::Duration, set: |p, v| p.spec.calm = v.duration() },
    Knob { key: "short", kind: Kind::Duration, set: |p, v| p.spec.short = v.duration() },
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
    Knob { key: "bucket", kind: Kind::Duration, set: |p, v| p.bucket = v.duration() },
    Knob { key: "lateness", kind: Kind::Duration, set: |p, v| p.lateness = v.duration() },
    Knob { key: "ring", kind: Kind::Duration, set: |p, v| p.ring = v.duration() },
    Knob { key: "min_mentions", kind: whole(0.0, 1e9), set: |p, v| p.min_mentions = v.number() as u32 },
    // Negativity.
    Knob { key: "negative_share", kind: num(0.0, 1.0), set: |p, v| p.negative_share = v.number() },
    Knob { key: "share_factor", kind: num(1.0, 100.0), set: |p, v| p.share_factor = v.number() },
    Knob { key: "share_z", kind: num(0.5, 50.0), set: |p, v| p.share_z = v.number() },
    Knob { key: "min_negative", kind: whole(0.0, 1e9), set: |p, v| p.min_negative = v.number() as u32 },
    Knob { key: "negativity_window", kind: Kind::Duration, set: |p, v| p.negativity_window = v.duration() },
    // Sentiment dip.
    Knob { key: "dip_drop", kind: num(0.0, 2.0), set: |p, v| p.dip_drop = v.number() },
    Knob { key: "dip_z", kind: num(0.5, 50.0), set: |p, v| p.dip_z = v.number() },
    // High reach (0: off).
    Knob { key: "reach_followers", kind: whole(0.0, 1e15), set: |p, v| p.reach_followers = v.number() as u64 },
];

/// Old and alternative names still accepted.
const ALIASES: &[(&str, &str)] = &[("min_factor", "volume_factor")];

/// The names of every knob, for help texts.
pub fn keys() -> impl Iterator<Item = &'static str> {
    KNOBS.iter().map(|k| k.key)
}

/// Sets one knob. The error names the problem, not the path: the caller knows where the
/// value was written and prefixes it.
pub fn set(params: &mut WatchParams, key: &str, value: Input<'_>) -> Result<(), String> {
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
pub fn check(params: &WatchParams) -> Result<(), String> {
    if params.spec.k_critical < params.spec.k {
        return Err(format!(
            "k_critical ({}) must be at least k ({}): critical is the larger spike",
            params.spec.k_critical, params.spec.k
        ));
    }
    let bucket = params.bucket.as_secs();
    if bucket == 0 || bucket > 3600 || 3600 % bucket != 0 {
        return Err(format!(
            "bucket must divide an hour evenly (1m, 5m, 15m...), got {}",
            humantime::format_duration(params.bucket)
        ));
    }
    for (key, d) in [("short", params.spec.short), ("negativity_window", params.negativity_window)] {
        if d < params.bucket {
            return Err(format!("{key} must be at least one bucket ({})", humantime::format_duration(params.bucket)));
        }
        if d > Duration::from_secs(24 * 3600) {
            return Err(format!("{key} must be at most a day, got {}", humantime::format_duration(d)));
        }
    }
    if params.lateness > Duration::from_secs(7 * 24 * 3600) {
        return Err(format!("lateness must be at most 7 days, got {}", humantime::format_duration(params.lateness)));
    }
    Ok(())
}

fn parse(kind: Kind, value: Input<'_>) -> Result<Parsed, String> {
    match kind {
        Kind::Number { min, max, whole } => {
            let x = match value {
                Input::Number(x) => x,
                Input::Text(t) => t.trim().parse::<f64>().map_err(|_| format!("expected a number, got {t:?}"))?,
            };
            if !(min..=max).contains(&x) {
                return Err(format!("must be between {min} and {max}, got {x}"));
            }
            if whole && x.fract() != 0.0 {
                return Err(format!("must be a whole number, got {x}"));
            }
            Ok(Parsed::Number(x))
        }
        Kind::Duration => {
            let Input::Text(t) = value else {
                return Err("expected a duration in quotes, such as \"15m\" or \"4d\"".into());
            };
            match humantime::parse_duration(t.trim()) {
                Ok(d) if d > Duration::ZERO => Ok(Parsed::Duration(d)),
                Ok(_) => Err(format!("{t:?} must be longer than zero")),
                Err(_) => Err(format!("{t:?} is not a duration (use 90s, 15m, 1h, 4d)")),
            }
        }
        Kind::Season => match value {
            Input::Text("off") => Ok(Parsed::Season(Season::Off)),
            Input::Text("day") => Ok(Parsed::Season(Season::Day)),
            Input::Text("week") => Ok(Parsed::Season(Season::Week)),
            other => Err(format!("expected \"off\", \"day\" or \"week\", got {other:?}")),
        },
    }
}

fn unknown(key: &str) -> String {
    let nearest = keys().chain(ALIASES.iter().map(|(a, _)| *a)).min_by_key(|k| edit_distance(key, k));
    match nearest.filter(|k| edit_distance(key, k) <= (key.len() / 4).max(1)) {
        Some(k) => format!("unknown threshold {key:?}; did you mean {k:?}?"),
        None => format!("unknown threshold {key:?}; known: {}", keys().collect::<Vec<_>>().join(", ")),
    }
}

/// Levenshtein distance, for did-you-mean.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb)).min(above + 1).min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
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
        assert_eq!(set(&mut p, "negative_share", Input::Number(1.5)).unwrap_err(), "must be between 0 and 1, got 1.5");
        assert!(set(&mut p, "negativ_share", Input::Number(0.3))
            .unwrap_err()
            .contains("did you mean \"negative_share\""));
        assert!(set(&mut p, "zzz", Input::Number(1.0)).unwrap_err().contains("known: k, k_critical"));
        assert!(set(&mut p, "min_mentions", Input::Number(2.5)).unwrap_err().contains("whole number"));
        assert!(set(&mut p, "short", Input::Number(15.0)).unwrap_err().contains("duration in quotes"));
        assert!(set(&mut p, "short", Input::Text("soon")).unwrap_err().contains("not a duration"));
        assert_eq!(p, balanced(), "a refused value changes nothing");
        set(&mut p, "k_critical", Input::Number(2.0)).unwrap();
        assert!(check(&p).unwrap_err().contains("at least k"));
        let mut p = balanced();
        set(&mut p, "bucket", Input::Text("7m")).unwrap();
        assert!(check(&p).unwrap_err().contains("divide an hour"));
    }
}
