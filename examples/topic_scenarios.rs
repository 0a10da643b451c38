//! Emerging-topic scenarios: does a new topic get named within 20 minutes of onset, and how
//! often does a calm watch name one? The issue 20 target: a new, mostly non-emotional topic
//! adding about a third to a brand's volume for 30 minutes is named in a signal within 20
//! minutes, with at most one topic signal in six calm days.
//!
//! Each watch's everyday mentions are real labelled posts of its language
//! (`../shared/data/sentiment/{lang}/dev.tsv`, read at run time, never copied), scored once by
//! stormwatch's scorer, at 120, 300 or 600 an hour on a daily rhythm (±50%), the brand's name
//! in front (the watch's own term, which topics leave out). A scenario adds, after three days,
//! mentions of a topic (a price change, a data leak, a new product, a rumour about fees) at
//! ×0.2, ×0.33 or ×1 the watch's current volume for 30 minutes, at once (step) or rising over
//! 15 minutes (ramp). Topic texts come from templates with varied wording, scored like the
//! rest. A topic counts as named when a topic signal starts within 20 minutes of onset and one
//! of its words is one of the topic's own (by prefix: "prijs" names "prijsverhoging").
//! Quiet controls run seven days without a topic; topic signals after the first day are false.
//!
//! Run: `cargo run --release --example topic_scenarios -- [seed [topic_z [topic_beta [topic_min_mentions]]]]`
//! (tune on seed 1, report seed 2).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};

use stormwatch::detect::{Preset, TopicParams, WatchDetector, WatchParams};
use stormwatch::model::{Lang, Mention, Phase, Sentiment, Signal, SignalKind};
use stormwatch::sentiment::Scorer;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/sentiment");
const DAY: i64 = 1440;

/// A topic: its templates (`{a|b|c}` picks one) and the word prefixes that name it.
struct TopicKind {
    name: &'static str,
    lang: Lang,
    templates: &'static [&'static str],
    names: &'static [&'static str],
}

const TOPICS: &[TopicKind] = &[
    TopicKind {
        name: "price",
        lang: Lang::En,
        templates: &[
            "{So|Wow,|Hmm,|} the {subscription|monthly fee|premium plan} {price |}{goes up|went up|is going up} {again |}{from March|next month|by 3 euros|for everyone}{.|!|?|}",
            "New {prices|pricing} for the {subscription|app|premium plan}{: |, }{higher|more expensive} {from March|next month|again}",
            "Did anyone else get the email about the {price increase|new prices|price change}{?| from {BRAND}?}",
            "{BRAND} {raises|is raising|increases} {prices|the subscription price|its fees} {again|from March|next month}{.|, hmm|}",
        ],
        names: &["pric", "subscri", "fee", "increas", "expensiv", "rais"],
    },
    TopicKind {
        name: "leak",
        lang: Lang::En,
        templates: &[
            "{Is it true|Reading|Heard} that {customer|user|account} data {leaked|was stolen|ended up online}{?|.|}",
            "{Data leak|Data breach|Security breach} at {BRAND}{: |, }{passwords|account numbers|addresses} {exposed|leaked|online}",
            "{Just got|Got} an email from {BRAND} about a {data leak|data breach|breach}{, should I|. Do I need to} change my password?",
        ],
        names: &["data", "leak", "breach", "password", "stolen", "expos"],
    },
    TopicKind {
        name: "prijs",
        lang: Lang::Nl,
        templates: &[
            "{Dus|Wow,|Hè,|} het {abonnement|maandbedrag|pakket} van {BRAND} wordt {weer |}duurder {vanaf maart|volgende maand|per 1 april}{.|!|?|}",
            "{Nieuwe prijzen|Prijsverhoging|Hogere prijzen} voor het {abonnement|pakket}{: |, }{3|2} euro {per maand|erbij} {meer|duurder}",
            "Iemand anders ook een mail van {BRAND} gekregen over de {prijsverhoging|nieuwe prijzen|hogere prijs}?",
        ],
        names: &["prij", "duur", "abonnement", "maandbedrag", "verhog"],
    },
    TopicKind {
        name: "nieuwe pas",
        lang: Lang::Nl,
        templates: &[
            "{De nieuwe|Nieuwe} {app|betaalpas|pas} van {BRAND} is {uit|er|beschikbaar} {vanaf vandaag|sinds vanochtend|}",
            "Heeft iemand de nieuwe {app|betaalpas|pas} al {geprobeerd|gedownload|aangevraagd}?",
            "Net de nieuwe {app|betaalpas} {binnen|gekregen}{, ziet er anders uit|. Werkt met je telefoon|}",
        ],
        names: &["nieuw", "app", "betaalpas", "pas", "geprobeerd", "aangevraagd", "gedownload"],
    },
    TopicKind {
        name: "podwyżka",
        lang: Lang::Pl,
        templates: &[
            "{Podobno|Słyszałem, że|Czy to prawda, że} {opłaty|ceny|abonament} w {BRAND} {wzrosną|idą w górę|będą wyższe} {od marca|od przyszłego miesiąca|znowu}{?|.|}",
            "{Nowy cennik|Nowe ceny|Podwyżka cen} {od marca|od kwietnia}{: |, }{abonament|opłata} {droższy|wyższa} o {3|5} zł",
            "Dostał ktoś maila od {BRAND} o {podwyżce|nowym cenniku|zmianie cen}?",
        ],
        names: &["cen", "podwyż", "abonament", "opłat", "droż", "wzros", "wyższ"],
    },
    TopicKind {
        name: "wyciek",
        lang: Lang::Pl,
        templates: &[
            "{Wyciek danych|Wyciek} {klientów|użytkowników} {w BRAND|w aplikacji BRAND}{?|!|.}",
            "Czy to prawda, że {dane|hasła} {klientów|użytkowników} {wyciekły|trafiły do sieci}?",
            "Dostałem maila od {BRAND} o {wycieku danych|wycieku}{, zmieniać hasło?|. Co robić?}",
        ],
        names: &["wyciek", "dan", "hasł", "klient", "użytkowni"],
    },
    TopicKind {
        name: "pris",
        lang: Lang::Sv,
        templates: &[
            "{Så|Oj,|} {abonnemanget|månadsavgiften|priset} hos {BRAND} {höjs|går upp|blir dyrare} {igen |}{från mars|nästa månad|med 30 kronor}{.|!|?|}",
            "{Nya priser|Prishöjning|Höjda priser} på {abonnemanget|appen}{: |, }{30|50} kronor {mer|dyrare} {per månad|}",
            "Fick någon annan också mejlet från {BRAND} om {prishöjningen|de nya priserna}?",
        ],
        names: &["pris", "abonnemang", "dyr", "höj", "månadsavgift", "kronor"],
    },
    TopicKind {
        name: "nya kortet",
        lang: Lang::Sv,
        templates: &[
            "{Nya|Den nya} {appen|tjänsten} från {BRAND} {är här|släpptes idag|finns nu}",
            "Har någon testat {nya appen|det nya kortet|den nya tjänsten} än?",
            "Fick precis {det nya kortet|nya appen} från {BRAND}{, ser annorlunda ut|. Funkar med mobilen|}",
        ],
        names: &["nya", "nytt", "appen", "kort", "tjänst", "testat"],
    },
];

/// A deterministic generator (the LCG of the detector tests).
struct Rng(u64);

impl Rng {
    fn f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        ((self.f64() * n as f64) as usize).min(n.saturating_sub(1))
    }
}

/// Expands `{a|b|c}` choices (not nested) and the brand.
fn expand(template: &str, brand: &str, rng: &mut Rng) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else { break };
        let body = &rest[open + 1..open + close];
        if body == "BRAND" {
            out.push_str(brand);
        } else {
            let choices: Vec<&str> = body.split('|').collect();
            out.push_str(&choices[rng.below(choices.len())].replace("BRAND", brand));
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

fn load(lang: Lang, scorer: &Scorer) -> Result<Vec<(String, Sentiment)>> {
    let path = Path::new(DATA).join(lang.code()).join("dev.tsv");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| l.splitn(4, '\t').nth(3))
        .map(|t| (t.to_string(), scorer.score(t, Some(lang))))
        .collect())
}

/// One simulated watch: its language, rate and, if any, the topic and its shape.
struct Plan {
    lang: Lang,
    per_hour: f64,
    topic: Option<(usize, f64, bool, i64)>,
    days: i64,
    params: TopicParams,
}

const BRANDS: [&str; 4] = ["Kroon Bank", "Nordviken", "Baltbank", "Acme"];

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_772_409_600, 0).unwrap_or_default() // 2026-03-02T00:00:00Z
}

/// Runs one watch; returns its topic signals (minute, signal).
fn run(plan: &Plan, posts: &[(String, Sentiment)], scorer: &Scorer, rng: &mut Rng) -> Vec<(i64, Signal)> {
    let brand = BRANDS[plan.lang.index()];
    let mut params = WatchParams { own_terms: vec![brand.to_lowercase()], ..WatchParams::new(Preset::Balanced.spec()) };
    params.topics = plan.params;
    let mut d = WatchDetector::new(brand, params);
    let mut out = Vec::new();
    let mut owed = 0.0;
    let mut id = 0u64;
    let mut m = Mention {
        source: "feed".into(),
        id: String::new(),
        text: String::new(),
        author: None,
        reach: Some(200),
        lang: Some(plan.lang.code().into()),
        published: t0(),
        url: None,
    };
    for minute in 0..plan.days * DAY {
        let start = t0() + Duration::minutes(minute);
        out.extend(d.tick(start).into_iter().filter(|s| s.kind == SignalKind::Topic).map(|s| (minute, s)));
        let hour = (minute % DAY) as f64 / 60.0;
        let rate = plan.per_hour / 60.0 * (1.0 - 0.5 * (std::f64::consts::PI * hour / 12.0).cos());
        let n = (rate * (0.5 + rng.f64())).round() as i64;
        let extra = match plan.topic {
            Some((_, size, ramp, onset)) if (onset..onset + 30).contains(&minute) => {
                let shape = if ramp { ((minute - onset + 1) as f64 / 15.0).min(1.0) } else { 1.0 };
                owed += rate * size * shape;
                let k = owed.floor();
                owed -= k;
                k as i64
            }
            _ => 0,
        };
        for i in 0..n + extra {
            id += 1;
            m.published = start + Duration::seconds(i * 60 / (n + extra));
            m.id = id.to_string();
            m.author = Some(format!("user{}", rng.below(5000)));
            let scored;
            let s = if i < extra {
                let kind = &TOPICS[plan.topic.map_or(0, |t| t.0)];
                let template = kind.templates[rng.below(kind.templates.len())];
                m.text = expand(template, brand, rng);
                scored = scorer.score(&m.text, Some(plan.lang));
                &scored
            } else {
                let (text, s) = &posts[rng.below(posts.len())];
                m.text = format!("{brand}: {text}");
                s
            };
            out.extend(
                d.observe(&m, s, m.published).into_iter().filter(|s| s.kind == SignalKind::Topic).map(|s| (minute, s)),
            );
        }
    }
    out
}

fn names_topic(s: &Signal, kind: &TopicKind) -> bool {
    s.evidence.topics.iter().flat_map(|t| &t.terms).any(|w| kind.names.iter().any(|n| w.starts_with(n)))
}

fn main() -> Result<()> {
    let seed: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1);
    // Optional overrides for tuning: z, beta, min_mentions.
    let mut params = TopicParams::default();
    let arg = |i: usize| std::env::args().nth(i).map(|s| s.parse::<f64>()).transpose();
    params.z = arg(2)?.unwrap_or(params.z);
    params.beta = arg(3)?.unwrap_or(params.beta);
    params.min_mentions = arg(4)?.map_or(params.min_mentions, |m| m as u32);
    println!(
        "seed {seed}, topic_z {}, topic_beta {}, topic_min_mentions {}",
        params.z, params.beta, params.min_mentions
    );
    let scorer = Scorer::builtin()?;
    let mut posts = BTreeMap::new();
    for lang in Lang::ALL {
        posts.insert(lang, load(lang, &scorer)?);
    }
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x1234_5678);
    let rates = [120.0, 300.0, 600.0];

    // Scenarios: every topic × size × speed × rate.
    let mut by_size: BTreeMap<String, (u32, u32, Vec<i64>)> = BTreeMap::new();
    let mut before_onset = 0;
    let mut scenario_days = 0.0;
    let mut shown = 0;
    for (k, kind) in TOPICS.iter().enumerate() {
        for (size_name, size) in [("x0.20", 0.2), ("x0.33", 0.33), ("x1.00", 1.0)] {
            for ramp in [false, true] {
                for &per_hour in &rates {
                    let onset = 3 * DAY + 8 * 60 + rng.below(12 * 60) as i64;
                    let plan = Plan { lang: kind.lang, per_hour, topic: Some((k, size, ramp, onset)), days: 4, params };
                    let signals = run(&plan, &posts[&kind.lang], &scorer, &mut rng);
                    let started: Vec<&(i64, Signal)> =
                        signals.iter().filter(|(_, s)| s.phase == Phase::Started).collect();
                    before_onset += started.iter().filter(|(m, _)| *m < onset && *m >= DAY).count();
                    scenario_days += (onset - DAY) as f64 / DAY as f64;
                    let hit = started.iter().find(|(m, s)| (onset..=onset + 20).contains(m) && names_topic(s, kind));
                    for key in [
                        format!("size {size_name}"),
                        format!("speed {}", if ramp { "ramp" } else { "step" }),
                        format!("lang {}", kind.lang),
                        format!("rate {per_hour}/h"),
                    ] {
                        let e = by_size.entry(key).or_default();
                        e.1 += 1;
                        if let Some((m, _)) = hit {
                            e.0 += 1;
                            e.2.push(m - onset);
                        }
                    }
                    if let Some((m, s)) = hit.filter(|_| shown < 8 && per_hour == 300.0 && !ramp) {
                        shown += 1;
                        let t = &s.evidence.topics[0];
                        println!(
                            "example: {} {size_name} named after {} min: \"{}\" ({} mentions, baseline {:.1}, {} negative, {:?})",
                            kind.name,
                            m - onset,
                            t.terms.join(", "),
                            t.mentions,
                            t.expected,
                            t.negative,
                            s.severity
                        );
                    }
                }
            }
        }
    }
    let mut all = (0, 0, Vec::new());
    for (key, (hit, n, delays)) in &by_size {
        let mut d = delays.clone();
        d.sort_unstable();
        let median = d.get(d.len() / 2).copied().unwrap_or(-1);
        let max = d.last().copied().unwrap_or(-1);
        println!(
            "{key:>14}: named within 20 min {hit}/{n} ({:.0}%), delay median {median} min, max {max} min",
            100.0 * *hit as f64 / *n as f64
        );
        if key.starts_with("size") {
            all.0 += hit;
            all.1 += n;
            all.2.extend(d);
        }
    }
    all.2.sort_unstable();
    println!(
        "all scenarios: named within 20 min {}/{} ({:.0}%), delay median {} min; size x0.33 is the issue's target case",
        all.0,
        all.1,
        100.0 * all.0 as f64 / all.1 as f64,
        all.2.get(all.2.len() / 2).copied().unwrap_or(-1)
    );
    println!(
        "scenario streams before onset (after day 1): {before_onset} topic signals in {scenario_days:.0} watch-days ({:.2} per watch-week)",
        before_onset as f64 * 7.0 / scenario_days
    );

    // Quiet controls: seven days, no topic; the first day is warm-up.
    let mut false_topics = 0;
    let mut watch_days = 0.0;
    let mut worst = 0;
    for lang in Lang::ALL {
        for &per_hour in &rates {
            for _ in 0..2 {
                let plan = Plan { lang, per_hour, topic: None, days: 7, params };
                let signals = run(&plan, &posts[&lang], &scorer, &mut rng);
                let started: Vec<_> = signals.iter().filter(|(m, s)| s.phase == Phase::Started && *m >= DAY).collect();
                for (m, s) in started.iter().take(2) {
                    println!(
                        "quiet {lang} {per_hour}/h: false topic day {:.1}: {:?}",
                        *m as f64 / DAY as f64,
                        s.evidence.topics.iter().map(|t| t.terms.join(", ")).collect::<Vec<_>>()
                    );
                }
                false_topics += started.len();
                worst = worst.max(started.len());
                watch_days += 6.0;
            }
        }
    }
    println!(
        "quiet controls: {false_topics} topic signals in {watch_days:.0} calm watch-days: {:.2} per watch-week ({:.2} per six calm days; worst watch {worst})",
        false_topics as f64 * 7.0 / watch_days,
        false_topics as f64 * 6.0 / watch_days
    );
    Ok(())
}
