//! `stormwatch report`: the post-crisis report of one watch over a time range, from a state
//! file (the daemon may be running: the file is read in WAL mode and never blocks it).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use stormwatch::config::Config;
use stormwatch::report::{self, render};
use stormwatch::store::Store;

pub struct ReportRequest {
    pub config: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub watch: String,
    pub from: String,
    pub to: Option<String>,
    pub out: Option<PathBuf>,
}

/// A time as a person types it: RFC 3339, `2026-12-01 08:00` or `2026-12-01` (UTC), or a
/// duration meaning that long ago (`24h`, `3d`).
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let t = text.trim();
    if t == "now" {
        return Ok(now);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(d.and_utc());
        }
    }
    if let Some(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)) {
        return Ok(d.and_utc());
    }
    if let Ok(ago) = humantime::parse_duration(t) {
        let ago = chrono::Duration::from_std(ago).ok().and_then(|d| now.checked_sub_signed(d));
        return ago.with_context(|| format!("{t:?} is too long ago"));
    }
    bail!("{t:?} is not a time: use 2026-12-01T08:00:00Z, \"2026-12-01 08:00\" (UTC), 2026-12-01, or a duration ago like 24h")
}

fn open(config: Option<&Path>, state: Option<&Path>) -> Result<Store> {
    let path = match (config, state) {
        (_, Some(state)) => {
            if !state.exists() {
                bail!("no state file at {}", state.display());
            }
            state.to_path_buf()
        }
        (Some(config), None) => Config::load(config).map_err(|e| anyhow!("{e}"))?.storage.path,
        (None, None) => bail!("give -c CONFIG (its [storage] path) or --state FILE"),
    };
    Ok(Store::open(&path)?)
}

pub fn run(req: ReportRequest) -> Result<ExitCode> {
    let now = Utc::now();
    let from = parse_time(&req.from, now).context("--from")?;
    let to = req.to.as_deref().map(|t| parse_time(t, now)).transpose().context("--to")?.unwrap_or(now);
    let store = open(req.config.as_deref(), req.state.as_deref())?;
    let known = store.history_watches()?;
    if !known.contains(&req.watch) {
        let known = if known.is_empty() { "none yet".to_string() } else { known.join(", ") };
        bail!("the state file has no history of watch {:?} (watches with history: {known})", req.watch);
    }
    let r = report::gather(&store, &req.watch, from, to, now)?;
    print!("{}", render::text(&r));
    if let Some(out) = &req.out {
        std::fs::write(out, render::html(&r)).with_context(|| format!("writing {}", out.display()))?;
        println!("written to {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_as_people_type_them() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z").unwrap().with_timezone(&Utc);
        let at = |s| parse_time(s, now).unwrap().to_rfc3339();
        assert_eq!(at("2026-12-01T08:00:00+01:00"), "2026-12-01T07:00:00+00:00");
        assert_eq!(at("2026-12-01 08:00"), "2026-12-01T08:00:00+00:00");
        assert_eq!(at("2026-12-01"), "2026-12-01T00:00:00+00:00");
        assert_eq!(at("36h"), "2026-12-01T00:00:00+00:00");
        assert_eq!(at("now"), now.to_rfc3339());
        let err = parse_time("yesterday", now).unwrap_err().to_string();
        assert!(err.contains("yesterday") && err.contains("2026-12-01"), "{err}");
    }
}
