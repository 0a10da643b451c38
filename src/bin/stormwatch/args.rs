//! The command line's words: every subcommand and flag (clap), parsed once in `main.rs`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use stormwatch::sentiment::eval::Split;
use stormwatch::sentiment::{LabelThresholds, Scorer};

#[derive(Parser)]
#[command(
    name = "stormwatch",
    version,
    about = "Warns a brand's crisis team when social-media mentions spike or turn negative"
)]
pub(crate) struct Cli {
    /// Log lines as text or JSON (level by RUST_LOG, default info).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
    /// Validate a configuration as `run` would (secrets, sources, receivers, the state file's
    /// place) and print the effective configuration; exit 1 with every problem.
    Check {
        #[arg(short, long)]
        config: PathBuf,
        /// Validate the file alone: no STORMWATCH__ overrides, no secrets, no paths (for a
        /// configuration repository's CI, where the secrets are not).
        #[arg(long)]
        no_environment: bool,
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
pub(crate) enum SourcesCommand {
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
pub(crate) struct ScoreArgs {
    /// The text to score (omit with --batch or --examples).
    pub(crate) text: Option<String>,
    /// Language of the text (en, nl, sv, pl); detected when absent.
    #[arg(long)]
    pub(crate) lang: Option<String>,
    /// Read JSON lines {"id","text","lang"} from stdin, write one JSON result per line.
    #[arg(long, conflicts_with_all = ["text", "examples"])]
    pub(crate) batch: bool,
    /// Score a few example posts in all four languages.
    #[arg(long, conflicts_with = "text")]
    pub(crate) examples: bool,
    #[command(flatten)]
    pub(crate) thresholds: ThresholdArgs,
}

#[derive(Args)]
pub(crate) struct ThresholdArgs {
    /// Compound score at or above which a text is positive.
    #[arg(long, default_value_t = DEFAULT_POS, allow_negative_numbers = true)]
    pub(crate) pos_threshold: f32,
    /// Compound score at or below which a text is negative.
    #[arg(long, default_value_t = DEFAULT_NEG, allow_negative_numbers = true)]
    pub(crate) neg_threshold: f32,
}

const DEFAULT_POS: f32 = LabelThresholds::DEFAULT.pos();
const DEFAULT_NEG: f32 = LabelThresholds::DEFAULT.neg();

impl ThresholdArgs {
    pub(crate) fn scorer(&self) -> Result<Scorer> {
        let thresholds = LabelThresholds::new(self.neg_threshold, self.pos_threshold).map_err(anyhow::Error::msg)?;
        Ok(Scorer::builtin().context("loading the built-in lexicons")?.with_thresholds(thresholds))
    }
}

#[derive(Subcommand)]
pub(crate) enum EvalCommand {
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
    /// Negative recall and precision, macro-F1 and crisis category on brand-crisis posts.
    Crisis {
        /// Folder with {en,nl,sv,pl}/{dev,...}.tsv: id, label, category, text.
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = SplitArg::Dev)]
        split: SplitArg,
        /// Also list the negative posts the scorer missed, by id.
        #[arg(long)]
        misses: bool,
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
pub(crate) enum SplitArg {
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
