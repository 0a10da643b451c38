//! A generated stream of mentions with one storm: four days of a Dutch bank's mentions as
//! JSON lines, the same on every run.

use chrono::{DateTime, Duration, Utc};

/// A small deterministic generator (xorshift), so the stream is the same on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A Poisson draw (Knuth's method; rates here are small).
    pub fn poisson(&mut self, rate: f64) -> u32 {
        let limit = (-rate).exp();
        let (mut k, mut p) = (0, 1.0);
        loop {
            p *= self.next();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() * items.len() as f64) as usize % items.len()]
    }
}

const CALM: &[&str] = &[
    "Just opened a savings account at Kroon Bank, smooth and friendly service",
    "Kroon Bank app update looks nice",
    "Meeting at the Kroon Bank office tomorrow",
    "Kroon Bank heeft een nieuwe vestiging geopend in Utrecht",
    "Goede uitleg gekregen bij Kroon Bank over mijn hypotheek",
    "Does Kroon Bank have a branch in Leiden?",
    "Kroon Bank sponsort het jeugdvoetbal, mooi initiatief",
];
const ANGRY: &[&str] = &[
    "Kroon Bank is down again, terrible, I cannot pay anything",
    "Storing bij Kroon Bank, weer geen toegang tot mijn rekening. Belachelijk!",
    "Kroon Bank outage for hours, awful service and no answers",
    "Waardeloze bank, Kroon Bank app werkt al de hele ochtend niet",
    "Worst bank ever, Kroon Bank lost my payment",
];

/// Four days of mentions: a daily rhythm, ~10% negative; on day 3 at 14:00 an outage
/// storm (negative share ~50%, volume ×2.5) for an hour.
pub fn stream(onset: DateTime<Utc>) -> String {
    let start = onset - Duration::hours(2 * 24 + 14);
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let mut out = String::new();
    let mut n = 0;
    for minute in 0..(4 * 24 * 60) {
        let t = start + Duration::minutes(minute);
        let hour = (minute % (24 * 60)) as f64 / 60.0;
        let mut rate = 2.0 + 1.5 * (std::f64::consts::PI * (hour - 8.0) / 12.0).sin().max(-0.8);
        let storm = t >= onset && t < onset + Duration::hours(1);
        let negative_share = if storm { 0.5 } else { 0.1 };
        if storm {
            rate *= 2.5;
        }
        for _ in 0..rng.poisson(rate) {
            n += 1;
            let text = if rng.next() < negative_share { rng.pick(ANGRY) } else { rng.pick(CALM) };
            let at = t + Duration::seconds((rng.next() * 59.0) as i64);
            let followers = (rng.next() * 2000.0) as u64;
            out.push_str(
                &serde_json::json!({"id": format!("m{n}"), "text": text, "published": at.to_rfc3339(),
                    "author": format!("user{}", n % 300), "followers": followers, "source": "mastodon"})
                .to_string(),
            );
            out.push('\n');
        }
    }
    out
}

/// `stream(onset)` up to `now`, as a mention file for the `file` kind: the lines published by
/// `now`, each with its time in `created` too.
pub fn stream_until(onset: DateTime<Utc>, now: DateTime<Utc>) -> String {
    stream(onset)
        .lines()
        .filter_map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).ok()?;
            let published = v.get("published")?.as_str()?.to_string();
            let at: DateTime<Utc> = published.parse().ok()?;
            (at <= now).then(|| {
                v["created"] = published.into();
                v.to_string() + "\n"
            })
        })
        .collect()
}
