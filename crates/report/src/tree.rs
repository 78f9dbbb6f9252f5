//! A tree network drawn: one box per residual block along the backbone (width by the block's
//! bottleneck width, stages shaded apart), and the cell of each stage's first block as the
//! tree it is, every edge labelled with its operation.

use std::fmt::Write as _;

use proxyless_space::{ConvFields, Layer, TreeBlock, TreeNetConfig, TreeNode};

use crate::svg::{escape, open};

const MARGIN: f64 = 20.0;
const TOP: f64 = 56.0;
const STRIP: f64 = 40.0;
const LEVEL: f64 = 78.0;
const SLOT: f64 = 104.0;
const STAGE_FILLS: [&str; 4] = ["#c6dbef", "#9ecae1", "#6baed6", "#4292c6"];

/// The label and colour of an edge's operation.
fn edge_style(layer: &Layer) -> (String, &'static str) {
    match layer {
        Layer::ConvLayer(ConvFields {
            kernel_size: k,
            groups,
            ..
        }) if *groups > 1 => (format!("{k}x{k} gconv/{groups}"), "#525252"),
        Layer::ConvLayer(ConvFields { kernel_size: k, .. }) => (format!("{k}x{k} conv"), "#525252"),
        Layer::DepthConvLayer(ConvFields {
            kernel_size: k,
            dilation: 1,
            ..
        }) => (
            format!("sep {k}x{k}"),
            match k {
                3 => "#2171b5",
                5 => "#6a51a3",
                _ => "#cb181d",
            },
        ),
        Layer::DepthConvLayer(ConvFields {
            kernel_size: k,
            dilation,
            ..
        }) => (format!("dil{dilation} {k}x{k}"), "#238b45"),
        Layer::PoolingLayer {
            pool_type,
            kernel_size: k,
            ..
        } => (format!("{pool_type} {k}x{k}"), "#d94801"),
        Layer::IdentityLayer { .. } => ("identity".into(), "#969696"),
        Layer::ZeroLayer { .. } => ("zero".into(), "#d9d9d9"),
        Layer::LinearLayer { .. } => ("linear".into(), "#525252"),
    }
}

/// Leaf slots under `node`: one per edge without a node behind it.
fn slots(node: &TreeNode) -> usize {
    node.child_nodes
        .iter()
        .map(|c| c.as_ref().map_or(1, slots))
        .sum::<usize>()
        .max(1)
}

/// Draws `node` with its top at (`x0`.., `y`); returns the x of its circle.
fn draw_node(svg: &mut String, node: &TreeNode, x0: f64, y: f64) -> f64 {
    let mut x = x0;
    let mut ends = Vec::new();
    for (edge, child) in node.edges.iter().zip(&node.child_nodes) {
        let width = child.as_ref().map_or(1, slots) as f64 * SLOT;
        let end_x = match child {
            Some(child) => draw_node(svg, child, x, y + LEVEL),
            None => {
                let cx = x + width / 2.0;
                let _ = writeln!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" fill=\"#525252\"/>",
                    cx - 4.0,
                    y + LEVEL - 4.0
                );
                cx
            }
        };
        ends.push((end_x, edge));
        x += width;
    }
    let cx = (x0 + x) / 2.0;
    for (end_x, edge) in ends {
        let (label, colour) = edge
            .as_ref()
            .map_or(("(none)".into(), "#bdbdbd"), edge_style);
        let _ = writeln!(
            svg,
            "<line x1=\"{cx:.1}\" y1=\"{y:.1}\" x2=\"{end_x:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-width=\"3\"/>",
            y + LEVEL
        );
        let (mx, my) = ((cx + end_x) / 2.0, y + LEVEL / 2.0);
        let _ = writeln!(
            svg,
            "<text x=\"{mx:.1}\" y=\"{my:.1}\" font-size=\"10\" text-anchor=\"middle\" \
             fill=\"{colour}\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\">{}</text>",
            escape(&label)
        );
    }
    let merge = match (node.split_type.as_deref(), node.merge_type.as_deref()) {
        (Some(s), Some(m)) => format!("{s}/{m}"),
        _ => String::new(),
    };
    let _ = writeln!(
        svg,
        "<circle cx=\"{cx:.1}\" cy=\"{y:.1}\" r=\"7\" fill=\"{}\" stroke=\"#252525\"/>",
        if node.has_branch_bn {
            "#fdae6b"
        } else {
            "white"
        }
    );
    if !merge.is_empty() {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" fill=\"#525252\">{}</text>",
            cx + 10.0,
            y - 4.0,
            escape(&merge)
        );
    }
    cx
}

/// Depth of the tree below `node` (itself 1).
fn depth(node: &TreeNode) -> usize {
    1 + node
        .child_nodes
        .iter()
        .flatten()
        .map(depth)
        .max()
        .unwrap_or(0)
}

/// The residual blocks of `net` with the bottleneck width and whether each downsamples.
fn cells(net: &TreeNetConfig) -> Vec<(usize, bool, &TreeNode)> {
    net.blocks
        .iter()
        .filter_map(|b| match b {
            TreeBlock::ResidualTreeBlock { shortcut, cell, .. } => Some((
                cell.in_channels,
                matches!(shortcut, Layer::PoolingLayer { .. }),
                cell,
            )),
            TreeBlock::TransitionBlock { .. } => None,
        })
        .collect()
}

/// A `PyramidTreeNet` as SVG: the backbone's blocks, then the cell of each stage's first
/// block as a tree (circles: nodes, filled where the node has branch BatchNorms, with their
/// split/merge; squares: edges' ends without a node behind them).
pub fn draw_tree_net(net: &TreeNetConfig, title: &str) -> Result<String, String> {
    let cells = cells(net);
    if cells.is_empty() {
        return Err("the network has no residual tree block to draw".into());
    }
    let firsts: Vec<usize> = (0..cells.len()).filter(|&i| i == 0 || cells[i].1).collect();
    let tree_widths: Vec<f64> = firsts
        .iter()
        .map(|&i| slots(cells[i].2) as f64 * SLOT)
        .collect();
    let deepest = firsts.iter().map(|&i| depth(cells[i].2)).max().unwrap_or(1);
    let strip_width = (cells.len() as f64 * 10.0).max(300.0);
    let width = 2.0 * MARGIN
        + strip_width.max(tree_widths.iter().sum::<f64>() + 24.0 * firsts.len() as f64);
    let tree_top = TOP + STRIP + 60.0;
    let height = tree_top + deepest as f64 * LEVEL + 40.0;
    let mut svg = open(width, height);
    let _ = writeln!(
        svg,
        "<text x=\"{MARGIN}\" y=\"28\" font-size=\"15\" font-weight=\"bold\">{}</text>",
        escape(title)
    );
    let step = strip_width / cells.len() as f64;
    let widest = cells.iter().map(|c| c.0).max().unwrap_or(1) as f64;
    let mut stage = 0;
    for (i, (w, down, _)) in cells.iter().enumerate() {
        if *down {
            stage += 1;
        }
        let h = 8.0 + (STRIP - 8.0) * *w as f64 / widest;
        let _ = writeln!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>block {}: width {w}</title></rect>",
            MARGIN + i as f64 * step,
            TOP + STRIP - h,
            (step - 1.0).max(1.0),
            STAGE_FILLS[stage % STAGE_FILLS.len()],
            i + 1
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{MARGIN}\" y=\"{:.1}\" font-size=\"11\" fill=\"#525252\">{} residual tree blocks, heights by bottleneck width ({} to {})</text>",
        TOP + STRIP + 16.0,
        cells.len(),
        cells.first().map_or(0, |c| c.0),
        cells.last().map_or(0, |c| c.0)
    );
    let mut x = MARGIN;
    for (&i, tree_width) in firsts.iter().zip(&tree_widths) {
        let _ = writeln!(
            svg,
            "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"12\" font-weight=\"bold\">cell of block {} (width {})</text>",
            tree_top - 22.0,
            i + 1,
            cells[i].0
        );
        draw_node(&mut svg, cells[i].2, x, tree_top);
        x += tree_width + 24.0;
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_papers_cells_are_drawn_as_trees() {
        let text = include_str!("../../../configs/nets/proxyless_cifar.json");
        let net = TreeNetConfig::from_json_str(text, "cifar").unwrap();
        let svg = draw_tree_net(&net, "proxyless_cifar").unwrap();
        // 54 blocks along the backbone; three cells (each stage's first), each a root, a
        // split, 2 + 4 searched nodes: 8 circles and 8 leaf ends.
        assert_eq!(svg.matches("<title>block ").count(), 54);
        assert_eq!(svg.matches("<circle").count(), 3 * 8);
        assert_eq!(svg.matches("width=\"8\" height=\"8\"").count(), 3 * 8);
        assert_eq!(svg.matches("cell of block").count(), 3);
        assert!(svg.contains("3x3 gconv/2") && svg.contains("split/add"));
        assert!(svg.contains("sep 7x7") && svg.contains("dil2 3x3"));
    }
}
