//! `stormwatch eval`: the scorer and the language detector measured on labelled data.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use stormwatch::sentiment::eval::{self, Split};
use stormwatch::sentiment::Scorer;

use crate::args::ThresholdArgs;

/// Macro-F1, accuracy and polar share per language and source.
pub(crate) fn sentiment(dir: &Path, split: Split, detect: bool, thresholds: &ThresholdArgs) -> Result<ExitCode> {
    let scorer = thresholds.scorer()?;
    let data = eval::load(dir, split)?;
    print!("{}", eval::sentiment_table(&eval::sentiment(&scorer, &data, detect)));
    Ok(ExitCode::SUCCESS)
}

/// Language identification accuracy and throughput.
pub(crate) fn language(dir: &Path, split: Split) -> Result<ExitCode> {
    let scorer = Scorer::builtin()?;
    let data = eval::load(dir, split)?;
    print!("{}", eval::language_table(&eval::language(&scorer, &data)?));
    Ok(ExitCode::SUCCESS)
}
