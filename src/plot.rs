//! SVG plots of a count series against its baseline: replay's `--chart`, the status page and
//! the post-crisis report. A picture a person tunes thresholds by: the series, the expected
//! level, the band above which a point counts as a spike, and the alerts. Plain SVG (or SVG in
//! an HTML page), written by hand: the drawing is four polylines and some markers, not worth a plotting
//! library. Long series are reduced to one min/max pair per pixel column, so the file stays
//! small and every spike stays visible.

use std::fmt::Write as _;

use crate::detect::counts::Trace;

pub struct Marker {
    pub index: usize,
    pub critical: bool,
    /// Written beside the line: what the alert is about (a topic's words).
    pub label: Option<String>,
}

const W: f64 = 1200.0;
const H: f64 = 420.0;
const PAD_L: f64 = 60.0;
const PAD_R: f64 = 20.0;
const PAD_T: f64 = 30.0;
const PAD_B: f64 = 40.0;

/// Renders an SVG; `labels` are the first and last timestamps, shown on the x axis.
pub fn svg(title: &str, traces: &[Trace], markers: &[Marker], labels: (&str, &str)) -> String {
    stack(&[panel(title, traces, markers, labels, VOLUME)])
}

/// Panels drawn one under the other in one SVG.
pub fn stack(panels: &[String]) -> String {
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {}" font-family="sans-serif" font-size="12">"#,
        H * panels.len().max(1) as f64
    );
    out.push('\n');
    for (i, p) in panels.iter().enumerate() {
        let _ = writeln!(out, r#"<g transform="translate(0 {})">"#, H * i as f64);
        out.push_str(p);
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
    out
}

/// What the three lines of a panel are called: the measured series, what was expected, the
/// threshold.
pub(crate) type Legend = [&'static str; 3];
pub const VOLUME: Legend = ["count", "expected", "spike threshold"];

/// One chart, as SVG elements for `stack`.
pub fn panel(title: &str, traces: &[Trace], markers: &[Marker], labels: (&str, &str), legend: Legend) -> String {
    let n = traces.len().max(1);
    // Log scale on y: counts span orders of magnitude in a storm.
    let top = traces.iter().map(|t| t.count.max(t.threshold)).fold(1.0f64, f64::max).ln_1p();
    let x = |i: usize| PAD_L + (W - PAD_L - PAD_R) * i as f64 / (n.saturating_sub(1).max(1)) as f64;
    let y = |v: f64| PAD_T + (H - PAD_T - PAD_B) * (1.0 - v.max(0.0).ln_1p() / top);
    let columns = (W - PAD_L - PAD_R) as usize;
    let per = n.div_ceil(columns).max(1);
    let mut counts = String::new();
    let mut expected = String::new();
    let mut threshold = String::new();
    for (c, chunk) in traces.chunks(per).enumerate() {
        let i = c * per;
        let (lo, hi) = chunk.iter().fold((f64::MAX, f64::MIN), |(lo, hi), t| (lo.min(t.count), hi.max(t.count)));
        let _ = write!(counts, "{:.1},{:.1} {:.1},{:.1} ", x(i), y(lo), x(i), y(hi));
        let e = chunk.iter().map(|t| t.expected).sum::<f64>() / chunk.len() as f64;
        let th = chunk.iter().map(|t| t.threshold).sum::<f64>() / chunk.len() as f64;
        let _ = write!(expected, "{:.1},{:.1} ", x(i), y(e));
        let _ = write!(threshold, "{:.1},{:.1} ", x(i), y(th));
    }
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<rect width="{W}" height="{H}" fill="#fff"/>
<text x="{PAD_L}" y="18" font-size="14">{}</text>
<polyline points="{threshold}" fill="none" stroke="#e8a33d" stroke-width="1" stroke-dasharray="4 3"/>
<polyline points="{counts}" fill="none" stroke="#3b6ea8" stroke-width="1"/>
<polyline points="{expected}" fill="none" stroke="#2f9e44" stroke-width="1.5"/>
"##,
        escape(title)
    );
    for m in markers {
        let color = if m.critical { "#c92a2a" } else { "#e8590c" };
        let xi = x(m.index);
        let _ = writeln!(
            out,
            r#"<line x1="{xi:.1}" y1="{PAD_T}" x2="{xi:.1}" y2="{:.1}" stroke="{color}" stroke-width="1.5" opacity="0.8"/>"#,
            H - PAD_B
        );
        if let Some(label) = &m.label {
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}" font-size="11" fill="{color}">{}</text>"#,
                xi + 3.0,
                PAD_T + 12.0,
                escape(label)
            );
        }
    }
    let _ = write!(
        out,
        r##"<line x1="{PAD_L}" y1="{b}" x2="{r}" y2="{b}" stroke="#888"/>
<text x="{PAD_L}" y="{ly}">{}</text><text x="{r}" y="{ly}" text-anchor="end">{}</text>
<text x="{lx}" y="{ty}" text-anchor="end">{top_label}</text><text x="{lx}" y="{b}" text-anchor="end">0</text>
<text x="{r}" y="18" text-anchor="end"><tspan fill="#3b6ea8">{}</tspan> · <tspan fill="#2f9e44">{}</tspan> · <tspan fill="#e8a33d">{}</tspan> · <tspan fill="#e8590c">alert</tspan> (<tspan fill="#c92a2a">critical</tspan>) · log scale</text>
"##,
        escape(labels.0),
        escape(labels.1),
        legend[0],
        legend[1],
        legend[2],
        b = H - PAD_B,
        r = W - PAD_R,
        ly = H - PAD_B + 18.0,
        lx = PAD_L - 6.0,
        ty = PAD_T + 4.0,
        top_label = top.exp_m1().round(),
    );
    out
}

/// The SVG in a minimal HTML page.
pub fn html(title: &str, svg: &str) -> String {
    format!("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body style=\"margin:1em\">\n{svg}</body></html>\n", escape(title))
}

fn escape(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_holds_the_series_the_alerts_and_escapes_text() {
        let traces: Vec<Trace> =
            (0..5000).map(|i| Trace { count: (i % 50) as f64, expected: 20.0, threshold: 60.0, z: 0.0 }).collect();
        let s = svg(
            "<script>x</script>",
            &traces,
            &[Marker { index: 4000, critical: true, label: Some("topic \"<b>\"".into()) }],
            ("a", "b"),
        );
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert!(s.contains("#c92a2a"), "the critical alert is drawn");
        assert!(!s.contains("<script>"), "titles are escaped");
        assert!(
            s.contains("topic &quot;&lt;b&gt;&quot;") || s.contains("topic \"&lt;b&gt;\""),
            "labels are drawn, escaped"
        );
        assert!(s.len() < 200_000, "reduced to pixel columns: {} bytes", s.len());
        assert!(html("t", &s).contains("<svg"));
    }
}
