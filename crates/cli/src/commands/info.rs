//! `proxyless info`: block table, parameters and multiply-accumulates of a network or a space.

use std::fmt::Write;

use anyhow::Result;
use clap::Args;
use proxyless_space::{
    NetCost, SpaceSummary, TreeNetConfig, TreeNetCost, TreeSpace, TreeSpaceSummary,
};
use serde_json::json;

use crate::description::{self, Description};

/// `writeln!` into a `String`, which cannot fail.
macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {
        let _ = writeln!($out, $($arg)*);
    };
}
use crate::output::{human, print_stdout, shape};

/// Print the block table, parameters and MACs of a net.config, an architecture or a space.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A net.config JSON, an architecture (JSON or text), a space TOML or a preset name.
    pub file: String,
    /// The space of an architecture in text form (preset name or .toml file).
    #[arg(long)]
    pub space: Option<String>,
    /// Input side in pixels (default: the space's; 224 for a net.config).
    #[arg(long)]
    pub resolution: Option<usize>,
    /// Print one JSON object (with at least `params` and `macs`) instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Runs `info`.
pub fn run(args: &InfoArgs) -> Result<()> {
    let description = description::read(&args.file, args.space.as_deref())?;
    let mut out = String::new();
    let resolution = args
        .resolution
        .unwrap_or_else(|| description.default_resolution());
    match description {
        Description::Space(space) => {
            let summary = space.summary(Some(resolution))?;
            if args.json {
                print_json(
                    &mut out,
                    &json!({
                        "kind": "space",
                        "name": summary.name,
                        "resolution": summary.resolution,
                        "params": summary.supernet_params,
                        "macs": summary.macs_range[1],
                        "supernet_params": summary.supernet_params,
                        "params_range": summary.params_range,
                        "macs_range": summary.macs_range,
                        "choice_blocks": summary.choice_blocks,
                        "arch_params": summary.arch_params,
                        "architectures": summary.architectures,
                        "blocks": summary.blocks,
                    }),
                );
            } else {
                print_space(&mut out, &args.file, &space.description, &summary);
            }
        }
        Description::TreeSpace(space) => {
            let summary = space.summary();
            if args.json {
                print_json(
                    &mut out,
                    &json!({
                        "kind": "tree space",
                        "name": summary.name,
                        "resolution": space.input.resolution,
                        "cells": summary.cells,
                        "searched_edges": summary.searched_edges,
                        "candidates": summary.candidates,
                        "supernet_params": summary.supernet_params,
                        "params_range": summary.params_range,
                        "macs_range": summary.macs_range,
                        "log10_architectures": summary.log10_architectures,
                    }),
                );
            } else {
                print_tree_space(&mut out, &args.file, &space, &summary);
            }
        }
        Description::TreeNet(net) => {
            let cost = net.cost(resolution, &args.file)?;
            if args.json {
                print_json(
                    &mut out,
                    &json!({
                        "kind": "PyramidTreeNet",
                        "resolution": cost.resolution,
                        "params": cost.params,
                        "macs": cost.macs,
                        "buffers": cost.buffers,
                        "cells": cost.cells,
                        "edges": cost.edges,
                    }),
                );
            } else {
                print_tree_net(&mut out, &args.file, &net, &cost);
            }
        }
        Description::Net {
            spec, arch, kind, ..
        } => {
            let cost = spec.cost(resolution)?;
            let text = arch.as_ref().map(|(a, s)| a.to_text(s));
            if args.json {
                print_json(
                    &mut out,
                    &json!({
                        "kind": kind,
                        "resolution": cost.resolution,
                        "params": cost.params,
                        "macs": cost.macs,
                        "buffers": cost.buffers,
                        "architecture": text,
                        "space": arch.as_ref().map(|(_, s)| s.name.clone()),
                        "layers": cost.layers,
                    }),
                );
            } else {
                outln!(
                    out,
                    "{}: {kind}, {} blocks, input {}",
                    args.file,
                    spec.blocks.len(),
                    shape([spec.input_channels(), resolution, resolution])
                );
                if let (Some(text), Some((_, space))) = (&text, &arch) {
                    outln!(out, "space {}: {text}", space.name);
                }
                print_net(&mut out, &cost);
            }
        }
    }
    print_stdout(&out)
}

/// `info` of a tree-cell space: its backbone, cell, candidates and sizes.
fn print_tree_space(out: &mut String, file: &str, space: &TreeSpace, s: &TreeSpaceSummary) {
    let b = &space.backbone;
    let i = &space.input;
    outln!(
        out,
        "{file}: tree-cell space {}, input {}, {} classes",
        s.name,
        shape([i.channels, i.resolution, i.resolution]),
        i.classes
    );
    outln!(
        out,
        "backbone: stages of {:?} residual blocks, bottleneck widths {} to {} (x{} out)",
        b.blocks_per_stage,
        space.width(0),
        space.width(s.cells - 1),
        b.bottleneck
    );
    outln!(
        out,
        "cell: {} branches, {} searched levels: {} searched edges per cell, {} in all",
        space.cell.branches,
        space.cell.searched_levels,
        space.edges_per_cell(),
        s.searched_edges
    );
    outln!(out, "candidates: {}", s.candidates.join(", "));
    outln!(
        out,
        "supernet: {} parameters ({}); networks from {} to {} parameters, {} to {} MACs; \
         10^{:.1} architectures",
        s.supernet_params,
        human(s.supernet_params),
        human(s.params_range[0]),
        human(s.params_range[1]),
        human(s.macs_range[0]),
        human(s.macs_range[1]),
        s.log10_architectures
    );
}

/// `info` of a `PyramidTreeNet`: blocks, cells, the cells' searched edges by operation,
/// parameters and multiply-accumulates.
fn print_tree_net(out: &mut String, file: &str, net: &TreeNetConfig, cost: &TreeNetCost) {
    outln!(
        out,
        "{file}: PyramidTreeNet, {} blocks ({} residual tree cells), input {}",
        net.blocks.len(),
        cost.cells,
        shape([3, cost.resolution, cost.resolution])
    );
    outln!(out, "searched edges of the cells:");
    for (op, count) in &cost.edges {
        outln!(out, "  {op:<26} {count:>5}");
    }
    print_total(out, cost.params, cost.macs, cost.resolution, cost.buffers);
}

/// The last line of a network's `info`: parameters, MACs and BatchNorm buffers.
fn print_total(out: &mut String, params: u64, macs: u64, resolution: usize, buffers: u64) {
    outln!(
        out,
        "total: {params} parameters ({}), {macs} MACs ({}) at {resolution}x{resolution}, \
         {buffers} BatchNorm buffer values",
        human(params),
        human(macs)
    );
}

fn print_json(out: &mut String, value: &serde_json::Value) {
    outln!(
        out,
        "{}",
        serde_json::to_string_pretty(value).expect("values serialise")
    );
}

fn print_net(out: &mut String, cost: &NetCost) {
    outln!(
        out,
        "{:>3}  {:<18} {:<8} {:>13} {:>13} {:>6} {:>5} {:>10} {:>10}",
        "#",
        "layer",
        "op",
        "input",
        "output",
        "stride",
        "skip",
        "params",
        "MACs"
    );
    for (i, layer) in cost.layers.iter().enumerate() {
        outln!(
            out,
            "{:>3}  {:<18} {:<8} {:>13} {:>13} {:>6} {:>5} {:>10} {:>10}",
            i,
            layer.name,
            layer.op,
            shape(layer.input),
            shape(layer.output),
            layer.stride,
            if layer.shortcut { "yes" } else { "" },
            human(layer.params),
            human(layer.macs)
        );
    }
    print_total(out, cost.params, cost.macs, cost.resolution, cost.buffers);
}

fn print_space(out: &mut String, file: &str, description: &str, s: &SpaceSummary) {
    outln!(out, "{file}: space '{}' ({description})", s.name);
    outln!(
        out,
        "{} choice blocks, {} architecture parameters, {:.3e} architectures",
        s.choice_blocks,
        s.arch_params,
        s.architectures
    );
    outln!(
        out,
        "supernet: {} parameters ({}); one architecture: {} to {} parameters, {} to {} MACs at {}x{}",
        s.supernet_params,
        human(s.supernet_params),
        human(s.params_range[0]),
        human(s.params_range[1]),
        human(s.macs_range[0]),
        human(s.macs_range[1]),
        s.resolution,
        s.resolution
    );
    outln!(
        out,
        "{:<15} {:>11} {:>11} {:>6} {:>17} {:>19}  candidates",
        "block",
        "input",
        "output",
        "stride",
        "params",
        "MACs"
    );
    for b in &s.blocks {
        outln!(
            out,
            "{:<15} {:>11} {:>11} {:>6} {:>17} {:>19}  {}",
            b.label,
            shape(b.input),
            shape(b.output),
            b.stride,
            format!("{}-{}", human(b.params_range[0]), human(b.params_range[1])),
            format!("{}-{}", human(b.macs_range[0]), human(b.macs_range[1])),
            b.candidates.join(" ")
        );
    }
}
