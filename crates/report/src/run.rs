//! The report of a search run directory: one self-contained HTML page (its pictures inlined)
//! plus each picture as its own SVG file, written to `RUN/report/`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use proxyless_latency::{CostModel, LatencyTable};
use proxyless_rundir::{AlphaLine, MetricLine, RunFiles, RunRecord, RunTarget};
use proxyless_space::{Architecture, SearchSpace, TreeSpace};

use crate::charts::{HeatBlock, Series, bar_chart, heat_map, line_chart};
use crate::draw_network;
use crate::error::Error;
use crate::svg::escape;

/// Writes `RUN/report/index.html` and its pictures for the run directory `run` (as the search
/// driver writes it) and returns the page's path. The previous report is replaced only once
/// the new one is complete.
///
/// # Errors
/// A missing or malformed file of the run, or a latency table of its cost that cannot be
/// read, named in the message.
pub fn write_run_report(run: &Path) -> Result<PathBuf, Error> {
    report(&RunRecord::read(run)?)
}

/// A picture of the report: its file name, its caption and the SVG.
type Picture = (&'static str, &'static str, String);

/// Writes the report of a run already read.
pub fn report(run: &RunRecord) -> Result<PathBuf, Error> {
    let space_origin = run.files.space().display().to_string();
    let arch_text = run
        .architecture()
        .ok_or_else(|| Error::NoArchitecture {
            run: run.files.root().to_path_buf(),
        })?
        .to_string();
    let (space_name, pictures) = if TreeSpace::describes(&run.space_text) {
        tree_pictures(run, &space_origin)?
    } else {
        mobile_pictures(run, &space_origin, &arch_text)?
    };
    let epochs: Vec<&MetricLine> = run
        .metrics
        .iter()
        .filter(|m| matches!(m, MetricLine::Epoch { .. }))
        .collect();
    let html = page(
        run.files.root(),
        &space_name,
        &arch_text,
        &epochs,
        &pictures,
        &run.config_text,
    );
    publish(&run.files, &html, &pictures)
}

/// The pictures of an MBConv search: the derived architecture drawn, the candidate
/// probabilities, the curves and the cost per block; with the space's name.
fn mobile_pictures(
    run: &RunRecord,
    space_origin: &str,
    arch_text: &str,
) -> Result<(String, Vec<Picture>), Error> {
    let space = SearchSpace::from_toml_str(&run.space_text, space_origin).map_err(|source| {
        Error::Space {
            origin: space_origin.to_string(),
            source,
        }
    })?;
    let arch =
        Architecture::parse(arch_text, &space, "the run's architecture").map_err(|source| {
            Error::Space {
                origin: "the run's architecture".into(),
                source,
            }
        })?;
    let net = arch.to_net_spec(&space);
    let title = format!("{}: {arch_text}", space.name);
    let drawn =
        draw_network(&net, space.input.resolution, &title).map_err(|message| Error::Draw {
            what: "the architecture".into(),
            message,
        })?;
    let mut pictures = vec![("architecture.svg", "The derived architecture", drawn)];
    let blocks = space
        .choice_blocks()
        .iter()
        .map(|block| {
            let rows = block.candidates.iter().map(|c| c.to_string()).collect();
            (block.label(), rows)
        })
        .collect();
    let caption = "Candidate probabilities p = softmax(α) of every choice block, per epoch \
                   (outlined: the most probable)";
    pictures.push(probability_picture(blocks, &run.alphas, caption));
    let model = cost_model(run)?;
    pictures.extend(curve_pictures(run, &model));
    pictures.push(breakdown_picture(run, &model, &space, &arch)?);
    Ok((space.name, pictures))
}

/// The pictures of a tree-cell search: the candidate probabilities of every searched edge and
/// the curves (no per-block cost chart for tree cells yet); with the space's name.
fn tree_pictures(run: &RunRecord, space_origin: &str) -> Result<(String, Vec<Picture>), Error> {
    let space =
        TreeSpace::from_toml_str(&run.space_text, space_origin).map_err(|source| Error::Space {
            origin: space_origin.to_string(),
            source,
        })?;
    let per_cell = space.edges_per_cell();
    let edges = space
        .choices()
        .iter()
        .enumerate()
        .map(|(b, edge)| {
            let rows = edge
                .candidates
                .iter()
                .map(|op| op.name().to_string())
                .collect();
            (format!("cell {} edge {}", edge.cell, b % per_cell), rows)
        })
        .collect();
    let caption = "Candidate probabilities p = softmax(α) of every searched edge, per epoch \
                   (outlined: the most probable)";
    let mut pictures = vec![probability_picture(edges, &run.alphas, caption)];
    pictures.extend(curve_pictures(run, &CostModel::Macs));
    Ok((space.name, pictures))
}

/// The candidate probabilities of every choice block (its label and candidates' names) over
/// the epochs, as a heat map under `caption`.
fn probability_picture(
    blocks: Vec<(String, Vec<String>)>,
    alphas: &[AlphaLine],
    caption: &'static str,
) -> Picture {
    let columns: Vec<String> = alphas.iter().map(|a| format!("ep {}", a.epoch)).collect();
    let prob = |a: &AlphaLine, b: usize, j: usize| {
        a.probs
            .get(b)
            .and_then(|p| p.get(j))
            .copied()
            .unwrap_or(0.0)
    };
    let heat: Vec<HeatBlock> = blocks
        .into_iter()
        .enumerate()
        .map(|(b, (label, rows))| HeatBlock {
            values: (0..rows.len())
                .map(|j| alphas.iter().map(|a| prob(a, b, j)).collect())
                .collect(),
            label,
            rows,
        })
        .collect();
    (
        "probabilities.svg",
        caption,
        heat_map("Candidate probabilities", &columns, &heat),
    )
}

/// Loss, training accuracy, held-out accuracy and entropy over the run, and the expected cost
/// after each architecture update when the run has a cost.
fn curve_pictures(run: &RunRecord, model: &CostModel) -> Vec<Picture> {
    let (mut loss, mut accuracy, mut entropy) = (Vec::new(), Vec::new(), Vec::new());
    let (mut holdout, mut updates) = (Vec::new(), Vec::new());
    for m in &run.metrics {
        match m {
            MetricLine::Step {
                step,
                loss: l,
                accuracy: a,
                entropy: h,
                ..
            } => {
                loss.push((*step as f64, *l));
                accuracy.push((*step as f64, *a));
                entropy.push((*step as f64, *h));
            }
            MetricLine::Epoch {
                epoch,
                holdout_accuracy,
                ..
            } => holdout.push((*epoch as f64, *holdout_accuracy)),
            MetricLine::Arch {
                expected_cost: Some(c),
                ..
            } => updates.push((updates.len() as f64, *c)),
            _ => {}
        }
    }
    let chart = |title: &str, x: &str, y: &str, name: &str, points: Vec<(f64, f64)>| {
        let series = Series {
            name: name.into(),
            points,
        };
        line_chart(title, x, y, &[series], None)
    };
    let mut pictures = vec![
        (
            "loss.svg",
            "Training loss (label-smoothed cross-entropy, sampled paths)",
            chart("Loss", "weight step", "loss", "train", loss),
        ),
        (
            "accuracy.svg",
            "Training accuracy per logged step (sampled paths)",
            chart(
                "Training accuracy",
                "weight step",
                "accuracy",
                "train",
                accuracy,
            ),
        ),
        (
            "holdout.svg",
            "Held-out accuracy of the derived architecture (supernet weights) after each epoch",
            chart(
                "Held-out accuracy",
                "epoch",
                "accuracy",
                "held-out",
                holdout,
            ),
        ),
        (
            "entropy.svg",
            "Mean entropy of the candidate distributions (falls as the search decides)",
            chart("Entropy", "weight step", "nats", "mean entropy", entropy),
        ),
    ];
    let RunTarget { cost, reference } = &run.target;
    if cost != "none" {
        let series = Series {
            name: "E[cost]".into(),
            points: updates,
        };
        let unit = model.unit();
        pictures.push((
            "cost.svg",
            "Expected cost E[cost] under p after each architecture update, and the target",
            line_chart(
                "Expected cost",
                "architecture update",
                unit,
                &[series],
                reference.map(|r| (r, "target")),
            ),
        ));
    }
    pictures
}

/// The derived architecture's cost, block by block, in the run's cost unit (MACs without a
/// cost).
fn breakdown_picture(
    run: &RunRecord,
    model: &CostModel,
    space: &SearchSpace,
    arch: &Architecture,
) -> Result<Picture, Error> {
    let costs = model
        .candidate_costs(space)
        .map_err(|source| Error::Table {
            table: run.target.cost.clone(),
            source,
        })?;
    let mut bars = vec![("fixed layers".to_string(), costs.fixed)];
    let blocks = space.choice_blocks();
    for ((block, choice), row) in blocks.iter().zip(arch.choices()).zip(&costs.blocks) {
        let j = block
            .candidates
            .iter()
            .position(|c| c == choice)
            .unwrap_or(0);
        bars.push((format!("{} {choice}", block.label()), row[j]));
    }
    let title = format!("Cost per block ({})", run.target.cost);
    Ok((
        "breakdown.svg",
        "Cost of the derived architecture per block",
        bar_chart(&title, model.unit(), &bars),
    ))
}

/// The cost model of the run: its latency table (the run's own copy for a measured one), MACs
/// for `macs` and `none`. A table that cannot be read is an error, never MACs in its place.
fn cost_model(run: &RunRecord) -> Result<CostModel, Error> {
    let cost = run.target.cost.as_str();
    let table = if cost.starts_with("measured") {
        let path = run.files.latency_table();
        LatencyTable::from_yaml_file(&path).map_err(|source| Error::Table {
            table: path.display().to_string(),
            source,
        })?
    } else if cost != "macs" && cost != "none" {
        LatencyTable::resolve(cost).map_err(|source| Error::Table {
            table: cost.to_string(),
            source,
        })?
    } else {
        return Ok(CostModel::Macs);
    };
    Ok(CostModel::Table(table))
}

fn page(
    run: &Path,
    space: &str,
    arch: &str,
    epochs: &[&MetricLine],
    pictures: &[Picture],
    config: &str,
) -> String {
    let mut html = String::new();
    let title = format!("proxyless run {}", run.display());
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n\
         <style>body{{font-family:sans-serif;margin:24px;max-width:1200px}}\
         figure{{margin:18px 0}}figcaption{{color:#525252;font-size:13px}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:3px 8px;font-size:13px}}\
         pre{{background:#f6f6f6;padding:10px;font-size:12px;overflow:auto}}\
         .row{{display:flex;flex-wrap:wrap;gap:12px}}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    let _ = writeln!(
        html,
        "<h1>{}</h1>\n<p>Space <b>{}</b>; architecture <code>{}</code></p>",
        escape(&title),
        escape(space),
        escape(arch)
    );
    html.push_str(
        "<table><tr><th>epoch</th><th>held-out accuracy</th><th>entropy</th>\
         <th>derived cost</th><th>expected cost</th><th>seconds</th><th>architecture</th></tr>\n",
    );
    let cell = |v: Option<f64>| v.map_or("-".into(), |x| format!("{x:.4}"));
    for e in epochs {
        let MetricLine::Epoch {
            epoch,
            holdout_accuracy,
            entropy,
            expected_cost,
            derived_cost,
            architecture,
            seconds,
        } = e
        else {
            continue;
        };
        let _ = writeln!(
            html,
            "<tr><td>{epoch}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{seconds:.1}</td><td><code>{}</code></td></tr>",
            cell(Some(*holdout_accuracy)),
            cell(Some(*entropy)),
            cell(*derived_cost),
            cell(*expected_cost),
            escape(architecture)
        );
    }
    html.push_str("</table>\n");
    let (wide, small): (Vec<_>, Vec<_>) = pictures
        .iter()
        .partition(|(file, _, _)| matches!(*file, "architecture.svg" | "probabilities.svg"));
    let figure = |html: &mut String, (file, caption, svg): &(&str, &str, String)| {
        let _ = writeln!(
            html,
            "<figure id=\"{file}\">{svg}<figcaption>{}</figcaption></figure>",
            escape(caption)
        );
    };
    for picture in wide {
        figure(&mut html, picture);
    }
    html.push_str("<div class=\"row\">\n");
    for picture in small {
        figure(&mut html, picture);
    }
    html.push_str("</div>\n");
    let _ = writeln!(
        html,
        "<h2>Configuration</h2>\n<pre>{}</pre>\n</body>\n</html>",
        escape(config)
    );
    html
}

/// Writes the page and pictures into a fresh directory, then swaps it in for `RUN/report`.
fn publish(files: &RunFiles, html: &str, pictures: &[Picture]) -> Result<PathBuf, Error> {
    let io = |p: &Path, source: std::io::Error| Error::Write {
        path: p.to_path_buf(),
        source,
    };
    let fresh = files.root().join(".report.tmp");
    let target = files.report_dir();
    if fresh.exists() {
        fs::remove_dir_all(&fresh).map_err(|e| io(&fresh, e))?;
    }
    fs::create_dir_all(&fresh).map_err(|e| io(&fresh, e))?;
    for (file, _, svg) in pictures {
        let path = fresh.join(file);
        fs::write(&path, svg).map_err(|e| io(&path, e))?;
    }
    let index = fresh.join("index.html");
    fs::write(&index, html).map_err(|e| io(&index, e))?;
    if target.exists() {
        fs::remove_dir_all(&target).map_err(|e| io(&target, e))?;
    }
    fs::rename(&fresh, &target).map_err(|e| io(&target, e))?;
    Ok(target.join("index.html"))
}
