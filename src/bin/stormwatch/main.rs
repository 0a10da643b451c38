//! The `stormwatch` command line: parses arguments and hands each subcommand to its module.
//! The library (`stormwatch::…`) does the work; these modules read files and flags, print,
//! and choose exit codes.
#![forbid(unsafe_code)]

mod alerts;
mod args;
mod demo;
mod eval;
mod replay;
mod report;
mod score;
mod service;
mod sources;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use args::{Cli, Command, EvalCommand, LogFormat, SourcesCommand};

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
        Command::Score(args) => score::run(args),
        Command::Eval(EvalCommand::Sentiment { dir, split, detect, thresholds }) => {
            eval::sentiment(&dir, split.into(), detect, &thresholds)
        }
        Command::Eval(EvalCommand::Crisis { dir, split, misses, thresholds }) => {
            eval::crisis(&dir, split.into(), misses, &thresholds)
        }
        Command::Eval(EvalCommand::Lang { dir, split }) => eval::language(&dir, split.into()),
        Command::Replay(args) => replay::run(args),
        Command::Deliver { config, timeout } => alerts::deliver(&config, timeout.into()),
        Command::Ack { alert_id, config, by } => alerts::ack(&config, &alert_id, by),
        Command::Alerts { config, alert } => alerts::list(&config, alert.as_deref()),
        Command::NotifyTest { config, receiver } => alerts::notify_test(&config, receiver.as_deref()),
        Command::Run { config } => service::run(&config),
        Command::Check { config, no_environment } => service::check(&config, no_environment),
        Command::Healthcheck { url } => service::healthcheck(&url),
        Command::Demo { out, follow } => demo::run(&out, follow),
        Command::Report { config, state, watch, from, to, out } => {
            report::run(report::ReportRequest { config, state, watch, from, to, out })
        }
        Command::Sources(SourcesCommand::Test { config, source }) => sources::test(&config, source.as_deref()),
        Command::Sources(SourcesCommand::Poll { config, once, source }) => {
            sources::poll(&config, once, source.as_deref())
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // The config-file watcher's crate logs every event in the config's folder at trace level,
    // and a log file in that folder makes each line an event: `RUST_LOG=trace run 2> ./x.log`
    // wrote 128 MB in 6 idle seconds. Only a filter that names it turns it up.
    let names_notify = std::env::var("RUST_LOG").is_ok_and(|spec| spec.contains("notify"));
    if !names_notify {
        if let Ok(quiet) = "notify=warn".parse() {
            filter = filter.add_directive(quiet);
        }
    }
    // Colours only for a person at a terminal: journald, files and pipes get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
