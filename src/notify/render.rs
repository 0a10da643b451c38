//! The words every medium shares: the subject line, the headline of what tripped, the numbers
//! and breakdowns of an alert. Each medium (`text`, `html`, `slack`, `teams`, `webhook`,
//! `action`) lays these out in its own format and escapes with `crate::escape` there.

use crate::alert::{Episode, Event, Message, Notice, Summary, Track};
use crate::escape::cut;
use crate::model::{Evidence, Measure, MentionRef, Severity, Signal, SignalKind};

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

/// Whether a notice is about an incident of several kinds of signal (one kind reads best in
/// the words of its own headline).
fn is_incident(n: &Notice) -> bool {
    n.group == crate::alert::GroupBy::Watch && n.signal.kind != SignalKind::BlindSpot && n.signals.len() > 1
}

/// One signal of an incident in a few words: "84 mentions/10 min (×9)", "negativity 55%
/// (usually 7%)", "topic \"storing, inloggen\"".
fn track_phrase(t: &Track) -> String {
    match t.measure {
        Measure::Mentions => {
            let times = (t.baseline >= 0.5).then(|| t.value / t.baseline).map(|x| {
                if x >= 10.0 {
                    format!(" (×{x:.0})")
                } else {
                    format!(" (×{x:.1})")
                }
            });
            format!("{} mentions/{}{}", count(t.value), span(t.window_secs), times.unwrap_or_default())
        }
        Measure::NegativeShare => format!("negativity {} (usually {})", pct(t.value), pct(t.baseline)),
        Measure::NegativeMentions => {
            format!("{} negative mentions/{} (usually {})", count(t.value), span(t.window_secs), count(t.baseline))
        }
        Measure::MeanSentiment => format!("mean sentiment {:+.2} (usually {:+.2})", t.value, t.baseline),
        Measure::Reach => format!(
            "post by {} ({} followers)",
            cut(t.detail.as_deref().unwrap_or("an account"), 40),
            thousands(t.value.max(0.0) as u64)
        ),
        Measure::TopicMentions => format!("topic \"{}\"", cut(t.detail.as_deref().unwrap_or("?"), 60)),
        Measure::Sources => format!("{} source(s) blind", count(t.value)),
    }
}

/// What an incident is, in a line: its signals still going on (or all, once they ended),
/// and the topic the evidence names when no topic signal is among them.
fn incident_headline(tracks: &[Track], evidence: &Evidence) -> String {
    let open: Vec<&Track> = tracks.iter().filter(|t| t.open).collect();
    let shown = if open.is_empty() { tracks.iter().collect() } else { open };
    let mut parts: Vec<String> = shown.into_iter().map(track_phrase).collect();
    if !tracks.iter().any(|t| t.kind == SignalKind::Topic) {
        if let Some(t) = evidence.topics.first() {
            parts.push(format!("topic \"{}\"", cut(&t.terms.join(", "), 60)));
        }
    }
    parts.join(", ")
}

/// What an episode is about, in a line (status page, report, acknowledge page).
pub(crate) fn episode_headline(e: &Episode) -> String {
    if e.is_incident() && e.tracks.len() > 1 {
        incident_headline(&e.tracks, &e.last_signal.evidence)
    } else {
        headline(&e.last_signal)
    }
}

/// The kinds of signal in an episode: "volume, negativity".
pub(crate) fn episode_kinds(e: &Episode) -> String {
    let kinds: Vec<&str> = e.kinds().map(SignalKind::as_str).collect();
    if kinds.is_empty() {
        e.last_signal.kind.as_str().to_string()
    } else {
        kinds.join(", ")
    }
}

/// Each signal of an incident with its phase: "negativity — critical, 14:05–14:40: …".
pub(crate) fn signal_lines(n: &Notice) -> Vec<String> {
    if !is_incident(n) {
        return Vec::new();
    }
    n.signals
        .iter()
        .map(|t| {
            let when = match t.ended_at {
                Some(end) if !t.open => format!("{}–{}", t.started_at.format("%H:%M"), end.format("%H:%M UTC")),
                _ => format!("since {}", t.started_at.format("%H:%M UTC")),
            };
            let kind = t.kind.as_str().replace('_', " ");
            format!("{kind} — {}, {when}: {}", t.severity.as_str(), track_phrase(t))
        })
        .collect()
}

/// What an alert adds beyond the lead signal: an incident's signals, then the emerging topics
/// and spreading stories of the evidence, one line each.
pub(crate) fn detail_lines(n: &Notice) -> Vec<String> {
    let mut lines = signal_lines(n);
    lines.extend(topic_lines(&n.signal.evidence));
    lines
}

/// The emerging topics and spreading stories of the evidence, one line each.
pub(crate) fn topic_lines(e: &Evidence) -> Vec<String> {
    let topics = e.topics.iter().map(|t| {
        let neg = if t.mentions > 0 { pct(t.negative as f64 / t.mentions as f64) } else { "-".into() };
        let cats: Vec<String> = t.categories.iter().map(|(c, _)| c.to_string()).collect();
        let cats = if cats.is_empty() { String::new() } else { format!(", {}", cats.join(", ")) };
        format!(
            "topic \"{}\": {} mentions (baseline {}), {neg} negative{cats}",
            cut(&t.terms.join(", "), 80),
            t.mentions,
            count(t.expected)
        )
    });
    let stories = e.stories.iter().map(|s| {
        let link = s.url.as_deref().map(|u| format!(" — {}", cut(u, 200))).unwrap_or_default();
        format!(
            "spreading: \"{}\" {} times by {} authors since {}{link}",
            cut(&s.text, 120),
            s.mentions,
            s.authors,
            s.first_seen.format("%H:%M UTC")
        )
    });
    topics.chain(stories).collect()
}

pub(crate) fn notice_subject(n: &Notice) -> String {
    if is_incident(n) {
        return incident_subject(n);
    }
    let tag = tag(n);
    let what = if n.event == Event::Resolved {
        let lasted = (n.at - n.started_at).num_seconds().max(0) as u64;
        format!("{} back to normal after {}", n.signal.kind.as_str().replace('_', " "), span(lasted))
    } else {
        headline(&n.signal)
    };
    cut(&format!("[{tag}] {}: {what}", n.watch), 200)
}

fn incident_subject(n: &Notice) -> String {
    let what = match n.event {
        Event::Resolved => {
            let lasted = (n.at - n.started_at).num_seconds().max(0) as u64;
            let kinds: Vec<String> = n.signals.iter().map(|t| t.kind.as_str().replace('_', " ")).collect();
            format!("storm over after {} ({})", span(lasted), kinds.join(", "))
        }
        _ => incident_headline(&n.signals, &n.signal.evidence),
    };
    cut(&format!("[{}] {}: {what}", tag(n), n.watch), 200)
}

fn tag(n: &Notice) -> String {
    match n.event {
        Event::Firing => severity_word(n.severity).to_string(),
        Event::Update => format!("{} · update", severity_word(n.severity)),
        Event::Escalated => format!("{} · escalated, not acknowledged", severity_word(n.severity)),
        Event::Resolved => "RESOLVED".to_string(),
    }
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
            group: crate::alert::GroupBy::Signal,
            event: Event::Firing,
            seq: 1,
            severity: Severity::Critical,
            watch: "Kroon Bank".into(),
            signals: Vec::new(),
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

    /// The Kroon Bank storm as one incident: volume, negativity and a topic in one line.
    pub(crate) fn incident() -> Notice {
        let mut n = notice();
        n.group = crate::alert::GroupBy::Watch;
        let mut volume = n.signal.clone();
        volume.kind = SignalKind::Volume;
        volume.measure = Measure::Mentions;
        volume.window_secs = 600;
        volume.value = 84.0;
        volume.baseline = 9.2;
        let mut negativity = n.signal.clone();
        negativity.value = 0.55;
        negativity.baseline = 0.07;
        n.signal.evidence.topics = vec![crate::model::Topic {
            terms: vec!["storing".into(), "inloggen".into()],
            mentions: 40,
            expected: 1.5,
            negative: 30,
            categories: vec![(CrisisCategory::Outage, 25)],
            examples: Vec::new(),
        }];
        n.signals = vec![Track::of(&volume), Track::of(&negativity)];
        n
    }

    #[test]
    fn an_incident_subject_names_every_signal_and_the_topic() {
        let n = incident();
        assert_eq!(
            notice_subject(&n),
            "[CRITICAL] Kroon Bank: 84 mentions/10 min (×9.1), negativity 55% (usually 7%), topic \"storing, inloggen\""
        );
        let lines = signal_lines(&n);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("volume — critical, since 14:05 UTC: 84 mentions"), "{lines:?}");
        let topics = topic_lines(&n.signal.evidence);
        assert_eq!(topics, ["topic \"storing, inloggen\": 40 mentions (baseline 1.5), 75% negative, outage"]);
        let mut resolved = n;
        resolved.event = Event::Resolved;
        resolved.at = resolved.started_at + chrono::Duration::minutes(95);
        assert_eq!(
            notice_subject(&resolved),
            "[RESOLVED] Kroon Bank: storm over after 1 h 35 min (volume, negativity)"
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
