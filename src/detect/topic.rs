//! Emerging topics: terms and term pairs of one watch far above their own usual level,
//! after SigniTrend (Schubert, Weiler & Kriegel, KDD 2014), merged into one topic when they
//! trend together.
//!
//! Every mention's terms (`terms.rs`: stemmed words without stop words, numbers, links,
//! handles and the watch's own terms) and the pairs among its first `PAIR_TERMS` terms are
//! counted into a fixed hashed table, count-min style: each key lands in one cell of each of
//! `ROWS` rows. Time is cut into epochs of `EPOCH_SECS`; when an epoch closes, each cell's
//! count updates an exponentially weighted moving average and variance (half-life
//! `HALF_LIFE_EPOCHS`). Between closes the window judged is the last epoch's length, sliding:
//! the current epoch's count plus the part of the previous one still inside it. A key's
//! significance, in each row, is
//!
//! ```text
//! z = (count − max(ewma·s, β)) / (sqrt(max(ewmvar, ewma)·s) + β)
//! ```
//!
//! (the variance never below the mean: counts are at least Poisson-dispersed, and a cell
//! that was steady for hours must not call its first wobble a topic), with the bias `β`
//! against tiny counts and `s` the watch's volume in the window against its
//! usual volume (at least 1): a storm that multiplies every word is a volume signal, not a
//! topic, and what is *new* in it still stands out. The key's z is the smallest over the rows
//! (a collision only ever raises a count). A term or pair whose z reaches `TopicParams::z` joins a
//! short list of hot terms (at most `MAX_HOT`; a pair brings both its words), which tallies the
//! mentions carrying them from then on: the words as written, how many were negative, their
//! crisis categories and a few examples. Hot terms joined by a hot pair are one topic
//! ("storing, inloggen"); a term leaves the list after `CALM_BUCKETS` buckets below `Z_EXIT`.
//!
//! A topic is reported (signal kind `topic`, measure `topic_mentions`) once the watch is warmed
//! up, the table has learned `WARM_EPOCHS` epochs and `TopicParams::min_mentions` mentions carried it;
//! warning, or critical when its mentions are mostly negative, far more negative than the
//! watch's usual share, or a third of them carry a crisis category. Its start and end follow
//! the same hysteresis as negativity. Every other signal of the watch carries the emerging
//! topics in its evidence.
//!
//! Memory per watch is fixed: the table is `ROWS × WIDTH` cells of 12 bytes (48 kB), the hot
//! list at most `MAX_HOT` terms with `FORMS` spellings and `EXAMPLES` mention examples each
//! (≤ 16 × ~1.3 kB), and at most `MAX_PAIRS` hot pairs: ≤ 70 kB, whatever the traffic. The
//! table is saved compactly (bf16 averages and variances, u16 counts, base64: 43 kB of text)
//! rather than rebuilt: relearning it takes `WARM_EPOCHS`, during which a watch would be blind
//! to topics after every restart. A state saved before topics existed loads with an empty
//! table, which warms up on its own.

use serde::{Deserialize, Serialize};

use super::terms::{mix, Extracted};
use super::watch::EventState;
use crate::model::{CrisisCategory, Label, Mention, MentionRef, Phase, Sentiment, Severity, Topic};

/// Rows of the hashed table (count-min: the smallest estimate wins) and cells per row.
const ROWS: usize = 2;
// Each row indexes with its own 32 bits of a key (`index`).
const _: () = assert!(ROWS <= 2);
const WIDTH: usize = 2048;
/// Length of an epoch, and of the sliding window judged.
pub(crate) const EPOCH_SECS: i64 = 600;
/// Half-life of the averages, in epochs (4 h): slow enough that a half-hour topic is not
/// learned as normal while it lasts, fast enough to follow the day's rhythm.
const HALF_LIFE_EPOCHS: f64 = 24.0;
/// Epochs learned before the table's averages mean anything (6 h).
const WARM_EPOCHS: u32 = 36;
/// Below this significance a hot term calms down.
const Z_EXIT: f64 = 2.0;
/// Counts below this are not even tested (cheap: most keys of a mention are rare words).
const MIN_COUNT: f64 = 5.0;
/// A burst is learned as at most this many noise units above the average.
const CLIP: f64 = 3.0;
/// How many times slower a hot key is learned.
const HOT_SLOW: f32 = 10.0;
/// Buckets below `Z_EXIT` before a hot term leaves the list.
const CALM_BUCKETS: u32 = 10;
/// Pairs are counted among a mention's first this many terms (28 pairs at most).
const PAIR_TERMS: usize = 8;
/// Bounds of the hot list.
const MAX_HOT: usize = 16;
const MAX_PAIRS: usize = 32;
const FORMS: usize = 3;
const EXAMPLES: usize = 2;
/// Words of one topic shown, and topics listed in evidence.
const TOPIC_WORDS: usize = 4;
const TOPICS_SHOWN: usize = 3;
/// Characters of an example's text kept.
const TEXT_CHARS: usize = 200;

/// How a watch detects topics (`[watches.thresholds]` `topic_z`, `topic_beta`,
/// `topic_min_mentions`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopicParams {
    /// Significance for a term or pair to join the hot list, and for a topic to be reported.
    pub z: f64,
    /// The bias against tiny counts: a word seen a few times where it is never seen is no topic.
    pub beta: f64,
    /// Mentions that must carry a topic since it emerged before it is reported.
    pub min_mentions: u32,
}

impl Default for TopicParams {
    fn default() -> Self {
        TopicParams { z: 3.0, beta: 1.0, min_mentions: 3 }
    }
}

/// One cell of the table.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Cell {
    ewma: f32,
    var: f32,
    /// Keys counted in the current and the previous epoch.
    cur: u16,
    prev: u16,
}

/// A term on the hot list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Hot {
    hash: u64,
    /// The words as written, with how often.
    forms: Vec<(String, u32)>,
    /// Its significance, window count and expectation when last judged.
    z: f64,
    count: f64,
    expected: f64,
    calm: u32,
    /// Mentions carrying it since it became hot, negative ones and their categories.
    mentions: u32,
    negative: u32,
    categories: [u32; 7],
    examples: Vec<MentionRef>,
}

/// What topic detection keeps for one watch. Saved with the watch's window state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TopicState {
    /// `ROWS × WIDTH` cells, or empty before the first mention.
    #[serde(with = "compact")]
    cells: Vec<Cell>,
    /// The epoch counted into now (seconds since the epoch / `EPOCH_SECS`).
    epoch: Option<i64>,
    /// Epochs learned (saturating).
    learned: u32,
    /// Mentions in the current and previous epoch, and their usual number per epoch.
    volume: (u32, u32),
    usual_volume: f64,
    hot: Vec<Hot>,
    /// Hot pairs: the two terms' hashes and the pair's own z when last judged.
    pairs: Vec<(u64, u64, f64)>,
    event: EventState,
}

/// The judgement of one bucket: whether a topic passes, and the strongest one's numbers.
pub(crate) struct TopicJudgement {
    pub(crate) phase: Option<Phase>,
    pub(crate) severity: Severity,
    pub(crate) count: f64,
    pub(crate) expected: f64,
    pub(crate) threshold: f64,
    pub(crate) z: f64,
}

impl TopicState {
    /// Counts one mention's terms, published at `at` (seconds).
    pub(crate) fn observe(&mut self, p: &TopicParams, e: &Extracted, m: &Mention, s: &Sentiment, at: i64) {
        let epoch = at.div_euclid(EPOCH_SECS);
        self.roll_to(epoch, p.beta);
        // A mention from before the previous epoch is outside every window judged from now on.
        let slot = match self.epoch {
            Some(current) if epoch == current => 0,
            Some(current) if epoch == current - 1 => 1,
            _ => return,
        };
        if self.cells.is_empty() {
            self.cells = vec![Cell::default(); ROWS * WIDTH];
        }
        if slot == 0 {
            self.volume.0 += 1;
        } else {
            self.volume.1 += 1;
        }
        let frac = self.elapsed(at);
        let scale = self.scale(frac);
        let terms = &e.terms;
        // Each key is counted and, while its cells are at hand, tested: most keys are rare
        // words whose count is under `MIN_COUNT`, and for them the test ends there.
        for t in terms {
            if self.bump(t.hash, slot, frac) < MIN_COUNT || self.hot.iter().any(|h| h.hash == t.hash) {
                continue;
            }
            if let Some((z, count, expected)) = self.significance(t.hash, frac, scale, p.beta) {
                if z >= p.z {
                    self.make_hot(t.hash, z, count, expected);
                }
            }
        }
        let pairs = terms.len().min(PAIR_TERMS);
        for i in 0..pairs {
            for j in i + 1..pairs {
                let (a, b) = (terms[i].hash, terms[j].hash);
                let key = pair_hash(a, b);
                if self.bump(key, slot, frac) < MIN_COUNT
                    || self.pairs.iter().any(|p| (p.0, p.1) == (a, b) || (p.0, p.1) == (b, a))
                {
                    continue;
                }
                let Some((z, count, expected)) = self.significance(key, frac, scale, p.beta) else {
                    continue;
                };
                if z >= p.z && self.pairs.len() < MAX_PAIRS {
                    self.pairs.push((a, b, z));
                    self.make_hot(a, z, count, expected);
                    self.make_hot(b, z, count, expected);
                }
            }
        }
        if self.hot.is_empty() {
            return;
        }
        let negative = s.label == Label::Neg;
        for t in terms {
            let Some(h) = self.hot.iter_mut().find(|h| h.hash == t.hash) else { continue };
            h.mentions += 1;
            h.negative += negative as u32;
            for c in &s.categories {
                h.categories[*c as usize] += 1;
            }
            let word = e.word(t);
            if let Some((_, n)) = h.forms.iter_mut().find(|(f, _)| f == word) {
                *n += 1;
            } else if h.forms.len() < FORMS {
                h.forms.push((word.to_string(), 1));
            }
            if h.examples.len() < EXAMPLES {
                h.examples.push(example(m, s));
            }
        }
    }

    /// Judges the hot list at `at` (seconds; the end of the closed bucket).
    pub(crate) fn judge(
        &mut self,
        p: &TopicParams,
        at: i64,
        warmed: bool,
        usual_share: f64,
        calm_buckets: u32,
    ) -> TopicJudgement {
        self.roll_to(at.div_euclid(EPOCH_SECS), p.beta);
        let frac = self.elapsed(at);
        let scale = self.scale(frac);
        for i in 0..self.hot.len() {
            let hash = self.hot[i].hash;
            let (z, count, expected) = self.significance(hash, frac, scale, p.beta).unwrap_or((0.0, 0.0, 0.0));
            let h = &mut self.hot[i];
            (h.z, h.count, h.expected) = (z, count, expected);
        }
        for i in 0..self.pairs.len() {
            let (a, b, _) = self.pairs[i];
            self.pairs[i].2 = self.significance(pair_hash(a, b), frac, scale, p.beta).map_or(0.0, |s| s.0);
        }
        // A term held up by a hot pair is as significant as the pair.
        let pairs = self.pairs.clone();
        for h in &mut self.hot {
            let via_pair = pairs.iter().filter(|p| p.0 == h.hash || p.1 == h.hash).map(|p| p.2).fold(0.0, f64::max);
            h.z = h.z.max(via_pair);
            h.calm = if h.z < Z_EXIT { h.calm + 1 } else { 0 };
        }
        self.hot.retain(|h| h.calm < CALM_BUCKETS);
        let hot = &self.hot;
        self.pairs.retain(|p| hot.iter().any(|h| h.hash == p.0) && hot.iter().any(|h| h.hash == p.1));

        let topics = self.groups();
        let ready = warmed && self.learned >= WARM_EPOCHS;
        let best = topics.iter().find(|g| self.group_passes(p, g));
        let passes = ready && best.is_some();
        let strongest = best.or(topics.first());
        let (count, expected, z, severity) = match strongest {
            Some(g) => {
                let lead = &self.hot[g[0]];
                (lead.count, lead.expected, lead.z, self.severity(g, usual_share))
            }
            None => (0.0, 0.0, 0.0, Severity::Warning),
        };
        let phase = self.event.step(passes, severity, calm_buckets);
        TopicJudgement { phase, severity, count, expected, threshold: expected.max(p.beta) + p.z * p.beta, z }
    }

    /// The emerging topics, strongest first: what a signal's evidence lists.
    pub(crate) fn emerging(&self, p: &TopicParams) -> Vec<Topic> {
        if self.learned < WARM_EPOCHS {
            return Vec::new();
        }
        self.groups().iter().filter(|g| self.group_passes(p, g)).take(TOPICS_SHOWN).map(|g| self.topic(g)).collect()
    }

    /// Hot terms grouped by hot pairs (indexes into `hot`, strongest first in each group;
    /// groups strongest first).
    fn groups(&self) -> Vec<Vec<usize>> {
        let n = self.hot.len();
        let mut root: Vec<usize> = (0..n).collect();
        fn find(root: &mut [usize], mut i: usize) -> usize {
            while root[i] != i {
                root[i] = root[root[i]];
                i = root[i];
            }
            i
        }
        let index = |hash: u64| self.hot.iter().position(|h| h.hash == hash);
        for &(a, b, z) in &self.pairs {
            if let (Some(i), Some(j), true) = (index(a), index(b), z >= Z_EXIT) {
                let (ri, rj) = (find(&mut root, i), find(&mut root, j));
                root[ri] = rj;
            }
        }
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut of_root: Vec<Option<usize>> = vec![None; n];
        for i in 0..n {
            let r = find(&mut root, i);
            match of_root[r] {
                Some(g) => groups[g].push(i),
                None => {
                    of_root[r] = Some(groups.len());
                    groups.push(vec![i]);
                }
            }
        }
        let z = |i: &usize| self.hot[*i].z;
        for g in &mut groups {
            g.sort_by(|a, b| z(b).total_cmp(&z(a)));
        }
        groups.sort_by(|a, b| z(&b[0]).total_cmp(&z(&a[0])));
        groups
    }

    fn group_passes(&self, p: &TopicParams, g: &[usize]) -> bool {
        let lead = &self.hot[g[0]];
        lead.z >= p.z && g.iter().map(|&i| self.hot[i].mentions).max().unwrap_or(0) >= p.min_mentions
    }

    /// The term of a group whose tallies speak for it: the one most mentions carried.
    fn voice(&self, g: &[usize]) -> usize {
        g.iter().copied().max_by_key(|&i| self.hot[i].mentions).unwrap_or(g[0])
    }

    fn severity(&self, g: &[usize], usual_share: f64) -> Severity {
        let h = &self.hot[self.voice(g)];
        let n = h.mentions.max(1) as f64;
        let share = h.negative as f64 / n;
        let negative = share >= 0.5 || (share >= 0.3 && share >= 3.0 * usual_share);
        let crisis = h.categories.iter().any(|&c| c as f64 >= n / 3.0);
        if negative || crisis {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }

    fn topic(&self, g: &[usize]) -> Topic {
        let lead = &self.hot[g[0]];
        let voice = &self.hot[self.voice(g)];
        let mut categories: Vec<(CrisisCategory, u32)> =
            CrisisCategory::ALL.into_iter().map(|c| (c, voice.categories[c as usize])).filter(|c| c.1 > 0).collect();
        categories.sort_by_key(|c| std::cmp::Reverse(c.1));
        let mut examples: Vec<MentionRef> = Vec::new();
        for &i in g {
            for x in &self.hot[i].examples {
                if examples.len() < EXAMPLES + 1 && !examples.iter().any(|e| e.id == x.id && e.source == x.source) {
                    examples.push(x.clone());
                }
            }
        }
        Topic {
            terms: g.iter().take(TOPIC_WORDS).map(|&i| written(&self.hot[i])).collect(),
            mentions: lead.count.round().max(voice.mentions as f64) as u32,
            expected: lead.expected,
            negative: voice.negative,
            categories,
            examples,
        }
    }

    fn make_hot(&mut self, hash: u64, z: f64, count: f64, expected: f64) {
        if self.hot.iter().any(|h| h.hash == hash) {
            return;
        }
        let fresh = Hot {
            hash,
            forms: Vec::new(),
            z,
            count,
            expected,
            calm: 0,
            mentions: 0,
            negative: 0,
            categories: [0; 7],
            examples: Vec::new(),
        };
        if self.hot.len() < MAX_HOT {
            self.hot.push(fresh);
        } else if let Some(weakest) = self.hot.iter_mut().min_by(|a, b| a.z.total_cmp(&b.z)).filter(|h| h.z < z) {
            let gone = weakest.hash;
            *weakest = fresh;
            self.pairs.retain(|p| p.0 != gone && p.1 != gone);
        }
    }

    /// The cell of a key in a row. Keys are well-mixed 64-bit hashes, so each row takes its
    /// index from its own 32 bits of the key.
    fn index(hash: u64, row: usize) -> usize {
        row * WIDTH + ((hash >> (32 * row)) as usize & (WIDTH - 1))
    }

    /// Counts a key; returns its window count (the smallest over the rows).
    fn bump(&mut self, hash: u64, slot: usize, frac: f64) -> f64 {
        let mut least = f64::MAX;
        for row in 0..ROWS {
            let c = &mut self.cells[Self::index(hash, row)];
            if slot == 0 {
                c.cur = c.cur.saturating_add(1);
            } else {
                c.prev = c.prev.saturating_add(1);
            }
            least = least.min(c.cur as f64 + c.prev as f64 * (1.0 - frac));
        }
        least
    }

    /// (z, window count, expected count) of a key, when its count is worth testing.
    fn significance(&self, hash: u64, frac: f64, scale: f64, beta: f64) -> Option<(f64, f64, f64)> {
        if self.cells.is_empty() {
            return None;
        }
        let mut best: Option<(f64, f64, f64)> = None;
        for row in 0..ROWS {
            let c = self.cells[Self::index(hash, row)];
            let count = c.cur as f64 + c.prev as f64 * (1.0 - frac);
            if count < MIN_COUNT {
                return None;
            }
            let expected = c.ewma as f64 * scale;
            // Counts are at least Poisson-dispersed: the noise is never taken as less than the
            // mean's square root, however steady a cell has been.
            let noise = ((c.var as f64).max(c.ewma as f64) * scale).max(0.0).sqrt();
            let z = (count - expected.max(beta)) / (noise + beta);
            if best.is_none_or(|b| z < b.0) {
                best = Some((z, count, expected));
            }
        }
        best
    }

    /// How far into the current epoch `at` is, 0 to 1.
    fn elapsed(&self, at: i64) -> f64 {
        at.rem_euclid(EPOCH_SECS) as f64 / EPOCH_SECS as f64
    }

    /// The watch's volume in the sliding window against its usual volume, at least 1.
    fn scale(&self, frac: f64) -> f64 {
        let now = self.volume.0 as f64 + self.volume.1 as f64 * (1.0 - frac);
        if self.learned < WARM_EPOCHS || self.usual_volume < 1.0 {
            return 1.0;
        }
        (now / self.usual_volume).max(1.0)
    }

    /// Closes epochs up to (not including) `epoch`, learning each one's counts.
    fn roll_to(&mut self, epoch: i64, beta: f64) {
        let Some(current) = self.epoch else {
            self.epoch = Some(epoch);
            return;
        };
        if epoch <= current {
            return;
        }
        // After a long gap (the daemon down for days) the epochs in between are learned as
        // empty, at most a day of them: older averages have decayed to nothing by then.
        let steps = (epoch - current).min(144);
        let alpha = 1.0 - 0.5f64.powf(1.0 / HALF_LIFE_EPOCHS);
        // The cells of hot keys, with what they held: learned slowly below.
        let mut hot_cells: Vec<(usize, Cell)> = Vec::new();
        if !self.cells.is_empty() {
            let keys = self.hot.iter().map(|h| h.hash).chain(self.pairs.iter().map(|p| pair_hash(p.0, p.1)));
            for key in keys {
                hot_cells.extend((0..ROWS).map(|row| Self::index(key, row)).map(|i| (i, self.cells[i])));
            }
        }
        for _ in 0..steps {
            if !self.cells.is_empty() {
                let first = self.learned == 0;
                for c in &mut self.cells {
                    let (ewma, var) = (c.ewma as f64, c.var as f64);
                    // Robust: a burst is learned as at most `CLIP` noise units above the
                    // average, or the epoch a topic emerges would inflate the variance that
                    // judges the next ones and hide it.
                    // The clip uses the Poisson floor too: clipped at its own small variance, a
                    // steady cell would never learn how much it varies.
                    let x = (c.cur as f64).min(ewma.max(beta) + CLIP * (var.max(ewma).sqrt() + beta));
                    let (mean, var) = if first {
                        (c.cur as f64, 0.0)
                    } else {
                        let diff = x - ewma;
                        let incr = alpha * diff;
                        (ewma + incr, (1.0 - alpha) * (var + diff * incr))
                    };
                    *c = Cell { ewma: mean as f32, var: var as f32, cur: 0, prev: c.cur };
                }
                // A hot key is learned `HOT_SLOW` times slower while it is hot: a topic is
                // not the new normal while it lasts.
                for (i, old) in &hot_cells {
                    let c = &mut self.cells[*i];
                    c.ewma = old.ewma + (c.ewma - old.ewma) / HOT_SLOW;
                    c.var = old.var + (c.var - old.var) / HOT_SLOW;
                }
                let x = self.volume.0 as f64;
                self.usual_volume = if first { x } else { self.usual_volume + alpha * (x - self.usual_volume) };
                self.learned = self.learned.saturating_add(1);
            }
            self.volume = (0, self.volume.0);
        }
        self.epoch = Some(epoch);
    }
}

/// A pair's key: the same whichever word came first.
fn pair_hash(a: u64, b: u64) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    mix(lo ^ hi.rotate_left(23) ^ 0x9e37_79b9_7f4a_7c15)
}

/// A term as people wrote it most often.
fn written(h: &Hot) -> String {
    h.forms.iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).map(|f| f.0.clone()).unwrap_or_default()
}

fn example(m: &Mention, s: &Sentiment) -> MentionRef {
    MentionRef {
        source: m.source.clone(),
        id: m.id.clone(),
        author: m.author.clone(),
        reach: m.reach,
        url: m.url.clone(),
        text: m.text.chars().take(TEXT_CHARS).collect(),
        compound: s.compound,
        published: m.published,
    }
}

/// The table saved compactly: each cell's average and variance as bf16 (the top half of an
/// f32: 3 significant digits, plenty for a significance test) and its two counts as u16,
/// little-endian, base64. 8 bytes a cell instead of ~40 characters of JSON numbers.
mod compact {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Cell;

    const CELL_BYTES: usize = 8;

    pub(super) fn serialize<S: Serializer>(cells: &[Cell], s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::with_capacity(cells.len() * CELL_BYTES);
        for c in cells {
            bytes.extend_from_slice(&bf16(c.ewma).to_le_bytes());
            bytes.extend_from_slice(&bf16(c.var).to_le_bytes());
            bytes.extend_from_slice(&c.cur.to_le_bytes());
            bytes.extend_from_slice(&c.prev.to_le_bytes());
        }
        s.serialize_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Cell>, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(text).map_err(serde::de::Error::custom)?;
        if bytes.len() % CELL_BYTES != 0
            || !(bytes.is_empty() || bytes.len() == super::ROWS * super::WIDTH * CELL_BYTES)
        {
            return Err(serde::de::Error::custom(format!(
                "a topic table of {} bytes; expected {}",
                bytes.len(),
                super::ROWS * super::WIDTH * CELL_BYTES
            )));
        }
        let u16_at = |c: &[u8], i: usize| u16::from_le_bytes([c[i], c[i + 1]]);
        Ok(bytes
            .chunks_exact(CELL_BYTES)
            .map(|c| Cell {
                ewma: f32::from_bits((u16_at(c, 0) as u32) << 16),
                var: f32::from_bits((u16_at(c, 2) as u32) << 16),
                cur: u16_at(c, 4),
                prev: u16_at(c, 6),
            })
            .collect())
    }

    /// Rounds to the nearest bf16 (ties away from zero; the values are finite, non-negative).
    fn bf16(x: f32) -> u16 {
        ((x.to_bits().saturating_add(0x8000)) >> 16) as u16
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use crate::detect::{Preset, WatchDetector, WatchParams};
    use crate::model::{Lang, Signal, SignalKind, TermScore};

    use super::*;

    const DAY: i64 = 24 * 60;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    /// Everyday chatter about a brand: random sentences over a few hundred made-up words
    /// with a skewed frequency, like real vocabulary.
    struct Chatter {
        seed: u64,
        vocabulary: Vec<String>,
        next_id: u64,
    }

    const TOPIC: [&str; 6] = [
        "acme raises the subscription price again",
        "new acme price for the subscription, steep",
        "did anyone else see the subscription price going up at acme",
        "acme subscription price up by three euro from march",
        "so the acme price hike hits every subscription",
        "price of my acme subscription went up, wow",
    ];

    impl Chatter {
        fn new(seed: u64) -> Chatter {
            let syllables = ["ka", "lo", "mi", "ren", "tas", "vo", "bel", "dur", "fi", "gon", "pra", "sel"];
            let mut vocabulary = Vec::new();
            for a in syllables {
                for b in syllables {
                    for c in ["", "n", "t"] {
                        vocabulary.push(format!("{a}{b}{c}"));
                    }
                }
            }
            Chatter { seed, vocabulary, next_id: 0 }
        }

        fn rand(&mut self) -> f64 {
            self.seed = self.seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.seed >> 11) as f64 / (1u64 << 53) as f64
        }

        fn text(&mut self) -> String {
            let mut words = vec!["acme".to_string()];
            for _ in 0..8 {
                // Skewed: word i is picked with a chance falling off like 1/i.
                let i = ((self.vocabulary.len() as f64).powf(self.rand()) as usize).min(self.vocabulary.len() - 1);
                words.push(self.vocabulary[i].clone());
            }
            words.join(" ")
        }

        fn mention(&mut self, at: DateTime<Utc>, text: String) -> (Mention, Sentiment) {
            self.next_id += 1;
            let m = Mention {
                source: "feed".into(),
                id: self.next_id.to_string(),
                text,
                author: Some(format!("user{}", self.next_id % 500)),
                reach: Some(100),
                lang: Some("en".into()),
                published: at,
                url: None,
            };
            let s = Sentiment {
                lang: Some(Lang::En),
                label: Label::Neu,
                compound: 0.0,
                terms: Vec::<TermScore>::new(),
                categories: Vec::new(),
            };
            (m, s)
        }

        /// `minutes` of chatter at 3 to 9 a minute (a daily rhythm), plus `topic(minute)` topic
        /// mentions a minute.
        fn run(&mut self, d: &mut WatchDetector, minutes: i64, topic: impl Fn(i64) -> f64) -> Vec<(i64, Signal)> {
            let mut out = Vec::new();
            let mut owed = 0.0;
            for minute in 0..minutes {
                let start = t0() + chrono::Duration::minutes(minute);
                out.extend(d.tick(start).into_iter().map(|s| (minute, s)));
                let hour = (minute % DAY) as f64 / 60.0;
                let rate = 6.0 - 3.0 * (std::f64::consts::PI * hour / 12.0).cos();
                let n = (rate * (0.5 + self.rand())).round() as i64;
                owed += topic(minute);
                let extra = owed.floor() as i64;
                owed -= extra as f64;
                for i in 0..n + extra {
                    let at = start + chrono::Duration::seconds(i * 60 / (n + extra));
                    let text = if i < extra {
                        TOPIC[(self.rand() * TOPIC.len() as f64) as usize % TOPIC.len()].to_string()
                    } else {
                        self.text()
                    };
                    let (m, s) = self.mention(at, text);
                    out.extend(d.observe(&m, &s, at).map(|s| (minute, s)));
                }
            }
            out
        }
    }

    fn detector() -> WatchDetector {
        let params = WatchParams { own_terms: vec!["acme".into()], ..WatchParams::new(Preset::Balanced.spec()) };
        WatchDetector::new("acme", params)
    }

    fn topic_signals(signals: &[(i64, Signal)]) -> Vec<(i64, &Signal)> {
        signals.iter().filter(|(_, s)| s.kind == SignalKind::Topic).map(|(m, s)| (*m, s)).collect()
    }

    #[test]
    fn a_new_topic_a_third_of_the_volume_is_named_within_twenty_minutes() {
        let onset = 3 * DAY + 14 * 60;
        let mut d = detector();
        // Two topic mentions a minute for half an hour: a third of the afternoon's six.
        let signals =
            Chatter::new(5).run(&mut d, onset + 150, |m| if (onset..onset + 30).contains(&m) { 2.0 } else { 0.0 });
        let topics = topic_signals(&signals);
        let (minute, s) = topics.iter().find(|(_, s)| s.phase == Phase::Started).expect("a topic signal");
        assert!((onset..onset + 20).contains(minute), "named {} minutes after onset", minute - onset);
        let words = &s.evidence.topics[0].terms;
        assert!(words.iter().any(|w| w == "price" || w == "subscription"), "{words:?}");
        assert!(!words.iter().any(|w| w == "acme"), "the watch's own term is no topic: {words:?}");
        assert!(!s.evidence.topics[0].examples.is_empty());
        assert_eq!(s.severity, Severity::Warning, "a neutral topic is a warning");
        assert!(topics.iter().filter(|(_, s)| s.phase == Phase::Started).count() == 1, "{topics:?}");
        assert!(topics.iter().any(|(m, s)| s.phase == Phase::Ended && *m > onset + 30), "and it ends");
    }

    #[test]
    fn everyday_chatter_names_no_topic_for_days() {
        let mut d = detector();
        let signals = Chatter::new(9).run(&mut d, 6 * DAY, |_| 0.0);
        let topics = topic_signals(&signals);
        assert!(topics.is_empty(), "{:?}", topics.iter().map(|(m, s)| (m, &s.evidence.topics)).collect::<Vec<_>>());
    }

    #[test]
    fn a_state_saved_before_topics_existed_still_loads_and_the_table_round_trips() {
        let mut d = detector();
        Chatter::new(3).run(&mut d, 12 * 60, |_| 0.0);
        let saved = d.save().unwrap();
        let mut old: serde_json::Value = serde_json::from_slice(&saved).unwrap();
        let table = old["topics"]["cells"].as_str().unwrap().len();
        assert!(table > 40_000 && table < 45_000, "the table is saved in {table} characters");
        old.as_object_mut().unwrap().remove("topics");
        let params = d.params().clone();
        assert!(WatchDetector::restore("acme", params.clone(), &serde_json::to_vec(&old).unwrap()).is_ok());
        let again = WatchDetector::restore("acme", params, &saved).unwrap();
        assert_eq!(String::from_utf8_lossy(&again.save().unwrap()), String::from_utf8_lossy(&saved));
    }
}
