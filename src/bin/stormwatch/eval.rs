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

/// Negative recall and precision, macro-F1 and category accuracy on brand-crisis posts.
pub(crate) fn crisis(dir: &Path, split: Split, misses: bool, thresholds: &ThresholdArgs) -> Result<ExitCode> {
    let scorer = thresholds.scorer()?;
    let data = eval::crisis::load(dir, split)?;
    let rows = eval::crisis::crisis(&scorer, &data);
    print!("{}", eval::crisis::crisis_table(&rows));
    if misses {
        for (lang, row) in &rows {
            println!("\n{lang}: negative posts not labelled negative");
            for (id, label, compound) in &row.misses {
                println!("  {id}\t{label}\t{compound:+.3}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Language identification accuracy and throughput.
pub(crate) fn language(dir: &Path, split: Split) -> Result<ExitCode> {
    let scorer = Scorer::builtin()?;
    let data = eval::load(dir, split)?;
    print!("{}", eval::language_table(&eval::language(&scorer, &data)?));
    Ok(ExitCode::SUCCESS)
}
