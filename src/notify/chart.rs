//! The small volume chart in an alert: a PNG for mail and a block-character sparkline for chat.
//!
//! Drawing is hand-written on an RGB buffer so alerts need no font or graphics crate; the message
//! beside the chart carries the numbers, so the chart has no text.

use crate::model::TimelinePoint;

type Rgb = [u8; 3];

const BACKGROUND: Rgb = [250, 250, 250];
const AXIS: Rgb = [120, 120, 120];
const MENTIONS: Rgb = [70, 130, 180];
const NEGATIVE: Rgb = [190, 30, 45];
// Orange stays readable over both the blue bars and the light background, and is not the red of negatives.
const EXPECTED: Rgb = [255, 140, 0];

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A PNG (RGB, 8-bit) chart of the timeline: a bar of mentions per step with its negative part stacked at the
/// bottom in red, and the baseline's expected count as a step line when it has learned anything. Sizes are
/// clamped to 16..=2000 x 16..=1000. Encoding to memory should never fail; if it does, the
/// alert goes without its chart, and the log says why.
pub(crate) fn png(points: &[TimelinePoint], width: u32, height: u32) -> Option<Vec<u8>> {
    let mut canvas = Canvas::new(width.clamp(16, 2000), height.clamp(16, 1000));
    draw(&mut canvas, points);
    encode(&canvas).inspect_err(|e| tracing::warn!(error = %e, "cannot draw the alert chart; sent without it")).ok()
}

/// A one-line text sparkline of mentions per step, one of ▁▂▃▄▅▆▇█ per point, scaled to the largest count.
/// Empty input gives an empty string; all-zero counts give all ▁.
pub(crate) fn sparkline(points: &[TimelinePoint]) -> String {
    let max = points.iter().map(|p| u64::from(p.mentions)).max().unwrap_or(0).max(1);
    // Block k is (k + 1) eighths high, so pick the one nearest to the count's share of the maximum.
    let eighths = |m: u64| (16 * m + max) / (2 * max);
    points.iter().map(|p| BLOCKS[(eighths(u64::from(p.mentions)).saturating_sub(1) as usize).min(7)]).collect()
}

struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Self {
        Canvas { width, height, pixels: BACKGROUND.repeat((width * height) as usize) }
    }

    /// Fills the half-open rectangle [x0, x1) x [y0, y1), clipped to the canvas so callers need not be exact.
    fn fill(&mut self, (x0, x1): (u32, u32), (y0, y1): (u32, u32), colour: Rgb) {
        for y in y0..y1.min(self.height) {
            for x in x0..x1.min(self.width) {
                let i = 3 * (y * self.width + x) as usize;
                self.pixels[i..i + 3].copy_from_slice(&colour);
            }
        }
    }
}

/// Where the plot sits: bars stand on the row `base`, and a count of `max` reaches the row `top`.
struct Layout {
    left: u32,
    right: u32,
    top: u32,
    base: u32,
    max: f64,
    steps: usize,
}

impl Layout {
    /// Columns [x0, x1) of step `i`, at least one pixel wide even when there are more steps than columns.
    fn slot(&self, i: usize) -> (u32, u32) {
        let span = f64::from(self.right - self.left) / self.steps as f64;
        let x0 = self.left + (span * i as f64) as u32;
        let x1 = (self.left + (span * (i + 1) as f64) as u32).max(x0 + 1);
        (x0, x1)
    }

    /// The row a count reaches; rounding keeps a count of `max` at exactly `top`.
    fn row(&self, count: f64) -> u32 {
        let height = f64::from(self.base - self.top) * (count / self.max).clamp(0.0, 1.0);
        self.base - height.round() as u32
    }
}

/// NaN, infinite or negative expectations come from a baseline that has not learned; draw them as nothing.
fn expected(point: &TimelinePoint) -> f64 {
    if point.expected.is_finite() && point.expected > 0.0 {
        point.expected
    } else {
        0.0
    }
}

fn draw(canvas: &mut Canvas, points: &[TimelinePoint]) {
    let pad = (canvas.width.min(canvas.height) / 20).clamp(2, 12);
    let (left, base) = (pad, canvas.height - pad - 1);
    // The axis is drawn even without points, so an empty chart still reads as a chart.
    canvas.fill((left, canvas.width - pad), (base, base + 1), AXIS);
    canvas.fill((left, left + 1), (pad, base + 1), AXIS);
    if points.is_empty() {
        return;
    }
    let max = points.iter().map(|p| f64::from(p.mentions).max(expected(p))).fold(1.0, f64::max);
    let layout = Layout { left: left + 1, right: canvas.width - pad, top: pad, base, max, steps: points.len() };
    draw_bars(canvas, &layout, points);
    if points.iter().any(|p| expected(p) > 0.0) {
        draw_expected(canvas, &layout, points);
    }
}

fn draw_bars(canvas: &mut Canvas, layout: &Layout, points: &[TimelinePoint]) {
    for (i, point) in points.iter().enumerate() {
        let (x0, x1) = layout.slot(i);
        // A gap between bars only once they are wide enough to spare it.
        let gap = (x1 - x0) / 5;
        let columns = (x0 + gap, x1 - gap);
        let negative = point.negative.min(point.mentions);
        canvas.fill(columns, (layout.row(f64::from(point.mentions)), layout.base), MENTIONS);
        canvas.fill(columns, (layout.row(f64::from(negative)), layout.base), NEGATIVE);
    }
}

/// A step line: flat across each step at its expected count, joined by vertical risers between steps. Steps with
/// no expectation are from before the baseline learned, so they are left out rather than drawn as "expected 0".
fn draw_expected(canvas: &mut Canvas, layout: &Layout, points: &[TimelinePoint]) {
    let thickness = if layout.base - layout.top >= 40 { 2 } else { 1 };
    let mut previous: Option<u32> = None;
    for (i, point) in points.iter().enumerate() {
        if expected(point) <= 0.0 {
            previous = None;
            continue;
        }
        let (x0, x1) = layout.slot(i);
        // Keep a tiny expectation above the axis, where it would otherwise vanish.
        let y = layout.row(expected(point)).min(layout.base - thickness);
        canvas.fill((x0, x1), (y, y + thickness), EXPECTED);
        if let Some(prev) = previous {
            canvas.fill((x0, x0 + thickness), (prev.min(y), prev.max(y) + thickness), EXPECTED);
        }
        previous = Some(y);
    }
}

fn encode(canvas: &Canvas) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, canvas.width, canvas.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&canvas.pixels)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(mentions: u32, negative: u32, expected: f64) -> TimelinePoint {
        TimelinePoint { at: chrono::DateTime::UNIX_EPOCH, mentions, negative, expected }
    }

    /// Decodes a chart into (width, height, RGB pixels), failing the test if it is not a valid 8-bit RGB PNG.
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(bytes).read_info().expect("valid png");
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).expect("one frame");
        assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgb, png::BitDepth::Eight));
        pixels.truncate(info.buffer_size());
        (info.width, info.height, pixels)
    }

    fn pixel((width, _, pixels): &(u32, u32, Vec<u8>), x: u32, y: u32) -> Rgb {
        let i = 3 * (y * width + x) as usize;
        [pixels[i], pixels[i + 1], pixels[i + 2]]
    }

    #[test]
    fn png_has_the_requested_size_clamped_to_limits() {
        let points = [point(3, 1, 2.0), point(5, 0, 2.0)];
        let size = |width, height| {
            let (w, h, _) = decode(&png(&points, width, height).unwrap());
            (w, h)
        };
        assert_eq!(size(300, 120), (300, 120));
        assert_eq!(size(1, 1), (16, 16));
        assert_eq!(size(5000, 5000), (2000, 1000));
    }

    #[test]
    fn tall_bar_is_filled_and_space_above_short_bar_is_background() {
        // Two steps: the left one the maximum, the right one a tenth of it.
        let image = decode(&png(&[point(10, 0, 0.0), point(1, 0, 0.0)], 200, 100).unwrap());
        assert_eq!(pixel(&image, 50, 50), MENTIONS);
        assert_eq!(pixel(&image, 150, 50), BACKGROUND);
        assert_eq!(pixel(&image, 150, 5), BACKGROUND);
    }

    #[test]
    fn negative_part_sits_at_the_bottom_of_its_bar() {
        let image = decode(&png(&[point(10, 4, 0.0), point(10, 0, 0.0)], 200, 100).unwrap());
        // The bottom fifth is well inside the negative 40% of the left bar and above the axis.
        assert_eq!(pixel(&image, 50, 85), NEGATIVE);
        assert_eq!(pixel(&image, 50, 30), MENTIONS);
        assert_eq!(pixel(&image, 150, 85), MENTIONS);
    }

    #[test]
    fn expected_line_is_drawn_only_once_the_baseline_has_learned() {
        let has_line = |image: &(u32, u32, Vec<u8>), x| (0..100).any(|y| pixel(image, x, y) == EXPECTED);
        let learned = decode(&png(&[point(10, 0, 5.0), point(2, 0, 5.0)], 200, 100).unwrap());
        assert!(has_line(&learned, 50) && has_line(&learned, 150));
        // The left step is from before the baseline learned, so only the right one gets a line.
        let learning = decode(&png(&[point(10, 0, 0.0), point(2, 0, 5.0)], 200, 100).unwrap());
        assert!(!has_line(&learning, 50) && has_line(&learning, 150));
        let unlearned = decode(&png(&[point(10, 0, f64::NAN), point(2, 0, -3.0)], 200, 100).unwrap());
        assert!(!has_line(&unlearned, 50) && !has_line(&unlearned, 150));
    }

    #[test]
    fn sparkline_scales_to_the_maximum() {
        let line = |counts: &[u32]| sparkline(&counts.iter().map(|&m| point(m, 0, 0.0)).collect::<Vec<_>>());
        assert_eq!(line(&[0, 4, 8]), "▁▄█");
        assert_eq!(line(&[0, 1, 2, 3, 4, 5, 6, 7, 8]), "▁▁▂▃▄▅▆▇█");
        // A third of the maximum is 2.67 eighths high, nearest to the three-eighths block.
        assert_eq!(line(&[1, 3]), "▃█");
        assert_eq!(line(&[0, 0, 0]), "▁▁▁");
        assert_eq!(line(&[0, u32::MAX]), "▁█");
        assert_eq!(line(&[]), "");
    }

    #[test]
    fn odd_inputs_give_valid_pngs() {
        let many: Vec<_> = (0..500).map(|i| point(i, i / 2, f64::from(i))).collect();
        let cases: [&[TimelinePoint]; 6] = [
            &[],
            &[point(0, 0, 0.0), point(0, 0, 0.0)],
            &[point(7, 3, 4.0)],
            &[point(u32::MAX, u32::MAX, f64::MAX), point(0, 5, -1.0)],
            &[point(3, 9, f64::NAN), point(4, 1, f64::INFINITY), point(5, 0, f64::NEG_INFINITY)],
            &many,
        ];
        for points in cases {
            for (width, height) in [(0, 0), (1, 1), (16, 16), (17, 999), (u32::MAX, u32::MAX)] {
                let (w, h, pixels) = decode(&png(points, width, height).unwrap());
                assert_eq!(pixels.len(), 3 * (w * h) as usize);
            }
        }
    }
}
