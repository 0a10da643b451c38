//! `stormwatch score`: one text explained term by term, example posts, or JSON lines in batch.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use stormwatch::escape;
use stormwatch::model::Lang;
use stormwatch::sentiment::batch::score_jsonl;
use stormwatch::sentiment::{Analysis, LangSource};

use crate::args::ScoreArgs;

const EXAMPLES: &[(&str, &str)] = &[
    ("en", "Kroon Bank app has been DOWN for 3 hours and customer service won't answer. Unacceptable!!"),
    ("en", "Honestly the new Kroon Bank app is not bad at all, love the dark mode :)"),
    (
        "nl",
        "Alweer een storing bij Kroon Bank, inloggen lukt niet en de klantenservice is onbereikbaar #boycotkroonbank",
    ),
    ("nl", "Snel geholpen door de klantenservice, echt top!"),
    ("sv", "Kroon Bank ligger nere igen och kundtjänsten svarar inte. Helt värdelöst"),
    ("sv", "Jag gillar inte den nya appen, men supporten var faktiskt jättebra"),
    ("pl", "Znowu awaria w Kroon Bank, aplikacja nie działa od rana. Żenada!"),
    ("pl", "Bardzo szybka obsługa, polecam 👍"),
];

pub(crate) fn run(args: ScoreArgs) -> Result<ExitCode> {
    let lang: Option<Lang> = args.lang.as_deref().map(str::parse).transpose()?;
    let scorer = args.thresholds.scorer()?;

    if args.batch {
        let stdin = io::stdin().lock();
        let stdout = io::stdout().lock();
        let summary = score_jsonl(&scorer, stdin, stdout, io::stderr().lock())?;
        if summary.failed > 0 {
            eprintln!("stormwatch: scored {} lines, skipped {} (see messages above)", summary.scored, summary.failed);
            return Ok(ExitCode::FAILURE);
        }
        return Ok(ExitCode::SUCCESS);
    }

    let texts: Vec<(Option<Lang>, String)> = if args.examples {
        EXAMPLES.iter().map(|(l, t)| (lang.or(Lang::from_tag(l)), (*t).to_string())).collect()
    } else {
        let text =
            args.text.context("give a text to score, or --batch to read JSON lines from stdin, or --examples")?;
        vec![(lang, text)]
    };
    let mut out = io::stdout().lock();
    let mut a = Analysis::default();
    for (lang, text) in texts {
        scorer.analyze(&text, lang, &mut a);
        explain(&mut out, &text, &a)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn explain(out: &mut impl Write, text: &str, a: &Analysis) -> io::Result<()> {
    let lang = match (a.lang(), a.lang_source()) {
        (Some(l), LangSource::Given) => format!("{l} (given)"),
        (Some(l), _) => format!("{l} (detected)"),
        (None, _) if text.trim().is_empty() => "none (the text is empty)".to_string(),
        (None, _) => "unknown (no words: only emoji, emoticons, numbers or punctuation)".to_string(),
    };
    writeln!(out, "{}", escape::terminal(text))?;
    writeln!(out, "  label {}  compound {:+.3}  language {lang}", a.label(), a.compound())?;
    for h in a.hits() {
        let mut what = String::new();
        if let Some(lemma) = h.lemma {
            what.push_str(&format!("as {lemma:?}"));
        }
        for rule in h.rules.names() {
            if !what.is_empty() {
                what.push_str(", ");
            }
            what.push_str(rule);
            if let (true, Some(family)) = (rule == "complaint", h.complaint) {
                what.push_str(&format!(": {family}"));
            }
        }
        let category = h.category.map(|c| format!(" [{c}]")).unwrap_or_default();
        if h.base == 0.0 {
            // A topic word: it tags a crisis category without judging. How it was found
            // still shows ("klantenservicemedewerker" as "klantenservice", compound part).
            let how = if h.lemma.is_some() { format!(" ({what})") } else { String::new() };
            writeln!(out, "    {:<22} topic{how}{category}", escape::terminal(h.term))?;
        } else {
            what.push_str(&category);
            writeln!(out, "    {:<22} {:+.2} (lexicon {:+.2}) {what}", escape::terminal(h.term), h.score, h.base)?;
        }
    }
    if a.punctuation_emphasis() != 0.0 {
        writeln!(out, "    {:<22} {:+.2} on the sum", "! and ? emphasis", a.punctuation_emphasis())?;
    }
    let cats: Vec<String> = a.categories().map(|c| c.to_string()).collect();
    if !cats.is_empty() {
        writeln!(out, "  crisis categories: {}", cats.join(", "))?;
    }
    if a.truncated() {
        writeln!(
            out,
            "  (text truncated: only the first {} tokens were scored)",
            stormwatch::sentiment::tokenize::MAX_TOKENS
        )?;
    }
    writeln!(out)
}
