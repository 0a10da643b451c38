//! `stormwatch replay`: backtesting thresholds on history, at full speed, with no network
//! and no delivery. Two inputs:
//!
//! * `--counts series.csv`: a count-only series through the volume detector (`counts.rs`);
//! * `--input mentions.jsonl` with a config: mentions through matching, scoring and every
//!   detector of the config's watches (`mentions.rs`).
//!
//! `--chart out.svg|out.html` draws what the detector saw (`chart.rs`).

pub mod chart;
pub mod counts;

use crate::detect::presets::{PresetSpec, Season};

/// Applies `key=value` overrides to a preset: the advanced knobs behind the presets.
pub fn apply_params(mut spec: PresetSpec, params: &[String]) -> Result<PresetSpec, String> {
    for p in params {
        let (k, v) = p.split_once('=').ok_or_else(|| format!("--param {p:?}: expected key=value"))?;
        let num = || v.trim().parse::<f64>().map_err(|_| format!("--param {k}: {v:?} is not a number"));
        let dur = || humantime::parse_duration(v.trim()).map_err(|_| format!("--param {k}: {v:?} is not a duration"));
        match k.trim() {
            "k" => spec.k = num()?,
            "k_critical" => spec.k_critical = num()?,
            "min_excess" => spec.min_excess = num()?,
            "min_factor" => spec.min_factor = num()?,
            "novelty" => spec.novelty = dur()?,
            "warm_up" => spec.warm_up = dur()?,
            "level_half_life" => spec.level_half_life = dur()?,
            "season_half_life" => spec.season_half_life = dur()?,
            "calm" => spec.calm = dur()?,
            "short" => spec.short = dur()?,
            "season" => {
                spec.season = match v.trim() {
                    "off" => Season::Off,
                    "day" => Season::Day,
                    "week" => Season::Week,
                    other => return Err(format!("--param season: {other:?}: expected off, day or week")),
                }
            }
            other => {
                return Err(format!(
                    "--param {other:?}: unknown; known: k, k_critical, min_excess, min_factor, novelty, warm_up, \
                     level_half_life, season_half_life, calm, short, season"
                ))
            }
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Preset;

    #[test]
    fn params_override_a_preset_and_unknown_ones_are_named() {
        let spec =
            apply_params(Preset::Balanced.spec(), &["k=4.5".into(), "novelty=2d".into(), "short=5m".into()]).unwrap();
        assert_eq!((spec.k, spec.novelty.as_secs(), spec.short.as_secs()), (4.5, 2 * 86400, 300));
        assert!(apply_params(Preset::Balanced.spec(), &["kk=1".into()]).unwrap_err().contains("unknown"));
        assert!(apply_params(Preset::Balanced.spec(), &["k=high".into()]).unwrap_err().contains("not a number"));
    }
}
