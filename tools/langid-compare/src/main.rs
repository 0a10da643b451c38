//! langid-compare: measures language identifiers on the stormwatch sentiment
//! data (en, nl, sv, pl), with a focus on short texts (< 40 chars).
//!
//! Usage:
//!   langid-compare --data DIR --split dev|test            # all detectors, one child process each
//!   langid-compare --data DIR --split dev --only NAME     # one detector in this process
//!
//! Without `--only`, the program re-runs itself once per detector (so peak
//! memory figures are per detector) and prints markdown tables.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The four languages stormwatch cares about. Any other answer (or none) is wrong.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum L {
    En,
    Nl,
    Sv,
    Pl,
}

const LANGS: [(L, &str); 4] = [(L::En, "en"), (L::Nl, "nl"), (L::Sv, "sv"), (L::Pl, "pl")];

/// Names accepted by `--only`, in report order.
const DETECTORS: [&str; 5] = [
    "whatlang-detect",
    "whatlang-allowlist",
    "lingua-high",
    "lingua-low",
    "stormwatch",
];

const SHORT: usize = 40;

type Detector = Box<dyn Fn(&str) -> Option<L>>;

fn from_whatlang(l: whatlang::Lang) -> Option<L> {
    use whatlang::Lang::*;
    match l {
        Eng => Some(L::En),
        Nld => Some(L::Nl),
        Swe => Some(L::Sv),
        Pol => Some(L::Pl),
        _ => None,
    }
}

fn from_lingua(l: lingua::Language) -> Option<L> {
    use lingua::Language::*;
    match l {
        English => Some(L::En),
        Dutch => Some(L::Nl),
        Swedish => Some(L::Sv),
        Polish => Some(L::Pl),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

fn lingua_detector(low_accuracy: bool) -> Detector {
    use lingua::Language::{Dutch, English, Polish, Swedish};
    let mut builder = lingua::LanguageDetectorBuilder::from_languages(&[English, Dutch, Swedish, Polish]);
    // Preload so the timed loop does not include lazy model loading.
    builder.with_preloaded_language_models();
    if low_accuracy {
        builder.with_low_accuracy_mode();
    }
    let det = builder.build();
    Box::new(move |t| det.detect_language_of(t).and_then(from_lingua))
}

/// stormwatch's own detector (src/sentiment/lang.rs), through its public entry point.
fn stormwatch_detector() -> Option<Detector> {
    use stormwatch::model::Lang;
    // Build it before timing starts, as the other detectors are built before theirs.
    stormwatch::sentiment::LanguageDetector::builtin().ok()?;
    Some(Box::new(|t: &str| {
        Some(match stormwatch::sentiment::detect_language(t)? {
            Lang::En => L::En,
            Lang::Nl => L::Nl,
            Lang::Sv => L::Sv,
            Lang::Pl => L::Pl,
        })
    }))
}

fn build_detector(name: &str) -> Result<Option<Detector>> {
    Ok(match name {
        "whatlang-detect" => Some(Box::new(|t: &str| whatlang::detect(t).and_then(|i| from_whatlang(i.lang())))),
        "whatlang-allowlist" => {
            use whatlang::Lang::*;
            let det = whatlang::Detector::with_allowlist(vec![Eng, Nld, Swe, Pol]);
            Some(Box::new(move |t: &str| det.detect_lang(t).and_then(from_whatlang)))
        }
        "lingua-high" => Some(lingua_detector(false)),
        "lingua-low" => Some(lingua_detector(true)),
        "stormwatch" => stormwatch_detector(),
        other => bail!("unknown detector {other:?}; known: {}", DETECTORS.join(", ")),
    })
}

struct Item {
    lang: L,
    /// Short-ness is decided on the raw text, so raw and cleaned rows cover the same items.
    short: bool,
    raw: String,
    clean: String,
}

impl Item {
    fn raw(&self) -> &str {
        &self.raw
    }
    fn clean(&self) -> &str {
        &self.clean
    }
}

fn load(data: &Path, split: &str) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for (lang, code) in LANGS {
        let path = data.join(code).join(format!("{split}.tsv"));
        let content = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        for (i, line) in content.lines().enumerate().skip(1) {
            if line.is_empty() {
                continue;
            }
            let text = line
                .splitn(4, '\t')
                .nth(3)
                .with_context(|| format!("{}:{}: expected 4 tab-separated fields", path.display(), i + 1))?;
            items.push(Item {
                lang,
                short: text.chars().count() < SHORT,
                raw: text.to_string(),
                clean: clean(text),
            });
        }
    }
    Ok(items)
}

/// What the stormwatch pipeline feeds in: no URLs (http…/www.…), no @handles
/// (nor a ':' right after one), no leading "RT", no '#' signs (the tag word stays).
fn clean(text: &str) -> String {
    let mut t = text.trim_start();
    if let Some(rest) = t.strip_prefix("RT") {
        if rest.is_empty() || rest.starts_with(|c: char| c.is_whitespace() || c == ':') {
            t = rest.trim_start_matches(':');
        }
    }
    let is_handle_char = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while let Some(c) = rest.chars().next() {
        let at_word_start = !out.chars().next_back().is_some_and(char::is_alphanumeric);
        let lower = rest.get(..4).map(str::to_ascii_lowercase);
        if at_word_start && matches!(lower.as_deref(), Some("http") | Some("www.")) {
            rest = rest.trim_start_matches(|c: char| !c.is_whitespace());
        } else if at_word_start && c == '@' && rest[1..].starts_with(is_handle_char) {
            rest = rest[1..].trim_start_matches(is_handle_char);
            rest = rest.strip_prefix(':').unwrap_or(rest);
        } else {
            if c != '#' {
                out.push(c);
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads a "VmXXX:   1234 kB" field from /proc/self/status, in KiB.
fn proc_status_kib(field: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("{field} not in /proc/self/status"))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("parsing {line:?}"))
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn frac(ok: usize, n: usize) -> String {
    if n == 0 {
        return "–".into();
    }
    format!("{ok}/{n} ({:.1}%)", 100.0 * ok as f64 / n as f64)
}

/// Runs one detector in this process. Prints tagged markdown rows on stdout
/// ("A " = accuracy/speed row, "M " = memory row) and a human summary on stderr.
fn run_one(name: &str, items: &[Item]) -> Result<()> {
    let rss_before = proc_status_kib("VmRSS:")?;
    let t0 = Instant::now();
    let Some(detect) = build_detector(name)? else {
        println!("S {name}: not available yet (see stormwatch_detector() in src/main.rs)");
        return Ok(());
    };
    let build_time = t0.elapsed();

    for variant in ["raw", "cleaned"] {
        let text = if variant == "raw" { Item::raw } else { Item::clean };

        // Accuracy (this pass also warms caches up).
        let mut short: BTreeMap<L, (usize, usize)> = BTreeMap::new(); // lang -> (correct, n)
        let (mut all_ok, mut short_ok, mut short_n) = (0, 0, 0);
        for it in items {
            let ok = detect(text(it)) == Some(it.lang);
            all_ok += ok as usize;
            if it.short {
                let e = short.entry(it.lang).or_default();
                e.0 += ok as usize;
                e.1 += 1;
                short_ok += ok as usize;
                short_n += 1;
            }
        }

        // Throughput: one more warm-up pass, then whole passes until >= 1 s.
        for it in items {
            black_box(detect(black_box(text(it))));
        }
        let (mut n, start) = (0usize, Instant::now());
        while start.elapsed() < Duration::from_secs(1) {
            for it in items {
                black_box(detect(black_box(text(it))));
            }
            n += items.len();
        }
        let per_sec = n as f64 / start.elapsed().as_secs_f64();

        let per_lang: Vec<String> = LANGS
            .iter()
            .map(|(l, _)| short.get(l).map_or("–".into(), |&(ok, n)| frac(ok, n)))
            .collect();
        println!(
            "A | {name} | {variant} | {} | {} | {} | {:.0} |",
            frac(short_ok, short_n),
            per_lang.join(" | "),
            frac(all_ok, items.len()),
            per_sec
        );
        eprintln!(
            "{name} [{variant}]: <{SHORT} chars {} | all {} | {per_sec:.0} texts/s",
            frac(short_ok, short_n),
            frac(all_ok, items.len())
        );
    }

    let (rss, hwm) = (proc_status_kib("VmRSS:")?, proc_status_kib("VmHWM:")?);
    let (anon, file) = (proc_status_kib("RssAnon:")?, proc_status_kib("RssFile:")?);
    println!(
        "M | {name} | {:.3} | {} | {} | {} | {} | {} |",
        build_time.as_secs_f64() * 1000.0,
        mib(rss_before),
        mib(rss),
        mib(hwm),
        mib(anon),
        mib(file)
    );
    eprintln!("{name}: build {build_time:?}, RSS before build {} MiB, after {} MiB, peak {} MiB", mib(rss_before), mib(rss), mib(hwm));
    Ok(())
}

/// Runs every detector in its own child process and prints the combined tables.
fn run_all(data: &Path, split: &str, items: &[Item]) -> Result<()> {
    let exe = std::env::current_exe().context("locating own executable")?;
    let (mut acc, mut mem, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for name in DETECTORS {
        let out = Command::new(&exe)
            .arg("--data")
            .arg(data)
            .args(["--split", split, "--only", name])
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("running child for {name}"))?;
        if !out.status.success() {
            bail!("child for {name} failed: {}", out.status);
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            match line.split_at_checked(2) {
                Some(("A ", row)) => acc.push(row.to_string()),
                Some(("M ", row)) => mem.push(row.to_string()),
                Some(("S ", note)) => skipped.push(note.to_string()),
                _ => {}
            }
        }
    }
    let short_n = items.iter().filter(|i| i.short).count();
    let empty = items.iter().filter(|i| i.clean.is_empty()).count();
    println!("### split `{split}`: {} texts, {short_n} under {SHORT} chars; {empty} texts empty after cleaning\n", items.len());
    println!("| detector | input | <{SHORT} chars: all | <{SHORT} en | <{SHORT} nl | <{SHORT} sv | <{SHORT} pl | all texts | texts/s (1 thread) |");
    println!("|---|---|---|---|---|---|---|---|---:|");
    acc.iter().for_each(|r| println!("{r}"));
    println!("\n| detector | build ms | VmRSS before build MiB | VmRSS after runs MiB | VmHWM (peak) MiB | RssAnon after MiB | RssFile after MiB |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    mem.iter().for_each(|r| println!("{r}"));
    for s in skipped {
        println!("\nSkipped: {s}");
    }
    Ok(())
}

fn main() -> Result<()> {
    let (mut data, mut split, mut only) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--data" => data = Some(PathBuf::from(value()?)),
            "--split" => split = Some(value()?),
            "--only" => only = Some(value()?),
            _ => bail!("usage: langid-compare --data DIR --split dev|test [--only {}]", DETECTORS.join("|")),
        }
    }
    let data = data.context("--data DIR is required")?;
    let split = split.context("--split dev|test is required")?;
    if split != "dev" && split != "test" {
        bail!("--split must be dev or test, got {split:?}");
    }
    let items = load(&data, &split)?;
    match only {
        Some(name) => run_one(&name, &items),
        None => run_all(&data, &split, &items),
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn cleaning() {
        assert_eq!(clean("RT @TaylerHoftell: Screw today"), "Screw today");
        assert_eq!(clean("Cmon boys u got this!! #SFvsAZ"), "Cmon boys u got this!! SFvsAZ");
        assert_eq!(clean("Jest też #MH17 http://t.co/zXo7uVm80l"), "Jest też MH17");
        assert_eq!(clean("zie www.nu.nl en (@jan_1) ok"), "zie en () ok");
        assert_eq!(clean("RTL is leuk"), "RTL is leuk");
        assert_eq!(clean("mail a@b.se"), "mail a@b.se");
    }
}
