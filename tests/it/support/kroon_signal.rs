//! The signal the alert tests send: a critical negativity storm at Kroon Bank, with evidence
//! whose most-reached mention was written to inject markup into every medium.

use chrono::{DateTime, Utc};
use stormwatch::model::{
    CrisisCategory, Evidence, Measure, MentionRef, Phase, Severity, Signal, SignalKind, TimelinePoint,
};

pub const NASTY: &str = "<script>alert(1)</script> <!channel> <!here> <@U024BE7LH> \
                         <https://evil.example|Kroon Bank login> [login](https://evil.example)";

pub fn signal(phase: Phase, severity: Severity, at: DateTime<Utc>) -> Signal {
    let mention = MentionRef {
        source: "mastodon-social".into(),
        id: "109".into(),
        author: Some("@ann@social.example".into()),
        reach: Some(48_000),
        url: Some("https://social.example/@ann/109".into()),
        text: NASTY.into(),
        compound: -0.8,
        published: at,
    };
    let timeline = (0..36)
        .map(|i| TimelinePoint {
            at: at - chrono::Duration::minutes(5 * (36 - i)),
            mentions: if i > 30 { 120 } else { 12 },
            negative: if i > 30 { 85 } else { 1 },
            expected: 13.0,
        })
        .collect();
    Signal {
        watch: "Kroon Bank".into(),
        kind: SignalKind::Negativity,
        measure: Measure::NegativeShare,
        severity,
        phase,
        at,
        window_secs: 900,
        value: 0.71,
        baseline: 0.12,
        threshold: 0.3,
        z: 6.1,
        evidence: Evidence {
            mentions: 342,
            negative: 243,
            positive: 11,
            top_terms: vec![("storing".into(), 120), ("down".into(), 80)],
            categories: vec![(CrisisCategory::Outage, 150)],
            top_mentions: vec![mention],
            languages: vec![("nl".into(), 200), ("en".into(), 142)],
            sources: vec![("mastodon-social".into(), 300)],
            expected_mentions: Some(40.0),
            usual_share: Some(0.12),
            timeline,
            ..Evidence::default()
        },
    }
}
