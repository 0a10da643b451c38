//! `stormwatch eval crisis`: the scorer on brand-crisis posts (`DIR/{lang}/{split}.tsv` with
//! columns `id label category text`, the format of `../shared/data/crisis/`).
//!
//! A crisis team needs two answers from a post: is it a complaint (negative recall and
//! precision), and what kind (the top-ranked category, right or wrong, on the negative posts
//! only: a category on a neutral post is not scored here, its label is).

use std::fmt::Write as _;
use std::path::Path;

use crate::model::{CrisisCategory, Label, Lang};
use crate::sentiment::{Analysis, Scorer};

use super::{read_rows, Confusion, EvalError, Split};

/// One labelled crisis post.
#[derive(Debug, Clone)]
pub struct CrisisExample {
    pub id: String,
    pub label: Label,
    /// The category a negative post is filed under; `None` for neutral and positive posts.
    pub category: Option<CrisisCategory>,
    pub text: String,
}

/// The data set's category names: `privacy` is our `privacy_fraud`; `neutral` and `praise`
/// go with the neutral and positive labels.
fn parse_category(s: &str) -> Result<Option<CrisisCategory>, String> {
    match s {
        "neutral" | "praise" => Ok(None),
        "privacy" => Ok(Some(CrisisCategory::PrivacyFraud)),
        other => other.parse().map(Some),
    }
}

pub fn load(dir: &Path, split: Split) -> Result<Vec<(Lang, Vec<CrisisExample>)>, EvalError> {
    read_rows(dir, split, |cols| {
        let [id, label, category, text] = cols else {
            return Err("expected 4 tab-separated columns: id, label, category, text".into());
        };
        Ok(CrisisExample {
            id: id.to_string(),
            label: label.parse()?,
            category: parse_category(category)?,
            text: text.to_string(),
        })
    })
}

/// Category right or wrong on the negative posts of one language.
#[derive(Debug, Clone, Default)]
pub struct CrisisRow {
    pub confusion: Confusion,
    pub category_right: u64,
    pub category_total: u64,
    /// Negative posts the scorer missed, with what it said, for reading (not printed by
    /// default: the table is the report).
    pub misses: Vec<(String, Label, f32)>,
    /// Gold category → predicted top category (None: no category found).
    pub categories: Vec<(CrisisCategory, Option<CrisisCategory>)>,
}

impl CrisisRow {
    pub fn category_accuracy(&self) -> f64 {
        super::ratio(self.category_right, self.category_total)
    }
}

pub fn crisis(scorer: &Scorer, data: &[(Lang, Vec<CrisisExample>)]) -> Vec<(Lang, CrisisRow)> {
    let mut a = Analysis::default();
    data.iter()
        .map(|(lang, examples)| {
            let mut row = CrisisRow::default();
            for ex in examples {
                scorer.analyze(&ex.text, Some(*lang), &mut a);
                row.confusion.add(ex.label, a.label());
                if ex.label == Label::Neg && a.label() != Label::Neg {
                    row.misses.push((ex.id.clone(), a.label(), a.compound()));
                }
                if let (Label::Neg, Some(gold)) = (ex.label, ex.category) {
                    let top = a.categories().next();
                    row.category_total += 1;
                    row.category_right += u64::from(top == Some(gold));
                    row.categories.push((gold, top));
                }
            }
            (*lang, row)
        })
        .collect()
}

pub fn crisis_table(rows: &[(Lang, CrisisRow)]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| lang | n | neg recall | neg precision | macro-F1 (3 classes) | category (neg posts) |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for (lang, r) in rows {
        let c = &r.confusion;
        let _ = writeln!(
            s,
            "| {lang} | {} | {:.3} | {:.3} | {:.3} | {:.3} ({}/{}) |",
            c.total(),
            c.recall(Label::Neg),
            c.precision(Label::Neg),
            c.macro_f1(),
            r.category_accuracy(),
            r.category_right,
            r.category_total
        );
    }
    for (lang, r) in rows {
        let _ = writeln!(s, "\n{lang}: gold (rows) × predicted (columns)\n");
        s.push_str(&r.confusion.matrix_table());
        let _ = writeln!(s, "\n{lang}: category, gold (rows) × predicted top category (columns)\n");
        s.push_str(&category_matrix(&r.categories));
    }
    s
}

fn category_matrix(pairs: &[(CrisisCategory, Option<CrisisCategory>)]) -> String {
    let mut s = String::from("| gold \\ predicted |");
    for c in CrisisCategory::ALL {
        let _ = write!(s, " {c} |");
    }
    s.push_str(" none |\n|---|");
    s.push_str(&"---:|".repeat(CrisisCategory::ALL.len() + 1));
    s.push('\n');
    for gold in CrisisCategory::ALL {
        let _ = write!(s, "| {gold} |");
        let count = |p: Option<CrisisCategory>| pairs.iter().filter(|(g, t)| *g == gold && *t == p).count();
        for p in CrisisCategory::ALL {
            let _ = write!(s, " {} |", count(Some(p)));
        }
        let _ = writeln!(s, " {} |", count(None));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_set_category_names_map_onto_ours() {
        assert_eq!(parse_category("privacy"), Ok(Some(CrisisCategory::PrivacyFraud)));
        assert_eq!(parse_category("outage"), Ok(Some(CrisisCategory::Outage)));
        assert_eq!(parse_category("praise"), Ok(None));
        assert!(parse_category("weather").is_err());
    }

    #[test]
    fn a_malformed_row_names_file_and_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("pl")).expect("mkdir");
        std::fs::write(
            dir.path().join("pl/dev.tsv"),
            "id\tlabel\tcategory\ttext\npl-1\tneg\toutage\tAwaria\npl-2\tneg\tweather\tDeszcz\n",
        )
        .expect("write");
        let err = load(dir.path(), Split::Dev).unwrap_err().to_string();
        assert!(err.contains("pl/dev.tsv, line 3") && err.contains("weather"), "{err}");
    }

    #[test]
    fn category_accuracy_counts_only_negative_posts() {
        let scorer = Scorer::builtin().expect("lexicons");
        let ex =
            |label: Label, category, text: &str| CrisisExample { id: "x".into(), label, category, text: text.into() };
        let data = vec![(
            Lang::En,
            vec![
                ex(Label::Neg, Some(CrisisCategory::Outage), "The app is down again, outage all morning"),
                ex(Label::Pos, None, "Love the new app"),
            ],
        )];
        let rows = crisis(&scorer, &data);
        let r = &rows[0].1;
        assert_eq!(r.category_total, 1);
        assert_eq!(r.category_right, 1);
        assert_eq!(r.confusion.total(), 2);
    }
}
