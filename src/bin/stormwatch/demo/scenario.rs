//! The demo's story, generated the same way every run: three quiet days of history for a
//! Dutch bank and a Polish phone maker, then an outage storm at Kroon Bank (Dutch and English,
//! on Mastodon and in the news) that began twelve minutes before the demo starts, and twenty
//! seconds in, a wave of Polish complaints about a Jantar Mobile phone.

use chrono::{DateTime, Duration, Utc};

/// A post of the story.
#[derive(Debug, Clone)]
pub struct Post {
    pub id: u64,
    pub at: DateTime<Utc>,
    pub text: String,
    pub lang: &'static str,
    pub author: String,
    pub followers: u64,
    /// Where it appears: a Mastodon tag, or "news" (the RSS feed).
    pub channel: &'static str,
}

const BANK_CALM_NL: &[&str] = &[
    "Net een spaarrekening geopend bij Kroon Bank, vriendelijke service",
    "Kroon Bank heeft een nieuwe vestiging geopend in Utrecht",
    "Goede uitleg gekregen bij Kroon Bank over mijn hypotheek",
    "De nieuwe app van Kroon Bank ziet er goed uit",
];
const BANK_CALM_EN: &[&str] = &[
    "Kroon Bank app update looks nice",
    "Meeting at the Kroon Bank office tomorrow",
    "Does Kroon Bank have a branch in Leiden?",
];
const BANK_ANGRY_NL: &[&str] = &[
    "Storing bij Kroon Bank, weer geen toegang tot mijn rekening. Belachelijk!",
    "Waardeloze bank, de Kroon Bank app werkt al de hele ochtend niet",
    "Kroon Bank ligt er weer uit, ik kan niet betalen in de winkel. Schandalig",
    "Al een uur geen internetbankieren bij Kroon Bank, en geen enkele uitleg",
];
const BANK_ANGRY_EN: &[&str] = &[
    "Kroon Bank is down again, terrible, I cannot pay anything",
    "Kroon Bank outage for hours, awful service and no answers",
    "Worst bank ever, Kroon Bank lost my payment during the outage",
];
const PHONE_CALM_PL: &[&str] = &[
    "Kupiłem nowy telefon Jantar Mobile, bateria trzyma cały dzień",
    "Jantar Mobile ma świetny aparat w tej cenie",
    "Czy ktoś wie, kiedy Jantar Mobile wypuści aktualizację?",
];
const PHONE_ANGRY_PL: &[&str] = &[
    "Mój nowy Jantar Mobile przegrzewa się i wyłącza, to skandal",
    "Jantar Mobile po aktualizacji nie działa, fatalna jakość, chcę zwrot pieniędzy",
    "Telefon Jantar Mobile zepsuł się po tygodniu, okropna obsługa klienta",
    "Bateria w Jantar Mobile puchnie, to niebezpieczne! Wstyd",
];

/// xorshift: small, deterministic, good enough for a story.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() * items.len() as f64) as usize % items.len()]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.next() < p
    }

    /// Posts in a minute at `rate` per minute (Bernoulli trials per 6 s: enough here).
    fn count(&mut self, rate: f64) -> u32 {
        (0..10).filter(|_| self.next() < rate / 10.0).count() as u32
    }
}

/// Three days of quiet history up to `start`, as JSON lines for a `file` source (an export).
pub fn history(start: DateTime<Utc>) -> String {
    let mut rng = Rng(0x5157_0a7c_4d2e_9b11);
    let mut out = String::new();
    let mut n = 0u64;
    let minutes = 3 * 24 * 60;
    for m in (1..=minutes).rev() {
        let minute = start - Duration::minutes(m);
        let hour = (minute.timestamp() / 3600 % 24) as f64;
        // A daily rhythm: busy by day, quiet at night.
        let day = 0.35 + 0.65 * ((hour - 4.0) / 24.0 * std::f64::consts::TAU).sin().max(0.0);
        for (rate, calm, angry, lang) in [
            (1.2 * day, BANK_CALM_NL, BANK_ANGRY_NL, "nl"),
            (0.8 * day, BANK_CALM_EN, BANK_ANGRY_EN, "en"),
            (1.0 * day, PHONE_CALM_PL, PHONE_ANGRY_PL, "pl"),
        ] {
            for _ in 0..rng.count(rate) {
                n += 1;
                let text = if rng.chance(0.08) { rng.pick(angry) } else { rng.pick(calm) };
                let at = minute + Duration::seconds((rng.next() * 59.0) as i64);
                out += &serde_json::json!({
                    "id": format!("h{n}"), "text": text, "lang": lang, "created": at.to_rfc3339(),
                    "author": format!("user{}", n % 500), "followers": 50 + (rng.next() * 900.0) as u64,
                })
                .to_string();
                out.push('\n');
            }
        }
    }
    out
}

/// The live part of the story: the bank storm from 12 minutes before `start` to 10 minutes
/// after, the phone wave from 20 seconds after `start`. Each post is served once its time has
/// come.
pub fn live(start: DateTime<Utc>) -> Vec<Post> {
    let mut rng = Rng(0x0dd5_eed5_7a27_c0de);
    let mut posts = Vec::new();
    let mut push = |at: DateTime<Utc>, text: &str, lang: &'static str, channel: &'static str, rng: &mut Rng| {
        let n = posts.len() as u64 + 1;
        let big = rng.chance(0.03);
        posts.push(Post {
            id: 1_000_000 + n,
            at,
            text: text.to_string(),
            lang,
            author: format!("{}{}", if lang == "pl" { "klient" } else { "klant" }, n % 97),
            followers: if big { 120_000 + (rng.next() * 400_000.0) as u64 } else { 20 + (rng.next() * 3_000.0) as u64 },
            channel,
        });
    };
    // Every 5 seconds: the storm's posts (about 9 a minute, 70% angry), Dutch and English.
    for step in -144..120i64 {
        let at = start + Duration::seconds(step * 5);
        if rng.chance(0.55) {
            let text = if rng.chance(0.7) { rng.pick(BANK_ANGRY_NL) } else { rng.pick(BANK_CALM_NL) };
            push(at, text, "nl", "kroonbank", &mut rng);
        }
        if rng.chance(0.3) {
            let text = if rng.chance(0.7) { rng.pick(BANK_ANGRY_EN) } else { rng.pick(BANK_CALM_EN) };
            push(at, text, "en", "kroonbank", &mut rng);
        }
        // The phone wave: from 20 s in, about 30 posts a minute, 80% angry.
        if step >= 4 {
            for _ in 0..3 {
                if rng.chance(0.8) {
                    let text = if rng.chance(0.8) { rng.pick(PHONE_ANGRY_PL) } else { rng.pick(PHONE_CALM_PL) };
                    push(at, text, "pl", "jantar", &mut rng);
                }
            }
        }
    }
    for (minutes, title) in [
        (-10, "Kroon Bank customers unable to log in as outage spreads"),
        (-4, "Kroon Bank outage: payments failing across the Netherlands"),
        (1, "Kroon Bank says engineers are working on the outage"),
    ] {
        push(start + Duration::minutes(minutes), title, "en", "news", &mut rng);
    }
    posts
}
