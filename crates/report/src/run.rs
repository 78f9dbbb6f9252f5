//! The report of a search run directory: one self-contained HTML page (its pictures inlined)
//! plus each picture as its own SVG file, written to `RUN/report/`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use proxyless_latency::{CostModel, LatencyTable};
use proxyless_space::{Architecture, SearchSpace};
use serde_json::Value;

use crate::charts::{HeatBlock, Series, bar_chart, heat_map, line_chart};
use crate::draw_network;
use crate::svg::escape;

/// Reads a file of the run, naming it in the error.
fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The JSON lines of a file (blank lines skipped), naming file and line in errors.
fn json_lines(path: &Path) -> Result<Vec<Value>, String> {
    read(path)?
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

fn number(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

/// Writes `RUN/report/index.html` and its pictures for the run directory `run` (as the search
/// driver writes it) and returns the page's path. The previous report is replaced only once
/// the new one is complete.
///
/// # Errors
/// A missing or malformed file of the run, named in the message.
pub fn write_run_report(run: &Path) -> Result<PathBuf, String> {
    let space = SearchSpace::from_toml_file(run.join("space.toml")).map_err(|e| e.to_string())?;
    let config_text = read(&run.join("config.toml"))?;
    let config: toml::Table = config_text
        .parse()
        .map_err(|e| format!("{}: {e}", run.join("config.toml").display()))?;
    let metrics = json_lines(&run.join("metrics.jsonl"))?;
    let alphas = json_lines(&run.join("alpha.jsonl"))?;
    let kind = |k: &'static str| metrics.iter().filter(move |m| m["kind"] == k);

    // The architecture: the final one, else the last epoch's.
    let final_text = fs::read_to_string(run.join("final/architecture.txt")).ok();
    let arch_text = match final_text {
        Some(t) => t.trim().to_string(),
        None => kind("epoch")
            .filter_map(|m| m["architecture"].as_str())
            .next_back()
            .ok_or_else(|| format!("{}: no architecture yet (no epoch finished)", run.display()))?
            .to_string(),
    };
    let arch = Architecture::parse(&arch_text, &space, "the run's architecture")
        .map_err(|e| e.to_string())?;
    let net = arch.to_net_spec(&space);
    let resolution = space.input.resolution;
    let mut pictures: Vec<(&str, &str, String)> = Vec::new();
    pictures.push((
        "architecture.svg",
        "The derived architecture",
        draw_network(&net, resolution, &format!("{}: {arch_text}", space.name))?,
    ));

    // Candidate probabilities over the epochs.
    let blocks = space.choice_blocks();
    let columns: Vec<String> = alphas
        .iter()
        .map(|a| format!("ep {}", a["epoch"].as_u64().unwrap_or(0)))
        .collect();
    let heat: Vec<HeatBlock> = blocks
        .iter()
        .enumerate()
        .map(|(b, block)| HeatBlock {
            label: block.label(),
            rows: block.candidates.iter().map(|c| c.to_string()).collect(),
            values: (0..block.candidates.len())
                .map(|j| {
                    alphas
                        .iter()
                        .map(|a| a["probs"][b][j].as_f64().unwrap_or(0.0))
                        .collect()
                })
                .collect(),
        })
        .collect();
    pictures.push((
        "probabilities.svg",
        "Candidate probabilities p = softmax(α) of every choice block, per epoch (outlined: the most probable)",
        heat_map("Candidate probabilities", &columns, &heat),
    ));

    // Curves.
    let series = |name: &str, points: Vec<(f64, f64)>| Series {
        name: name.into(),
        points,
    };
    let steps: Vec<&Value> = kind("step").collect();
    let at_step = |key: &str| -> Vec<(f64, f64)> {
        steps
            .iter()
            .filter_map(|m| Some((number(m, "step")?, number(m, key)?)))
            .collect()
    };
    let epochs: Vec<&Value> = kind("epoch").collect();
    let at_epoch = |key: &str| -> Vec<(f64, f64)> {
        epochs
            .iter()
            .filter_map(|m| Some((number(m, "epoch")?, number(m, key)?)))
            .collect()
    };
    pictures.push((
        "loss.svg",
        "Training loss (label-smoothed cross-entropy, sampled paths)",
        line_chart(
            "Loss",
            "weight step",
            "loss",
            &[series("train", at_step("loss"))],
            None,
        ),
    ));
    pictures.push((
        "accuracy.svg",
        "Training accuracy per logged step (sampled paths)",
        line_chart(
            "Training accuracy",
            "weight step",
            "accuracy",
            &[series("train", at_step("accuracy"))],
            None,
        ),
    ));
    pictures.push((
        "holdout.svg",
        "Held-out accuracy of the derived architecture (supernet weights) after each epoch",
        line_chart(
            "Held-out accuracy",
            "epoch",
            "accuracy",
            &[series("held-out", at_epoch("holdout_accuracy"))],
            None,
        ),
    ));
    pictures.push((
        "entropy.svg",
        "Mean entropy of the candidate distributions (falls as the search decides)",
        line_chart(
            "Entropy",
            "weight step",
            "nats",
            &[series("mean entropy", at_step("entropy"))],
            None,
        ),
    ));
    let target = config.get("target").and_then(|t| t.as_table());
    let cost_name = target
        .and_then(|t| t.get("cost"))
        .and_then(|c| c.as_str())
        .unwrap_or("none")
        .to_string();
    let reference = target
        .and_then(|t| t.get("reference"))
        .and_then(|r| r.as_float().or_else(|| r.as_integer().map(|i| i as f64)));
    let model = cost_model(run, &cost_name);
    let unit = model.unit();
    if cost_name != "none" {
        let updates: Vec<(f64, f64)> = kind("arch")
            .enumerate()
            .filter_map(|(i, m)| Some((i as f64, number(m, "expected_cost")?)))
            .collect();
        pictures.push((
            "cost.svg",
            "Expected cost E[cost] under p after each architecture update, and the target",
            line_chart(
                "Expected cost",
                "architecture update",
                unit,
                &[series("E[cost]", updates)],
                reference.map(|r| (r, "target")),
            ),
        ));
    }

    // The derived architecture's cost, block by block.
    if let Ok(costs) = model.candidate_costs(&space) {
        let mut bars = vec![("fixed layers".to_string(), costs.fixed)];
        for ((block, choice), row) in blocks.iter().zip(arch.choices()).zip(&costs.blocks) {
            let j = block
                .candidates
                .iter()
                .position(|c| c == choice)
                .unwrap_or(0);
            bars.push((format!("{} {choice}", block.label()), row[j]));
        }
        pictures.push((
            "breakdown.svg",
            "Cost of the derived architecture per block",
            bar_chart(&format!("Cost per block ({cost_name})"), unit, &bars),
        ));
    }

    let html = page(run, &space, &arch_text, &epochs, &pictures, &config_text);
    publish(run, &html, &pictures)
}

/// The cost model of the run: its table (the run's own copy for measured tables), else MACs.
fn cost_model(run: &Path, cost: &str) -> CostModel {
    let table = if cost.starts_with("measured") {
        LatencyTable::from_yaml_file(run.join("latency-table.yaml")).ok()
    } else if cost != "macs" && cost != "none" {
        LatencyTable::resolve(cost).ok()
    } else {
        None
    };
    table.map_or(CostModel::Macs, CostModel::Table)
}

fn page(
    run: &Path,
    space: &SearchSpace,
    arch: &str,
    epochs: &[&Value],
    pictures: &[(&str, &str, String)],
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
        escape(&space.name),
        escape(arch)
    );
    html.push_str(
        "<table><tr><th>epoch</th><th>held-out accuracy</th><th>entropy</th>\
         <th>derived cost</th><th>expected cost</th><th>seconds</th><th>architecture</th></tr>\n",
    );
    let cell = |v: &Value, k: &str| number(v, k).map_or("-".into(), |x| format!("{x:.4}"));
    for e in epochs {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            e["epoch"].as_u64().map_or("-".into(), |n| n.to_string()),
            cell(e, "holdout_accuracy"),
            cell(e, "entropy"),
            cell(e, "derived_cost"),
            cell(e, "expected_cost"),
            number(e, "seconds").map_or("-".into(), |x| format!("{x:.1}")),
            escape(e["architecture"].as_str().unwrap_or("-"))
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
fn publish(run: &Path, html: &str, pictures: &[(&str, &str, String)]) -> Result<PathBuf, String> {
    let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let fresh = run.join(".report.tmp");
    let target = run.join("report");
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
