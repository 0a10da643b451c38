//! Window state in the store: saved periodically and at shutdown, loaded at start, so a
//! restart continues every baseline instead of warming up again or firing a false spike.

use chrono::{DateTime, Utc};

use super::blind::BlindSpots;
use super::watch::{WatchDetector, WatchParams};
use super::StateError;
use crate::store::{Store, StoreError};

const BLIND_SPOTS: &str = "blind_spots";

fn watch_key(name: &str) -> String {
    format!("watch:{name}")
}

/// A watch's detector as saved, continued at `now`; or a new one, with a note saying why
/// the saved state could not be used (for the log: the watch warms up again).
pub(crate) fn load_watch(
    store: &Store,
    name: &str,
    params: WatchParams,
    now: DateTime<Utc>,
) -> Result<(WatchDetector, Option<String>), StoreError> {
    let Some(saved) = store.detector_state(&watch_key(name))? else {
        return Ok((WatchDetector::new(name, params), None));
    };
    match WatchDetector::restore(name, params.clone(), &saved.bytes) {
        Ok(mut d) => {
            d.resume(now);
            Ok((d, None))
        }
        Err(why) => Ok((WatchDetector::new(name, params), Some(why.to_string()))),
    }
}

/// The blind-spot detector as saved, or `fresh` with a note when the saved state is unusable.
pub(crate) fn load_blind_spots(store: &Store, fresh: BlindSpots) -> Result<(BlindSpots, Option<String>), StoreError> {
    let Some(saved) = store.detector_state(BLIND_SPOTS)? else { return Ok((fresh, None)) };
    // `restore` consumes its receiver: rebuild from the saved bytes on a copy of the params.
    let params = fresh.params().clone();
    let watches = fresh.watches().to_vec();
    match fresh.restore(&saved.bytes) {
        Ok(b) => Ok((b, None)),
        Err(why) => Ok((BlindSpots::new(params, watches), Some(why.to_string()))),
    }
}

/// Why window state could not be saved (it is kept in memory and saved again later; the
/// journal keeps the counts meanwhile).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SaveError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Saves every detector in one transaction, with the journal seq they counted through.
pub(crate) fn save(
    store: &Store,
    watches: &[WatchDetector],
    blind: &BlindSpots,
    counted_through: i64,
    now: DateTime<Utc>,
) -> Result<(), SaveError> {
    let mut states = Vec::with_capacity(watches.len() + 1);
    for d in watches {
        states.push((watch_key(d.name()), d.save()?));
    }
    states.push((BLIND_SPOTS.to_string(), blind.save()?));
    Ok(store.save_detector_states(&states, counted_through, now)?)
}

/// Forgets the saved state of every watch not in `watches` (removed from the configuration,
/// by a reload or while stopped), so that one added again under the same name starts fresh
/// instead of resuming stale baselines. Returns the names forgotten.
pub(crate) fn forget_removed(store: &Store, watches: &[&str]) -> Result<Vec<String>, StoreError> {
    let mut forgotten = Vec::new();
    for key in store.detector_state_keys()? {
        let Some(name) = key.strip_prefix("watch:") else { continue };
        if !watches.contains(&name) {
            store.forget_detector_state(&key)?;
            forgotten.push(name.to_string());
        }
    }
    Ok(forgotten)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{BlindSpotParams, Preset};
    use crate::model::{Label, Mention, Sentiment};
    use crate::store::SourceHealth;

    fn t(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_717_200_000 + minute * 60, 0).unwrap()
    }

    /// Minute by minute, a steady stream with a storm at `storm`; returns the signals' kinds
    /// and minutes.
    fn run(d: &mut WatchDetector, minutes: std::ops::Range<i64>, storm: i64) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        for m in minutes {
            out.extend(d.tick(t(m)).into_iter().map(|s| (m, format!("{:?}/{:?}", s.kind, s.phase))));
            let n = if (storm..storm + 30).contains(&m) { 40 } else { 3 + (m % 4) as usize };
            for i in 0..n {
                let mention = Mention {
                    source: "feed".into(),
                    id: format!("{m}-{i}"),
                    text: "x".into(),
                    author: None,
                    reach: None,
                    lang: None,
                    published: t(m),
                    url: None,
                };
                let negative = (m * 7 + i as i64) % 10 == 0;
                let s = Sentiment {
                    lang: None,
                    label: if negative { Label::Neg } else { Label::Neu },
                    compound: if negative { -0.5 } else { 0.0 },
                    terms: vec![],
                    categories: vec![],
                };
                d.observe(&mention, &s, t(m));
            }
        }
        out
    }

    fn params() -> WatchParams {
        WatchParams::new(Preset::Balanced.spec())
    }

    #[test]
    fn a_restart_through_the_state_file_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let storm = 3 * 1440 + 600;
        let mut whole = WatchDetector::new("bank", params());
        let expected = run(&mut whole, 0..4 * 1440, storm);
        assert!(expected.iter().any(|(m, k)| *m >= storm && k == "Volume/Started"), "{expected:?}");

        let blind = BlindSpots::new(BlindSpotParams::default(), vec![("bank".into(), None)]);
        let mut first = WatchDetector::new("bank", params());
        let mut got = run(&mut first, 0..2 * 1440, storm);
        {
            let store = Store::open(&path).unwrap();
            save(&store, &[first], &blind, 0, t(2 * 1440)).unwrap();
        }
        let store = Store::open(&path).unwrap();
        let (mut second, note) = load_watch(&store, "bank", params(), t(2 * 1440)).unwrap();
        assert_eq!(note, None);
        assert!(second.warmed_up(), "no second warm-up");
        got.extend(run(&mut second, 2 * 1440..4 * 1440, storm));
        assert_eq!(got, expected);
    }

    #[test]
    fn unusable_state_starts_fresh_with_a_note_and_blind_spots_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.db")).unwrap();
        let (d, note) = load_watch(&store, "new-watch", params(), t(0)).unwrap();
        assert!(note.is_none() && !d.warmed_up());

        let mut d = WatchDetector::new("bank", params());
        run(&mut d, 0..60, 1_000_000);
        let mut blind = BlindSpots::new(BlindSpotParams::default(), vec![("bank".into(), None)]);
        let failing = SourceHealth { consecutive_failures: 3, last_status: Some(503), ..SourceHealth::default() };
        assert_eq!(blind.observe("news", &failing, t(60)).len(), 1);
        save(&store, &[d], &blind, 0, t(60)).unwrap();

        let five = WatchParams { bucket: std::time::Duration::from_secs(300), ..params() };
        let (_, note) = load_watch(&store, "bank", five, t(61)).unwrap();
        assert!(note.as_ref().is_some_and(|n| n.contains("bucket width or ring changed")), "{note:?}");

        let fresh = BlindSpots::new(BlindSpotParams::default(), vec![("bank".into(), None)]);
        let (mut blind, note) = load_blind_spots(&store, fresh).unwrap();
        assert!(note.is_none());
        let back = SourceHealth { last_items: 1, last_status: Some(200), ..SourceHealth::default() };
        assert_eq!(blind.observe("news", &back, t(70)).len(), 1, "the open blind spot ends after the restart");

        assert_eq!(forget_removed(&store, &["other"]).unwrap(), ["bank"]);
        let (d, _) = load_watch(&store, "bank", params(), t(80)).unwrap();
        assert!(!d.warmed_up());
    }
}
