//! Line charts, heat maps and bar charts as SVG, with no plotting library.

use std::fmt::Write as _;

use crate::svg::{escape, open};

/// Colours of successive series.
const PALETTE: [&str; 6] = [
    "#2171b5", "#cb181d", "#238b45", "#6a51a3", "#d94801", "#525252",
];

/// One named series of (x, y) points.
pub struct Series {
    /// The legend's name.
    pub name: String,
    /// The points, in x order.
    pub points: Vec<(f64, f64)>,
}

/// `[lo, hi]` padded so that a flat series still has a height.
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if (hi - lo).abs() < 1e-12 {
        let d = if hi.abs() > 0.0 { hi.abs() * 0.1 } else { 1.0 };
        (lo - d, hi + d)
    } else {
        let d = 0.05 * (hi - lo);
        (lo - d, hi + d)
    }
}

/// A line chart of `series` with axis labels and an optional dashed horizontal `reference`
/// line (a target). Series with one point are drawn as a dot.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    reference: Option<(f64, &str)>,
) -> String {
    let (w, h) = (520.0, 300.0);
    let (left, right, top, bottom) = (62.0, 16.0, 34.0, 58.0);
    let points = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if let Some((r, _)) = reference {
        y0 = y0.min(r);
        y1 = y1.max(r);
    }
    let mut svg = open(w, h);
    let _ = writeln!(
        svg,
        "<text class=\"chart-title\" x=\"{left}\" y=\"20\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        escape(title)
    );
    if x0 > x1 {
        let _ = writeln!(svg, "<text x=\"{left}\" y=\"80\">no data</text></svg>");
        return svg;
    }
    let (x0, x1) = if x1 > x0 {
        (x0, x1)
    } else {
        (x0 - 1.0, x1 + 1.0)
    };
    let (y0, y1) = padded(y0, y1);
    let frame = Frame::new((w, h), (left, right, top, bottom), (x0, x1), (y0, y1));
    frame.draw(&mut svg, x_label, y_label);
    let px = |x: f64| frame.px(x);
    let py = |y: f64| frame.py(y);
    if let Some((r, name)) = reference {
        let _ = writeln!(
            svg,
            "<line class=\"reference\" x1=\"{left}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\" \
             stroke=\"#969696\" stroke-dasharray=\"5,4\"/><text x=\"{2:.1}\" y=\"{3:.1}\" \
             font-size=\"9\" text-anchor=\"end\" fill=\"#636363\">{4}</text>",
            py(r),
            w - right,
            w - right - 2.0,
            py(r) - 3.0,
            escape(name)
        );
    }
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let path: Vec<String> = s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        if path.len() == 1 {
            let (x, y) = path[0].split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(
                svg,
                "<circle class=\"series\" cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{colour}\"/>"
            );
        } else if !path.is_empty() {
            let _ = writeln!(
                svg,
                "<polyline class=\"series\" points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"/>",
                path.join(" ")
            );
        }
        let lx = left + 130.0 * i as f64;
        let _ = writeln!(
            svg,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"10\" height=\"3\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{}</text>",
            h - 16.0,
            lx + 14.0,
            h - 12.0,
            escape(&s.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A chart's plotting area and its data ranges: maps data to picture coordinates and draws
/// the border, ticks and axis labels.
struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    /// A `size` picture with `margins` (left, right, top, bottom) around the plot of the
    /// data ranges `x` and `y`.
    fn new(size: (f64, f64), margins: (f64, f64, f64, f64), x: (f64, f64), y: (f64, f64)) -> Self {
        let (left, right, top, bottom) = margins;
        Self {
            w: size.0,
            h: size.1,
            left,
            right,
            top,
            bottom,
            x,
            y,
        }
    }

    fn px(&self, x: f64) -> f64 {
        self.left + (x - self.x.0) / (self.x.1 - self.x.0) * (self.w - self.left - self.right)
    }

    fn py(&self, y: f64) -> f64 {
        self.h
            - self.bottom
            - (y - self.y.0) / (self.y.1 - self.y.0) * (self.h - self.top - self.bottom)
    }

    /// The border, five ticks on each axis and the axis labels.
    fn draw(&self, svg: &mut String, x_label: &str, y_label: &str) {
        let Self {
            w,
            h,
            left,
            right,
            top,
            bottom,
            ..
        } = *self;
        let _ = writeln!(
            svg,
            "<rect x=\"{left}\" y=\"{top}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#bdbdbd\"/>",
            w - left - right,
            h - top - bottom
        );
        for i in 0..=4 {
            let y = self.y.0 + (self.y.1 - self.y.0) * i as f64 / 4.0;
            let x = self.x.0 + (self.x.1 - self.x.0) * i as f64 / 4.0;
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"end\">{}</text>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
                left - 4.0,
                self.py(y) + 3.0,
                tick(y),
                self.px(x),
                h - bottom + 12.0,
                tick(x)
            );
        }
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>\
             <text x=\"12\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" transform=\"rotate(-90 12 {:.1})\">{}</text>",
            (left + w - right) / 2.0,
            h - bottom + 26.0,
            escape(x_label),
            (top + h - bottom) / 2.0,
            (top + h - bottom) / 2.0,
            escape(y_label)
        );
    }
}

/// A compact tick label.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 || (a > 0.0 && a < 0.01) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// One heat map row group: a label, the row names and `values[row][column]` in `[0, 1]`.
pub struct HeatBlock {
    /// The group's label (a choice block).
    pub label: String,
    /// One name per row (the candidates).
    pub rows: Vec<String>,
    /// `values[row][column]`.
    pub values: Vec<Vec<f64>>,
}

/// Heat maps of probabilities over `columns` (epochs), one group per block, stacked: white
/// for 0, dark blue for 1, each cell titled with its value; the largest of each column is
/// outlined.
pub fn heat_map(title: &str, columns: &[String], blocks: &[HeatBlock]) -> String {
    let (cell_w, cell_h, label_w, top) = (34.0, 12.0, 150.0, 44.0);
    let rows: usize = blocks.iter().map(|b| b.rows.len()).sum();
    let height = top + rows as f64 * cell_h + blocks.len() as f64 * 10.0 + 20.0;
    let width = label_w + cell_w * columns.len().max(1) as f64 + 30.0;
    let mut svg = open(width.max(320.0), height);
    let _ = writeln!(
        svg,
        "<text class=\"chart-title\" x=\"8\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        escape(title)
    );
    for (c, name) in columns.iter().enumerate() {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
            label_w + cell_w * (c as f64 + 0.5),
            top - 6.0,
            escape(name)
        );
    }
    let mut y = top;
    for block in blocks {
        let _ = writeln!(svg, "<g class=\"heat-block\">");
        let _ = writeln!(
            svg,
            "<text x=\"8\" y=\"{:.1}\" font-size=\"10\" font-weight=\"bold\">{}</text>",
            y + cell_h - 2.0,
            escape(&block.label)
        );
        let winners: Vec<usize> = (0..columns.len())
            .map(|c| {
                (0..block.rows.len())
                    .max_by(|&a, &b| block.values[a][c].total_cmp(&block.values[b][c]))
                    .unwrap_or(0)
            })
            .collect();
        for (r, name) in block.rows.iter().enumerate() {
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"end\">{}</text>",
                label_w - 4.0,
                y + cell_h - 3.0,
                escape(name)
            );
            for c in 0..columns.len() {
                let v = block.values[r]
                    .get(c)
                    .copied()
                    .unwrap_or(0.0)
                    .clamp(0.0, 1.0);
                // White at 0 to #2171b5 at 1, linear: the cell shows the probability itself.
                let mix = |a: f64, b: f64| (a + (b - a) * v).round() as u8;
                let fill = format!(
                    "rgb({},{},{})",
                    mix(255.0, 33.0),
                    mix(255.0, 113.0),
                    mix(255.0, 181.0)
                );
                let stroke = if winners[c] == r { "#000" } else { "#e0e0e0" };
                let text = if v > 0.55 { "white" } else { "#252525" };
                let x = label_w + cell_w * c as f64;
                let _ = writeln!(
                    svg,
                    "<rect class=\"cell\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{cell_w}\" height=\"{cell_h}\" \
                     fill=\"{fill}\" stroke=\"{stroke}\"><title>{} {}: {v:.3}</title></rect>\
                     <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"8\" text-anchor=\"middle\" fill=\"{text}\">{v:.2}</text>",
                    escape(name),
                    escape(&columns[c]),
                    x + cell_w / 2.0,
                    y + cell_h - 3.0
                );
            }
            y += cell_h;
        }
        svg.push_str("</g>\n");
        y += 10.0;
    }
    svg.push_str("</svg>\n");
    svg
}

/// A horizontal bar chart of named values in `unit`.
pub fn bar_chart(title: &str, unit: &str, bars: &[(String, f64)]) -> String {
    let (bar_h, label_w, top) = (16.0, 150.0, 34.0);
    let width = 560.0;
    let height = top + bars.len() as f64 * (bar_h + 4.0) + 20.0;
    let max = bars.iter().map(|b| b.1).fold(0.0f64, f64::max).max(1e-12);
    let total: f64 = bars.iter().map(|b| b.1).sum();
    let mut svg = open(width, height);
    let _ = writeln!(
        svg,
        "<text class=\"chart-title\" x=\"8\" y=\"20\" font-size=\"13\" font-weight=\"bold\">{} \
         (total {} {})</text>",
        escape(title),
        tick(total),
        escape(unit)
    );
    for (i, (name, v)) in bars.iter().enumerate() {
        let y = top + i as f64 * (bar_h + 4.0);
        let len = v / max * (width - label_w - 80.0);
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>\
             <rect class=\"bar\" x=\"{label_w}\" y=\"{y:.1}\" width=\"{len:.1}\" height=\"{bar_h}\" fill=\"#6baed6\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{} {}</text>",
            label_w - 6.0,
            y + bar_h - 4.0,
            escape(name),
            label_w + len + 4.0,
            y + bar_h - 4.0,
            tick(*v),
            escape(unit)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// One point of a scatter chart with a vertical error bar from `low` to `high`.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorPoint {
    /// Position on the horizontal axis.
    pub x: f64,
    /// The value (a mean).
    pub y: f64,
    /// Bottom of the error bar.
    pub low: f64,
    /// Top of the error bar.
    pub high: f64,
}

/// A scatter chart of groups of points, each with its error bar (the paper's accuracy against
/// latency picture): `groups` are (legend name, points), one colour each.
pub fn scatter_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    groups: &[(String, Vec<ErrorPoint>)],
) -> String {
    let (w, h) = (560.0, 340.0);
    let (left, right, top, bottom) = (62.0, 16.0, 34.0, 62.0);
    let all: Vec<&ErrorPoint> = groups
        .iter()
        .flat_map(|(_, p)| p.iter())
        .filter(|p| [p.x, p.y, p.low, p.high].iter().all(|v| v.is_finite()))
        .collect();
    let mut svg = open(w, h);
    let _ = writeln!(
        svg,
        "<text class=\"chart-title\" x=\"{left}\" y=\"20\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        escape(title)
    );
    if all.is_empty() {
        let _ = writeln!(svg, "<text x=\"{left}\" y=\"80\">no data</text></svg>");
        return svg;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in &all {
        (x0, x1) = (x0.min(p.x), x1.max(p.x));
        (y0, y1) = (y0.min(p.low), y1.max(p.high));
    }
    let ((x0, x1), (y0, y1)) = (padded(x0, x1), padded(y0, y1));
    let frame = Frame::new((w, h), (left, right, top, bottom), (x0, x1), (y0, y1));
    frame.draw(&mut svg, x_label, y_label);
    let px = |x: f64| frame.px(x);
    let py = |y: f64| frame.py(y);
    for (i, (name, points)) in groups.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        for p in points
            .iter()
            .filter(|p| [p.x, p.y, p.low, p.high].iter().all(|v| v.is_finite()))
        {
            let (x, y) = (px(p.x), py(p.y));
            let _ = writeln!(
                svg,
                "<line class=\"error-bar\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{colour}\"/>\
                 <circle class=\"point\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{colour}\" fill-opacity=\"0.8\"/>",
                py(p.low),
                py(p.high)
            );
        }
        let lx = left + 120.0 * i as f64;
        let _ = writeln!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{}</text>",
            lx + 4.0,
            h - 15.0,
            lx + 12.0,
            h - 11.0,
            escape(name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_hold_their_elements() {
        let s = Series {
            name: "loss".into(),
            points: vec![(0.0, 2.3), (1.0, 2.0), (2.0, 1.7)],
        };
        let svg = line_chart("Loss", "step", "loss", &[s], Some((2.0, "target")));
        assert_eq!(svg.matches("<polyline class=\"series\"").count(), 1);
        assert_eq!(svg.matches("class=\"reference\"").count(), 1);
        let empty = line_chart("Nothing", "x", "y", &[], None);
        assert!(empty.contains("no data"));

        let block = HeatBlock {
            label: "stage1.block0".into(),
            rows: vec!["k3e3".into(), "zero".into()],
            values: vec![vec![0.5, 0.9], vec![0.5, 0.1]],
        };
        let heat = heat_map("p", &["0".into(), "1".into()], &[block]);
        assert_eq!(heat.matches("class=\"cell\"").count(), 4);
        assert!(heat.contains("k3e3 1: 0.900"));

        let bars = bar_chart("Latency", "ms", &[("a".into(), 1.0), ("b".into(), 3.0)]);
        assert_eq!(bars.matches("class=\"bar\"").count(), 2);
        assert!(bars.contains("total 4.00 ms"));
    }

    #[test]
    fn a_scatter_chart_draws_every_point_with_its_bar_and_a_legend() {
        let p = |x, y| ErrorPoint {
            x,
            y,
            low: y - 0.01,
            high: y + 0.02,
        };
        let svg = scatter_chart(
            "accuracy & cost",
            "MMACs",
            "top-1",
            &[
                ("searched".into(), vec![p(3.0, 0.8)]),
                (
                    "random".into(),
                    vec![p(2.9, 0.78), p(3.1, 0.79), p(f64::NAN, 0.5)],
                ),
            ],
        );
        assert_eq!(svg.matches("class=\"point\"").count(), 3);
        assert_eq!(svg.matches("class=\"error-bar\"").count(), 3);
        assert!(svg.contains("accuracy &amp; cost") && svg.contains(">random<"));
        assert!(scatter_chart("t", "x", "y", &[]).contains("no data"));
    }
}
