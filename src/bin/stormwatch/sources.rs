//! `stormwatch sources test` and `stormwatch sources poll`: the command-line face of the
//! sources step.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::Utc;
use tokio::sync::mpsc;

use stormwatch::config::Config;
use stormwatch::secret::Environment;
use stormwatch::sources::handoff::{HandOff, MentionBatch, NotJournaled};
use stormwatch::sources::poll::{self, PollContext, PollStats, Source};
use stormwatch::sources::{Http, SourceSpec};
use stormwatch::store::{Purpose, Store};

use stormwatch::escape;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

fn user_agent() -> String {
    format!("stormwatch/{} (social-media monitoring)", env!("CARGO_PKG_VERSION"))
}

fn selected<'a>(config: &'a Config, only: Option<&str>) -> Result<Vec<&'a SourceSpec>> {
    let specs: Vec<&SourceSpec> = config.sources.iter().filter(|s| only.is_none_or(|o| s.name == o)).collect();
    if let (Some(o), true) = (only, specs.is_empty()) {
        let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
        anyhow::bail!("no source is named {o:?}; the configuration has: {}", names.join(", "));
    }
    Ok(specs)
}

/// Polls each source's first page, writes nothing, and prints what came back.
pub fn test(config_path: &Path, only: Option<&str>) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let specs = selected(&config, only)?;
    let http = Http::new(&user_agent())?;
    let rt = runtime()?;
    let mut failed = 0;
    let mut out = std::io::stdout().lock();
    for spec in specs {
        let header = format!("{} ({})", spec.name, spec.kind.name());
        let result = match Source::new(spec.clone(), &http, &Environment::process()) {
            Ok(source) => rt.block_on(source.probe(Utc::now())),
            Err(e) => Err(e),
        };
        match result {
            Err(e) => {
                failed += 1;
                writeln!(out, "{header}: FAILED ({}): {}", e.label(), escape::terminal(&e.to_string()))?;
            }
            Ok(page) => {
                let status = if page.not_modified { " (304 not modified)" } else { "" };
                writeln!(out, "{header}: {} items, {} skipped{status}", page.mentions.len(), page.skipped.len())?;
                for (i, m) in page.mentions.iter().take(3).enumerate() {
                    let text: String = m.text.chars().take(160).collect();
                    writeln!(
                        out,
                        "  {}. {}  lang {}  author {}  reach {}\n     {}\n     {}",
                        i + 1,
                        m.published.format("%Y-%m-%d %H:%M UTC"),
                        m.lang.as_deref().unwrap_or("-"),
                        escape::terminal(m.author.as_deref().unwrap_or("-")),
                        m.reach.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
                        escape::terminal(m.url.as_deref().unwrap_or("-")),
                        escape::terminal(&text.replace('\n', " ")),
                    )?;
                }
                for s in page.skipped.iter().take(3) {
                    writeln!(out, "  skipped {}: {}", escape::terminal(&s.item), escape::terminal(&s.why))?;
                }
                writeln!(out, "  cursor: {}{}", page.cursor, if page.more { " (more pages follow)" } else { "" })?;
                if let Some(p) = page.rate_limit.pause() {
                    writeln!(out, "  rate limit: the server asks to wait {}s", p.as_secs())?;
                }
            }
        }
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Polls the sources with their state and prints matched mentions as JSON lines.
pub fn poll(config_path: &Path, once: bool, only: Option<&str>) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let specs = selected(&config, only)?;
    let store = Store::open_exclusive(&config.storage.path, Purpose::Command("sources poll"))?;
    let pruned =
        store.prune_seen(Utc::now() - chrono::Duration::from_std(config.storage.seen_ttl).unwrap_or_default())?;
    tracing::debug!(pruned, "forgot mention ids older than [storage] seen_ttl");
    let http = Http::new(&user_agent())?;
    let mut sources = Vec::new();
    let mut failed = 0;
    for spec in specs {
        match Source::new(spec.clone(), &http, &Environment::process()) {
            Ok(s) => sources.push(s),
            Err(e) => {
                failed += 1;
                tracing::error!(source = %spec.name, error = %e, "source not started");
            }
        }
    }
    let rt = runtime()?;
    let (tx, mut rx) = mpsc::channel(1024);
    let stats = Arc::new(PollStats::default());
    let handoff = HandOff { store, matcher: Arc::new(config.matcher()), out: tx };
    let ctx = PollContext { handoff, stats: stats.clone() };
    let printer = rt.spawn_blocking(move || -> std::io::Result<u64> {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let mut n = 0;
        while let Some(batch) = rx.blocking_recv() {
            let batch: MentionBatch = batch;
            let mut printed = Ok(());
            for m in &batch.mentions {
                printed = serde_json::to_writer(&mut out, m)
                    .map_err(std::io::Error::from)
                    .and_then(|()| out.write_all(b"\n"));
                if printed.is_err() {
                    break;
                }
                n += 1;
            }
            // The page is remembered as done only once its mentions are out.
            let printed = printed.and_then(|()| out.flush());
            let _ = batch.counted.send(printed.as_ref().map(|_| ()).map_err(|e| NotJournaled(e.to_string())));
            printed?;
        }
        out.flush()?;
        Ok(n)
    });
    let polled_ok = rt.block_on(async {
        if once {
            let mut ok = true;
            for source in &sources {
                match source.poll(&ctx, Utc::now()).await {
                    Ok(report) => {
                        if let Some(e) = &report.error {
                            ok = false;
                            tracing::error!(source = %source.spec.name, error = %e, pages = report.pages, "poll failed");
                        }
                        let store = ctx.handoff.store.clone();
                        let before = store.health(&source.spec.name).ok().flatten().unwrap_or_default();
                        let health = poll::next_health(&before, &report, Utc::now());
                        if let Err(e) = store.record_health(&source.spec.name, &health) {
                            tracing::warn!(error = %e, "cannot record source health");
                        }
                    }
                    Err(e) => {
                        ok = false;
                        tracing::error!(source = %source.spec.name, error = %e, "poll stopped");
                    }
                }
            }
            drop(ctx);
            ok
        } else {
            let (stop, watch) = tokio::sync::watch::channel(false);
            let runner = tokio::spawn(poll::run(sources, ctx, config.storage.seen_ttl, watch));
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("stopping");
            let _ = stop.send(true);
            let _ = runner.await;
            true
        }
    });
    let printed = rt.block_on(printer).context("printing mentions")??;
    let s = &stats;
    use std::sync::atomic::Ordering::Relaxed;
    tracing::info!(
        printed,
        new = s.new_mentions.load(Relaxed),
        duplicates = s.duplicates.load(Relaxed),
        skipped = s.skipped_items.load(Relaxed),
        "done"
    );
    Ok(if polled_ok && failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
