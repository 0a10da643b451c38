//! `stormwatch replay`: backtesting thresholds on history, at full speed, with no network
//! and no delivery. Two inputs:
//!
//! * `--counts series.csv`: a count-only series through the volume detector (`counts.rs`);
//! * `--input mentions.jsonl` with a config: mentions through matching, scoring and every
//!   detector of the config's watches (`mentions.rs`).
//!
//! `--chart out.svg|out.html` draws what the detector saw (`crate::plot`).

pub mod counts;
pub mod mentions;

use crate::detect::knobs::{self, Input, KnobError};
use crate::detect::WatchParams;

/// Why a `--param` cannot be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("--param {0:?}: expected key=value")]
    NotKeyValue(String),
    #[error("--param {key}: {source}")]
    Knob { key: String, source: KnobError },
    #[error("--param: {0}")]
    Together(KnobError),
}

/// Applies `key=value` overrides (`--param`) to a watch's parameters: the same knobs, names
/// and checks as `[watches.thresholds]` in the config file.
pub fn apply_params(mut params: WatchParams, overrides: &[String]) -> Result<WatchParams, ParamError> {
    for p in overrides {
        let (k, v) = p.split_once('=').ok_or_else(|| ParamError::NotKeyValue(p.clone()))?;
        knobs::set(&mut params, k, Input::Text(v.trim()))
            .map_err(|source| ParamError::Knob { key: k.trim().to_string(), source })?;
    }
    knobs::check(&params).map_err(ParamError::Together)?;
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Preset;

    #[test]
    fn params_override_a_preset_and_unknown_ones_are_named() {
        let base = WatchParams::new(Preset::Balanced.spec());
        let p = apply_params(base.clone(), &["k=4.5".into(), "novelty=2d".into(), "short=5m".into()]).unwrap();
        let spec = p.spec;
        assert_eq!((spec.k, spec.novelty.as_secs(), spec.short.as_secs()), (4.5, 2 * 86400, 300));
        assert!(apply_params(base.clone(), &["kk=1".into()]).unwrap_err().to_string().contains("unknown"));
        assert!(apply_params(base, &["k=high".into()]).unwrap_err().to_string().contains("expected a number"));
    }
}
