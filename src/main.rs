//! The `stormwatch` command line: parses arguments and calls into the library.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

mod alerts_cli;
mod replay_cli;
mod report_cli;
mod service_cli;
mod sources_cli;

use stormwatch::eval::{self, Split};
use stormwatch::model::Lang;
use stormwatch::sentiment::batch::score_jsonl;
use stormwatch::sentiment::{Analysis, LabelThresholds, LangSource, Scorer};

#[derive(Parser)]
#[command(
    name = "stormwatch",
    version,
    about = "Warns a brand's crisis team when social-media mentions spike or turn negative"
)]
struct Cli {
    /// Log lines as text or JSON (level by RUST_LOG, default info).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Score the sentiment of texts in Dutch, Swedish, Polish or English, with explanations.
    Score(ScoreArgs),
    /// Measure the scorer or the language detector on labelled data.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Debug and run the mention sources of a configuration.
    #[command(subcommand)]
    Sources(SourcesCommand),
    /// Backtest detection on history: a count series, or mentions through a config's watches.
    Replay(ReplayArgs),
    /// Send what the outbox of a state file holds (pending deliveries, retries due).
    Deliver {
        #[arg(short, long)]
        config: PathBuf,
        /// Give up waiting after this long (deliveries stay pending for the next run).
        #[arg(long, default_value = "2m")]
        timeout: humantime::Duration,
    },
    /// Acknowledge an alert: it stops escalating. (The signed link in an alert does the same.)
    Ack {
        /// The alert id, as shown in the alert ("Alert 3f2a…-1763820000").
        alert_id: String,
        #[arg(short, long)]
        config: PathBuf,
        /// Who acknowledges (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// List deliveries and their attempts (all, or one alert's).
    Alerts {
        #[arg(short, long)]
        config: PathBuf,
        #[arg(long)]
        alert: Option<String>,
    },
    /// The main job on an embedded configuration and an offline story: two storms detected,
    /// alerted and delivered, in under a minute. No network, no accounts.
    Demo {
        /// Where the state file and the alerts go.
        #[arg(long, default_value = "stormwatch-demo")]
        out: PathBuf,
        /// Keep running after the story (until Ctrl-C).
        #[arg(long)]
        follow: bool,
    },
    /// Run as a service: poll, score, detect, alert and deliver until SIGTERM or Ctrl-C.
    Run {
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Exit 0 if the running daemon answers /healthz (for container health checks).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:9464/healthz")]
        url: String,
    },
    /// Validate a configuration and its secrets; print the effective configuration.
    Check {
        #[arg(short, long)]
        config: PathBuf,
    },
    /// The post-crisis report of one watch: timeline against the usual level, episodes with
    /// their deliveries and acknowledgements, top terms, categories, languages, sources and
    /// the most-reached negative mentions.
    Report {
        /// The configuration whose [storage] file to read.
        #[arg(short, long, conflicts_with = "state")]
        config: Option<PathBuf>,
        /// Or the state file itself (e.g. stormwatch-demo/stormwatch.db).
        #[arg(long)]
        state: Option<PathBuf>,
        #[arg(long)]
        watch: String,
        /// Start: 2026-12-01T08:00:00Z, "2026-12-01 08:00" (UTC), 2026-12-01, or 24h (ago).
        #[arg(long, default_value = "24h")]
        from: String,
        /// End (default now).
        #[arg(long)]
        to: Option<String>,
        /// Write the report as one HTML page (chart inline) to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Send a sample alert, marked TEST, to the receivers now and say what each answered.
    NotifyTest {
        #[arg(short, long)]
        config: PathBuf,
        /// Only this receiver (default: all).
        #[arg(long)]
        receiver: Option<String>,
    },
}

#[derive(Args)]
pub(crate) struct ReplayArgs {
    /// A count-only series: CSV `timestamp,value` with a header.
    #[arg(long, conflicts_with_all = ["input", "config"])]
    pub(crate) counts: Option<PathBuf>,
    /// Mentions as JSON lines (needs -c).
    #[arg(long, requires = "config")]
    pub(crate) input: Option<PathBuf>,
    #[arg(short, long)]
    pub(crate) config: Option<PathBuf>,
    /// Bucket width for --counts (default: the series' median spacing).
    #[arg(long)]
    pub(crate) bucket: Option<String>,
    /// sensitive, balanced or strict (with --counts; with --input each watch's config decides).
    #[arg(long, default_value = "balanced", conflicts_with = "input")]
    pub(crate) preset: String,
    /// Override a detection knob, key=value, as in [watches.thresholds] (k, volume_factor,
    /// negative_share, short, season, ...; see docs/detection.md). With --input, for every watch.
    #[arg(long = "param")]
    pub(crate) params: Vec<String>,
    /// Draw the series, baseline, threshold band and alerts (.svg or .html).
    #[arg(long)]
    pub(crate) chart: Option<PathBuf>,
    /// Run the signals through the alert policy and deliver them to the config's receivers
    /// (state in the config's [storage] file).
    #[arg(long, requires = "input")]
    pub(crate) deliver: bool,
    /// With --deliver: how long to keep retrying before leaving deliveries pending.
    #[arg(long, default_value = "2m")]
    pub(crate) deliver_timeout: humantime::Duration,
}

#[derive(Subcommand)]
enum SourcesCommand {
    /// Poll each source once (first page only, no state written) and show what came back.
    Test {
        #[arg(short, long)]
        config: PathBuf,
        /// Only this source.
        #[arg(long)]
        source: Option<String>,
    },
    /// Poll the sources with their state, printing matched mentions as JSON lines.
    Poll {
        #[arg(short, long)]
        config: PathBuf,
        /// Poll each source once (all pages of its backlog) and exit.
        #[arg(long)]
        once: bool,
        /// Only this source.
        #[arg(long)]
        source: Option<String>,
    },
}

#[derive(Args)]
struct ScoreArgs {
    /// The text to score (omit with --batch or --examples).
    text: Option<String>,
    /// Language of the text (en, nl, sv, pl); detected when absent.
    #[arg(long)]
    lang: Option<String>,
    /// Read JSON lines {"id","text","lang"} from stdin, write one JSON result per line.
    #[arg(long, conflicts_with_all = ["text", "examples"])]
    batch: bool,
    /// Score a few example posts in all four languages.
    #[arg(long, conflicts_with = "text")]
    examples: bool,
    #[command(flatten)]
    thresholds: ThresholdArgs,
}

#[derive(Args)]
struct ThresholdArgs {
    /// Compound score at or above which a text is positive.
    #[arg(long, default_value_t = DEFAULT_POS, allow_negative_numbers = true)]
    pos_threshold: f32,
    /// Compound score at or below which a text is negative.
    #[arg(long, default_value_t = DEFAULT_NEG, allow_negative_numbers = true)]
    neg_threshold: f32,
}

const DEFAULT_POS: f32 = LabelThresholds::DEFAULT.pos();
const DEFAULT_NEG: f32 = LabelThresholds::DEFAULT.neg();

impl ThresholdArgs {
    fn scorer(&self) -> Result<Scorer> {
        let thresholds = LabelThresholds::new(self.neg_threshold, self.pos_threshold).map_err(anyhow::Error::msg)?;
        Ok(Scorer::builtin().context("loading the built-in lexicons")?.with_thresholds(thresholds))
    }
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Macro-F1, accuracy and polar share per language and source.
    Sentiment {
        /// Folder with {en,nl,sv,pl}/{dev,test}.tsv.
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = SplitArg::Dev)]
        split: SplitArg,
        /// Detect each text's language instead of using its folder's.
        #[arg(long)]
        detect: bool,
        #[command(flatten)]
        thresholds: ThresholdArgs,
    },
    /// Language identification accuracy (short texts and all) and throughput.
    Lang {
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = SplitArg::Dev)]
        split: SplitArg,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SplitArg {
    Dev,
    Test,
}

impl From<SplitArg> for Split {
    fn from(s: SplitArg) -> Split {
        match s {
            SplitArg::Dev => Split::Dev,
            SplitArg::Test => Split::Test,
        }
    }
}

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match stormwatch::clock::init() {
        Ok(None) => {}
        Ok(Some(c)) => tracing::warn!(speed = c.speed, now = %stormwatch::clock::now(), var = stormwatch::clock::VAR,
            "running on a simulated clock, for tests and rehearsals only: every wait and time stamp is on it"),
        Err(e) => {
            eprintln!("stormwatch: {e}");
            return ExitCode::FAILURE;
        }
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stormwatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Score(args) => score(args),
        Command::Eval(EvalCommand::Sentiment { dir, split, detect, thresholds }) => {
            let scorer = thresholds.scorer()?;
            let data = eval::load(&dir, split.into())?;
            let rows = eval::sentiment(&scorer, &data, detect);
            print!("{}", eval::sentiment_table(&rows));
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay(args) => replay_cli::run(args),
        Command::Deliver { config, timeout } => alerts_cli::deliver(&config, timeout.into()),
        Command::Ack { alert_id, config, by } => alerts_cli::ack(&config, &alert_id, by),
        Command::Alerts { config, alert } => alerts_cli::list(&config, alert.as_deref()),
        Command::Run { config } => service_cli::run(&config),
        Command::Demo { out, follow } => service_cli::demo(&out, follow),
        Command::Check { config } => service_cli::check(&config),
        Command::Report { config, state, watch, from, to, out } => {
            report_cli::run(report_cli::ReportRequest { config, state, watch, from, to, out })
        }
        Command::Healthcheck { url } => service_cli::healthcheck(&url),
        Command::NotifyTest { config, receiver } => alerts_cli::notify_test(&config, receiver.as_deref()),
        Command::Sources(SourcesCommand::Test { config, source }) => sources_cli::test(&config, source.as_deref()),
        Command::Sources(SourcesCommand::Poll { config, once, source }) => {
            sources_cli::poll(&config, once, source.as_deref())
        }
        Command::Eval(EvalCommand::Lang { dir, split }) => {
            let scorer = Scorer::builtin()?;
            let data = eval::load(&dir, split.into())?;
            print!("{}", eval::language_table(&eval::language(&scorer, &data)?));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: journald, files and pipes get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn score(args: ScoreArgs) -> Result<ExitCode> {
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
        (None, _) => "unknown (no words; emoji and emoticons only)".to_string(),
    };
    writeln!(out, "{}", escape_for_terminal(text))?;
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
        }
        if let Some(c) = h.category {
            what.push_str(&format!(" [{c}]"));
        }
        if h.base == 0.0 {
            // A topic word: it tags a crisis category without judging.
            let category = h.category.map(|c| format!(" [{c}]")).unwrap_or_default();
            writeln!(out, "    {:<22} topic{category}", escape_for_terminal(h.term))?;
        } else {
            writeln!(out, "    {:<22} {:+.2} (lexicon {:+.2}) {what}", escape_for_terminal(h.term), h.score, h.base)?;
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

/// Mention text is written by strangers: control characters (terminal escapes) are shown,
/// not obeyed.
pub(crate) fn escape_for_terminal(s: &str) -> String {
    s.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}
