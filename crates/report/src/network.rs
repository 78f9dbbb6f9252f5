//! A network drawn as the paper draws its searched architectures: one box per block in order,
//! the box's width by the depthwise kernel size, its colour by the expansion ratio, skipped
//! (Zero) blocks as dashed outlines, stage boundaries and feature sizes marked.

use std::fmt::Write as _;

use proxyless_space::{BlockOp, NetSpec, conv_output_size};

use crate::svg::{escape, open};

const BOX_HEIGHT: f64 = 64.0;
const GAP: f64 = 6.0;
const MARGIN: f64 = 20.0;
const TOP: f64 = 56.0;

/// Width of a block's box: grows with the depthwise kernel side (3, 5, 7 ...).
fn box_width(kernel: usize) -> f64 {
    (14.0 + 6.0 * kernel as f64).max(34.0)
}

/// Fill colour of an MBConv box by expansion ratio (light for 1, dark for 6 and above).
fn expansion_colour(expand: usize) -> &'static str {
    match expand {
        0 | 1 => "#d9d9d9",
        2 | 3 => "#9ecae1",
        4 | 5 => "#6baed6",
        _ => "#2171b5",
    }
}

/// Text colour that reads on `fill`.
fn text_colour(fill: &str) -> &'static str {
    if fill == "#2171b5" { "white" } else { "black" }
}

/// One drawn box.
struct Box {
    class: &'static str,
    width: f64,
    fill: &'static str,
    dashed: bool,
    lines: Vec<String>,
    /// Output feature size `HxWxC` of the layer, drawn under a stage boundary after it.
    output: String,
    /// Whether a new stage (stride or width change) starts at this box.
    stage_start: bool,
}

/// The network `net` at input side `resolution` as an SVG picture titled `title`: the stem,
/// every block (the fixed first block included), the feature-mix convolution and the
/// classifier, left to right. MBConv boxes carry `MB{e} {k}x{k}` labels and the class
/// `block mbconv`; Zero blocks the class `block zero`; stage boundaries the class
/// `stage-boundary` with the feature size after them.
///
/// # Errors
/// When the network's shapes do not chain at `resolution` (the message names the problem).
pub fn draw_network(net: &NetSpec, resolution: usize, title: &str) -> Result<String, String> {
    let cost = net.cost(resolution).map_err(|e| e.to_string())?;
    let boxes = network_boxes(net, resolution);
    let total_width = 2.0 * MARGIN + boxes.iter().map(|b| b.width + GAP).sum::<f64>() - GAP + 40.0;
    let height = TOP + BOX_HEIGHT + 96.0;
    let mut svg = open(total_width.max(640.0), height + 14.0);
    let blocks = net.blocks.len();
    let skipped = net
        .blocks
        .iter()
        .filter(|b| matches!(b.op, BlockOp::Zero))
        .count();
    let _ = writeln!(
        svg,
        "<text class=\"title\" x=\"{MARGIN}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        escape(title)
    );
    let _ = writeln!(
        svg,
        "<text class=\"subtitle\" x=\"{MARGIN}\" y=\"38\">{blocks} blocks ({skipped} skipped), \
         {:.2}M parameters, {:.1}M MACs at {resolution}x{resolution}</text>",
        cost.params as f64 / 1e6,
        cost.macs as f64 / 1e6
    );
    // The input arrow.
    let mut x = MARGIN;
    let _ = writeln!(
        svg,
        "<text class=\"input\" x=\"{x}\" y=\"{:.1}\" font-size=\"10\">{resolution}x{resolution}x{}</text>",
        TOP + BOX_HEIGHT + 16.0,
        net.input_channels()
    );
    for (i, b) in boxes.iter().enumerate() {
        if b.stage_start && i > 0 {
            stage_boundary(&mut svg, x - GAP / 2.0, &boxes[i - 1].output);
        }
        draw_box(&mut svg, b, x);
        x += b.width + GAP;
    }
    legend(&mut svg, MARGIN, height - 14.0);
    svg.push_str("</svg>\n");
    Ok(svg)
}

/// The boxes of `net` at input side `resolution`, left to right: the stem, every block, the
/// feature mix and the classifier, each with the feature size after it.
fn network_boxes(net: &NetSpec, resolution: usize) -> Vec<Box> {
    let stem = &net.first_conv;
    let mut side = conv_output_size(resolution, stem.kernel_size, stem.stride);
    let mut boxes = vec![Box {
        class: "stem",
        width: box_width(stem.kernel_size),
        fill: "#fdd0a2",
        dashed: false,
        lines: vec!["Conv".into(), format!("{0}x{0}", stem.kernel_size)],
        output: format!("{side}x{side}x{}", stem.out_channels),
        stage_start: false,
    }];
    let mut width = stem.out_channels;
    for block in &net.blocks {
        let stage_start = block.stride > 1 || block.out_channels != width;
        width = block.out_channels;
        let b = match block.op {
            BlockOp::MbConv {
                kernel_size,
                expand_ratio,
                ..
            } => {
                side = conv_output_size(side, kernel_size, block.stride);
                let fill = expansion_colour(expand_ratio);
                Box {
                    class: "block mbconv",
                    width: box_width(kernel_size),
                    fill,
                    dashed: false,
                    lines: vec![
                        format!("MB{expand_ratio}"),
                        format!("{kernel_size}x{kernel_size}"),
                    ],
                    output: format!("{side}x{side}x{width}"),
                    stage_start,
                }
            }
            BlockOp::Zero => {
                side = conv_output_size(side, 1, block.stride);
                Box {
                    class: "block zero",
                    width: 26.0,
                    fill: "none",
                    dashed: true,
                    lines: vec!["skip".into()],
                    output: format!("{side}x{side}x{width}"),
                    stage_start,
                }
            }
        };
        boxes.push(b);
    }
    let mix = &net.feature_mix;
    boxes.push(Box {
        class: "feature-mix",
        width: box_width(mix.kernel_size),
        fill: "#fdd0a2",
        dashed: false,
        lines: vec!["Conv".into(), format!("{0}x{0}", mix.kernel_size)],
        output: format!("{side}x{side}x{}", mix.out_channels),
        stage_start: true,
    });
    boxes.push(Box {
        class: "classifier",
        width: 40.0,
        fill: "#fdd0a2",
        dashed: false,
        lines: vec!["Pool".into(), "FC".into()],
        output: format!("{}", net.classifier.out_features),
        stage_start: true,
    });
    boxes
}

/// A dashed line where a stage ends, at `x`, with the feature size `output` after it.
fn stage_boundary(svg: &mut String, x: f64, output: &str) {
    let _ = writeln!(
        svg,
        "<line class=\"stage-boundary\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" \
         y2=\"{:.1}\" stroke=\"#969696\" stroke-dasharray=\"3,3\"/>",
        TOP - 8.0,
        TOP + BOX_HEIGHT + 22.0
    );
    let _ = writeln!(
        svg,
        "<text class=\"feature-size\" x=\"{x:.1}\" y=\"{:.1}\" font-size=\"9\" \
         text-anchor=\"end\" transform=\"rotate(-45 {x:.1} {:.1})\">{}</text>",
        TOP + BOX_HEIGHT + 34.0,
        TOP + BOX_HEIGHT + 34.0,
        escape(output)
    );
}

/// One box at `x`: its rectangle and its centred lines of text.
fn draw_box(svg: &mut String, b: &Box, x: f64) {
    let mid = TOP + BOX_HEIGHT / 2.0;
    let dash = if b.dashed {
        " stroke-dasharray=\"4,3\""
    } else {
        ""
    };
    let _ = writeln!(
        svg,
        "<g class=\"{}\"><rect x=\"{x:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{BOX_HEIGHT}\" \
         rx=\"3\" fill=\"{}\" stroke=\"#525252\"{dash}/>",
        b.class, b.width, b.fill
    );
    let colour = text_colour(b.fill);
    let centre = x + b.width / 2.0;
    for (line, text) in b.lines.iter().enumerate() {
        let y = mid - 4.0 + 13.0 * line as f64 - 6.0 * (b.lines.len() as f64 - 1.0) + 6.0;
        let _ = writeln!(
            svg,
            "<text class=\"label\" x=\"{centre:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" \
             fill=\"{colour}\">{}</text>",
            escape(text)
        );
    }
    svg.push_str("</g>\n");
}

/// The colour and width key along the bottom.
fn legend(svg: &mut String, x: f64, y: f64) {
    let mut x = x;
    for (expand, label) in [(1, "expand 1"), (3, "expand 3"), (6, "expand 6")] {
        let _ = writeln!(
            svg,
            "<rect class=\"legend\" x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"10\" fill=\"{}\" \
             stroke=\"#525252\"/><text x=\"{:.1}\" y=\"{y:.1}\" font-size=\"10\">{label}</text>",
            y - 9.0,
            expansion_colour(expand),
            x + 16.0
        );
        x += 78.0;
    }
    let _ = writeln!(
        svg,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"10\">box width: kernel 3/5/7; dashed: \
         skipped (Zero)</text>"
    );
    let _ = writeln!(
        svg,
        "<text x=\"{MARGIN}\" y=\"{:.1}\" font-size=\"10\">dotted lines: stage boundaries, \
         labelled with the feature size (HxWxC) before them</text>",
        y + 14.0
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use proxyless_space::{Architecture, presets};

    #[test]
    fn one_box_per_block_with_the_papers_labels() {
        let space = presets::load("fmnist").unwrap();
        let text = "k3e3 zero | k5e6 zero zero | k7e3 k3e6 zero | k5e3";
        let arch = Architecture::parse(text, &space, "test").unwrap();
        let net = arch.to_net_spec(&space);
        let svg = draw_network(&net, 28, "a <test> net").unwrap();
        // The first block (MB1 3x3) and five MBConv choices; four Zero blocks.
        assert_eq!(svg.matches("class=\"block mbconv\"").count(), 6);
        assert_eq!(svg.matches("class=\"block zero\"").count(), 4);
        assert!(svg.contains(">MB6</text>") && svg.contains(">5x5</text>"));
        assert!(svg.contains(">MB1</text>"));
        assert!(svg.contains("a &lt;test&gt; net"));
        // Four stages of the space, plus the head: stage boundaries with feature sizes.
        assert!(svg.matches("class=\"stage-boundary\"").count() >= 5);
        assert!(svg.contains(">14x14x16</text>"));
        assert!(svg.contains(">4x4x64</text>"));
        // A 7x7 box is wider than a 3x3 box.
        assert!(box_width(7) > box_width(5) && box_width(5) > box_width(3));
        assert!(box_width(1) >= 34.0);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
