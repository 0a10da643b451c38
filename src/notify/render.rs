//! The words every medium shares: the subject line, the headline of what tripped, the numbers
//! and breakdowns of an alert. Each medium (`text`, `html`, `slack`, `teams`, `webhook`,
//! `action`) lays these out in its own format and escapes with `crate::escape` there.

use crate::alert::{Event, Message, Notice, Summary};
use crate::escape::cut;
use crate::model::{Measure, MentionRef, Severity, Signal};

pub(crate) fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
    }
}

/// "15 min", "1 h", "2 h 30 min".
pub(crate) fn span(secs: u64) -> String {
    let m = secs.div_ceil(60);
    match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn count(x: f64) -> String {
    if x < 10.0 && x.fract().abs() > 1e-9 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

/// "342 mentions/15 min (baseline 40)".
fn volume_phrase(s: &Signal) -> String {
    let e = &s.evidence;
    let base = e.expected_mentions.map(|b| format!(" (baseline {})", count(b))).unwrap_or_default();
    format!("{} mentions/{}{base}", e.mentions, span(s.window_secs))
}

/// What tripped, in a line: the part of the subject after the watch name.
pub(crate) fn headline(s: &Signal) -> String {
    let e = &s.evidence;
    let share = |e: &crate::model::Evidence| {
        (e.mentions > 0).then(|| e.negative as f64 / e.mentions as f64).map(pct).unwrap_or_else(|| "-".into())
    };
    match s.measure {
        Measure::NegativeShare => {
            format!("negativity {} (baseline {}), {}", pct(s.value), pct(s.baseline), volume_phrase(s))
        }
        Measure::NegativeMentions => format!(
            "{} negative mentions/{} (baseline {}), negativity {}",
            count(s.value),
            span(s.window_secs),
            count(s.baseline),
            share(e)
        ),
        Measure::Mentions => {
            let usual = e.usual_share.map(|u| format!(" (baseline {})", pct(u))).unwrap_or_default();
            format!("{}, negativity {}{usual}", volume_phrase(s), share(e))
        }
        Measure::MeanSentiment => format!(
            "mean sentiment {:+.2} (baseline {:+.2}), {} mentions/{}",
            s.value,
            s.baseline,
            e.mentions,
            span(s.window_secs)
        ),
        Measure::Reach => {
            let who = e.top_mentions.first().and_then(|m| m.author.clone()).unwrap_or_else(|| "an account".into());
            format!("negative post by {} ({} followers)", cut(&who, 40), thousands(s.value as u64))
        }
        Measure::TopicMentions => {
            let words = e.topics.first().map(|t| t.terms.join(", ")).unwrap_or_default();
            format!(
                "new topic \"{}\", {} mentions/{} (baseline {})",
                cut(&words, 60),
                count(s.value),
                span(s.window_secs),
                count(s.baseline)
            )
        }
        Measure::Sources => {
            let names: Vec<&str> = e.blind_sources.iter().map(|b| b.source.as_str()).collect();
            format!("blind spot, {} source(s) failing or silent: {}", names.len(), names.join(", "))
        }
    }
}

/// 1234567 → "1,234,567".
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The subject / notification line: `[CRITICAL] Kroon Bank: negativity 71% (baseline 12%), …`.
pub(crate) fn subject(message: &Message) -> String {
    match message {
        Message::Alert(n) => notice_subject(n),
        Message::Summary(s) => {
            let critical = s.notices.iter().filter(|n| n.severity == Severity::Critical).count();
            let watches = watch_list(s);
            let why = if s.reason == "quiet_hours" { "during quiet hours" } else { "over the hourly limit" };
            let crit = if critical > 0 { format!(", {critical} critical") } else { String::new() };
            cut(&format!("[SUMMARY] {} alerts held {why}{crit}: {watches}", s.notices.len()), 200)
        }
    }
}

fn watch_list(s: &Summary) -> String {
    let mut watches: Vec<&str> = s.notices.iter().map(|n| n.watch.as_str()).collect();
    watches.sort();
    watches.dedup();
    watches.join(", ")
}

pub(crate) fn notice_subject(n: &Notice) -> String {
    let tag = match n.event {
        Event::Firing => severity_word(n.severity).to_string(),
        Event::Update => format!("{} · update", severity_word(n.severity)),
        Event::Escalated => format!("{} · escalated, not acknowledged", severity_word(n.severity)),
        Event::Resolved => "RESOLVED".to_string(),
    };
    let what = if n.event == Event::Resolved {
        let lasted = (n.at - n.started_at).num_seconds().max(0) as u64;
        format!("{} back to normal after {}", n.signal.kind.as_str().replace('_', " "), span(lasted))
    } else {
        headline(&n.signal)
    };
    cut(&format!("[{tag}] {}: {what}", n.watch), 200)
}

/// "@ann (12,000 followers) on mastodon — https://…": everything cut and plain.
pub(crate) fn mention_line(m: &MentionRef) -> String {
    let who = m.author.as_deref().map(|a| cut(a, 60)).unwrap_or_else(|| "unknown author".into());
    let reach = m.reach.map(|r| format!(" ({} followers)", thousands(r))).unwrap_or_default();
    let link = m.url.as_deref().map(|u| format!(" — {}", cut(u, 300))).unwrap_or_default();
    format!("{who}{reach} on {}{link}", cut(&m.source, 60))
}

/// "71% (baseline 12%, threshold 30%, z 6.2)".
pub(crate) fn numbers(s: &Signal) -> String {
    let f = |x: f64| match s.measure {
        Measure::NegativeShare => pct(x),
        Measure::MeanSentiment => format!("{x:+.2}"),
        Measure::Reach => thousands(x.max(0.0) as u64),
        _ => count(x),
    };
    let z = if s.z > 0.0 { format!(", z {:.1}", s.z) } else { String::new() };
    format!("{} (baseline {}, threshold {}{z})", f(s.value), f(s.baseline), f(s.threshold))
}

pub(crate) fn breakdowns(s: &Signal) -> [(&'static str, String); 4] {
    let e = &s.evidence;
    let join = |items: Vec<String>| items.join(", ");
    [
        ("Top terms", join(e.top_terms.iter().map(|(t, c)| format!("{t} ({c})")).collect())),
        ("Crisis categories", join(e.categories.iter().map(|(t, c)| format!("{t} ({c})")).collect())),
        ("Languages", join(e.languages.iter().map(|(t, c)| format!("{t} {c}")).collect())),
        ("Sources", join(e.sources.iter().map(|(t, c)| format!("{t} {c}")).collect())),
    ]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::alert::Holding;
    use crate::model::{CrisisCategory, Evidence, Lang, Phase, SignalKind};

    use chrono::{DateTime, Utc};

    pub(crate) const NASTY: &str = "<script>alert(1)</script> <!channel> <@U123> <https://evil.example|your bank> \
                                    [login](https://evil.example) \u{1b}[31mred\r\nBcc: x@evil.example";

    pub(crate) fn notice() -> Notice {
        let at: DateTime<Utc> = "2026-11-22T14:05:00Z".parse().unwrap_or_default();
        let mention = MentionRef {
            source: "mastodon-social".into(),
            id: "1".into(),
            author: Some("@ann<b>".into()),
            reach: Some(12_000),
            url: Some("https://social.example/@ann/1".into()),
            text: NASTY.into(),
            compound: -0.8,
            published: at,
        };
        let signal = Signal {
            watch: "Kroon Bank".into(),
            kind: SignalKind::Negativity,
            measure: Measure::NegativeShare,
            severity: Severity::Critical,
            phase: Phase::Started,
            at,
            window_secs: 900,
            value: 0.71,
            baseline: 0.12,
            threshold: 0.3,
            z: 6.2,
            evidence: Evidence {
                mentions: 342,
                negative: 243,
                positive: 12,
                top_terms: vec![("storing".into(), 120)],
                categories: vec![(CrisisCategory::Outage, 150)],
                top_mentions: vec![mention],
                languages: vec![("nl".into(), 200), ("en".into(), 142)],
                sources: vec![("mastodon-social".into(), 300)],
                expected_mentions: Some(40.0),
                usual_share: Some(0.12),
                ..Evidence::default()
            },
        };
        Notice {
            alert_id: "abc-1".into(),
            fingerprint: "abc".into(),
            event: Event::Firing,
            seq: 1,
            severity: Severity::Critical,
            watch: "Kroon Bank".into(),
            signal,
            started_at: at - chrono::Duration::minutes(15),
            at,
            ack_url: Some("http://127.0.0.1:9464/ack/abc-1?exp=1&sig=00".into()),
            acknowledged: None,
            holding: Some(Holding {
                lang: Lang::Nl,
                category: Some(CrisisCategory::Outage),
                text: "We zijn ermee bezig.".into(),
            }),
        }
    }

    #[test]
    fn the_subject_reads_like_the_design_says() {
        assert_eq!(
            subject(&Message::Alert(Box::new(notice()))),
            "[CRITICAL] Kroon Bank: negativity 71% (baseline 12%), 342 mentions/15 min (baseline 40)"
        );
        let mut resolved = notice();
        resolved.event = Event::Resolved;
        resolved.at = resolved.started_at + chrono::Duration::minutes(80);
        assert_eq!(
            subject(&Message::Alert(Box::new(resolved))),
            "[RESOLVED] Kroon Bank: negativity back to normal after 1 h 20 min"
        );
    }

    #[test]
    fn spans_and_thousands() {
        assert_eq!(span(900), "15 min");
        assert_eq!(span(3600), "1 h");
        assert_eq!(span(9000), "2 h 30 min");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
