//! `stormwatch eval`: honest numbers for the scorer and the language detector on labelled
//! data (`../shared/data/sentiment/{lang}/{dev,test}.tsv`: `id source label text`).
//!
//! Sentiment is reported per language and source: macro-F1 over the classes the source
//! labels (three with neutral; else neg and pos, where predicting neutral counts as a
//! miss), accuracy, and the share of texts the scorer calls polar.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::model::{Label, Lang};
use crate::sentiment::{Analysis, Scorer};

pub mod crisis;

/// Texts shorter than this many characters are "short" for language identification.
pub(crate) const SHORT_TEXT_CHARS: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source} (expected DIR/{{en,nl,sv,pl}}/{{dev,test}}.tsv)")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}, line {line}: {problem}")]
    Format { path: PathBuf, line: usize, problem: String },
    #[error("no data found under {0}: expected DIR/{{en,nl,sv,pl}}/{{dev,test}}.tsv")]
    Empty(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Dev,
    Test,
}

impl Split {
    pub(crate) fn file_name(self) -> &'static str {
        match self {
            Split::Dev => "dev.tsv",
            Split::Test => "test.tsv",
        }
    }
}

/// One labelled text.
#[derive(Debug, Clone)]
pub struct Example {
    pub source: String,
    pub label: Label,
    pub text: String,
}

/// Reads `dir/{lang}/{split}.tsv` for each language present; languages without a file are
/// left out (so a partial checkout still evaluates what it has).
pub fn load(dir: &Path, split: Split) -> Result<Vec<(Lang, Vec<Example>)>, EvalError> {
    read_rows(dir, split, |cols| {
        let [_, source, label, text] = cols else {
            return Err("expected 4 tab-separated columns: id, source, label, text".into());
        };
        Ok(Example { source: source.to_string(), label: label.parse()?, text: text.to_string() })
    })
}

/// Reads the rows of `dir/{lang}/{split}.tsv` (one header line, tab-separated, the last
/// column may hold anything but a newline) through `row`, which gets the columns split into
/// at most four and says what is wrong with a row it cannot read.
fn read_rows<T>(
    dir: &Path,
    split: Split,
    mut row: impl FnMut(&[&str]) -> Result<T, String>,
) -> Result<Vec<(Lang, Vec<T>)>, EvalError> {
    let mut out = Vec::new();
    for lang in Lang::ALL {
        let path = dir.join(lang.code()).join(split.file_name());
        if !path.exists() {
            continue;
        }
        let raw = std::fs::read(&path).map_err(|source| EvalError::Read { path: path.clone(), source })?;
        let text = String::from_utf8_lossy(&raw);
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.splitn(4, '\t').collect();
            let parsed =
                row(&cols).map_err(|problem| EvalError::Format { path: path.clone(), line: i + 1, problem })?;
            rows.push(parsed);
        }
        out.push((lang, rows));
    }
    if out.is_empty() {
        return Err(EvalError::Empty(dir.to_path_buf()));
    }
    Ok(out)
}

/// Gold label × predicted label counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    counts: [[u64; 3]; 3],
}

fn idx(l: Label) -> usize {
    match l {
        Label::Neg => 0,
        Label::Neu => 1,
        Label::Pos => 2,
    }
}

impl Confusion {
    pub(crate) fn add(&mut self, gold: Label, predicted: Label) {
        self.counts[idx(gold)][idx(predicted)] += 1;
    }

    pub(crate) fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    fn gold(&self, l: usize) -> u64 {
        self.counts[l].iter().sum()
    }

    fn predicted(&self, l: usize) -> u64 {
        self.counts.iter().map(|row| row[l]).sum()
    }

    /// Whether the gold labels include neutral (then F1 is over three classes).
    pub(crate) fn has_neutral(&self) -> bool {
        self.gold(1) > 0
    }

    fn f1(&self, l: usize) -> f64 {
        let tp = self.counts[l][l] as f64;
        let (p, g) = (self.predicted(l) as f64, self.gold(l) as f64);
        if tp == 0.0 || p == 0.0 || g == 0.0 {
            return 0.0;
        }
        let (precision, recall) = (tp / p, tp / g);
        2.0 * precision * recall / (precision + recall)
    }

    /// Macro-F1 over neg/neu/pos when the gold labels have neutral, else over neg/pos (a
    /// neutral prediction is then a miss: it lowers recall and is never right).
    pub fn macro_f1(&self) -> f64 {
        let classes: &[usize] = if self.has_neutral() { &[0, 1, 2] } else { &[0, 2] };
        classes.iter().map(|&l| self.f1(l)).sum::<f64>() / classes.len() as f64
    }

    pub(crate) fn accuracy(&self) -> f64 {
        let right: u64 = (0..3).map(|l| self.counts[l][l]).sum();
        ratio(right, self.total())
    }

    /// Share of the texts labelled `l` that the scorer labelled `l`.
    pub fn recall(&self, l: Label) -> f64 {
        ratio(self.counts[idx(l)][idx(l)], self.gold(idx(l)))
    }

    /// Share of the texts the scorer labelled `l` that are labelled `l`.
    pub fn precision(&self, l: Label) -> f64 {
        ratio(self.counts[idx(l)][idx(l)], self.predicted(idx(l)))
    }

    /// The counts as a Markdown table, gold labels in rows.
    pub(crate) fn matrix_table(&self) -> String {
        let mut s = String::from("| gold \\ predicted | neg | neu | pos |\n|---|---:|---:|---:|\n");
        for (l, name) in ["neg", "neu", "pos"].iter().enumerate() {
            let r = self.counts[l];
            let _ = writeln!(s, "| {name} | {} | {} | {} |", r[0], r[1], r[2]);
        }
        s
    }

    /// Share of texts predicted neg or pos.
    pub(crate) fn polar_share(&self) -> f64 {
        ratio(self.predicted(0) + self.predicted(2), self.total())
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[derive(Debug, Clone)]
pub struct SentimentRow {
    pub lang: Lang,
    pub source: String,
    pub confusion: Confusion,
}

/// Scores every example with its folder's language (or detected, with `detect`).
pub fn sentiment(scorer: &Scorer, data: &[(Lang, Vec<Example>)], detect: bool) -> Vec<SentimentRow> {
    let mut rows: BTreeMap<(Lang, String), Confusion> = BTreeMap::new();
    let mut a = Analysis::default();
    for (lang, examples) in data {
        for ex in examples {
            scorer.analyze(&ex.text, (!detect).then_some(*lang), &mut a);
            rows.entry((*lang, ex.source.clone())).or_default().add(ex.label, a.label());
        }
    }
    rows.into_iter().map(|((lang, source), confusion)| SentimentRow { lang, source, confusion }).collect()
}

pub fn sentiment_table(rows: &[SentimentRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| lang | source | n | classes | macro-F1 | accuracy | polar share |");
    let _ = writeln!(s, "|---|---|---:|---|---:|---:|---:|");
    for r in rows {
        let c = &r.confusion;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.3} | {:.3} | {:.3} |",
            r.lang,
            r.source,
            c.total(),
            if c.has_neutral() { "neg/neu/pos" } else { "neg/pos" },
            c.macro_f1(),
            c.accuracy(),
            c.polar_share()
        );
    }
    s
}

/// Language identification accuracy per language, on short texts and on all.
#[derive(Debug, Clone, Default)]
pub struct LangRow {
    pub short_right: u64,
    pub short_total: u64,
    pub all_right: u64,
    pub all_total: u64,
}

pub struct LangReport {
    pub rows: Vec<(Lang, LangRow)>,
    pub texts_per_second: f64,
}

pub fn language(scorer: &Scorer, data: &[(Lang, Vec<Example>)]) -> Result<LangReport, crate::sentiment::LexiconError> {
    let detector = scorer.detector()?;
    let mut rows = Vec::new();
    let mut n = 0u64;
    let start = Instant::now();
    for (lang, examples) in data {
        let mut row = LangRow::default();
        for ex in examples {
            let right = detector.detect(&ex.text) == Some(*lang);
            let short = ex.text.chars().count() < SHORT_TEXT_CHARS;
            row.all_total += 1;
            row.all_right += right as u64;
            if short {
                row.short_total += 1;
                row.short_right += right as u64;
            }
            n += 1;
        }
        rows.push((*lang, row));
    }
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    Ok(LangReport { rows, texts_per_second: n as f64 / secs })
}

pub fn language_table(report: &LangReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| lang | short (< {SHORT_TEXT_CHARS} chars) | all texts |");
    let _ = writeln!(s, "|---|---:|---:|");
    let mut total = LangRow::default();
    let pct = |a: u64, b: u64| format!("{a}/{b} ({:.1}%)", 100.0 * ratio(a, b));
    for (lang, r) in &report.rows {
        let _ = writeln!(s, "| {lang} | {} | {} |", pct(r.short_right, r.short_total), pct(r.all_right, r.all_total));
        total.short_right += r.short_right;
        total.short_total += r.short_total;
        total.all_right += r.all_right;
        total.all_total += r.all_total;
    }
    let _ = writeln!(
        s,
        "| all | {} | {} |",
        pct(total.short_right, total.short_total),
        pct(total.all_right, total.all_total)
    );
    let _ = writeln!(s, "\nthroughput: {:.0} texts/s (one thread, including tokenizing)", report.texts_per_second);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_class_f1_counts_neutral_predictions_as_misses() {
        let mut c = Confusion::default();
        // 2 neg gold: one right, one predicted neutral. 2 pos gold: both right.
        c.add(Label::Neg, Label::Neg);
        c.add(Label::Neg, Label::Neu);
        c.add(Label::Pos, Label::Pos);
        c.add(Label::Pos, Label::Pos);
        assert!(!c.has_neutral());
        // neg: P=1, R=0.5 → F1=2/3; pos: P=1, R=1 → 1.
        assert!((c.macro_f1() - (2.0 / 3.0 + 1.0) / 2.0).abs() < 1e-9);
        assert!((c.accuracy() - 0.75).abs() < 1e-9);
        assert!((c.polar_share() - 0.75).abs() < 1e-9);
    }

    #[test]
    fn three_class_f1_when_gold_has_neutral() {
        let mut c = Confusion::default();
        c.add(Label::Neu, Label::Neu);
        c.add(Label::Neg, Label::Pos);
        c.add(Label::Pos, Label::Pos);
        assert!(c.has_neutral());
        // neg F1 0; neu F1 1; pos P=0.5 R=1 → 2/3.
        assert!((c.macro_f1() - (0.0 + 1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-9);
    }

    #[test]
    fn missing_data_dir_is_a_clear_error() {
        let err = load(Path::new("/nonexistent/stormwatch-data"), Split::Dev).unwrap_err();
        assert!(err.to_string().contains("expected DIR/{en,nl,sv,pl}/{dev,test}.tsv"), "{err}");
    }
}
