//! `study.md` (the table) and `study.html` (the paper's picture: accuracy against cost and
//! against measured latency, searched against random and baselines, bars over seeds).

use std::fmt::Write as _;
use std::path::Path;

use proxyless_report::charts::{ErrorPoint, scatter_chart};

use crate::error::Result;
use crate::record::{NetKind, StudyNet, StudyRecord, write_text};

const KINDS: [NetKind; 4] = [
    NetKind::Searched,
    NetKind::Random,
    NetKind::Baseline,
    NetKind::Anchor,
];

/// Writes `study.md`, `study.html` and its two pictures (`accuracy-cost.svg`,
/// `accuracy-latency.svg`) into `dir` (atomically).
pub fn write_pages(record: &StudyRecord, dir: &Path) -> Result<()> {
    let (by_cost, by_latency) = charts(record);
    for (name, text) in [
        ("study.md", markdown(record)),
        ("study.html", html(record, &by_cost, &by_latency)),
        ("accuracy-cost.svg", by_cost.clone()),
        ("accuracy-latency.svg", by_latency.clone()),
    ] {
        write_text(&dir.join(name), &text)?;
    }
    Ok(())
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{:.2}", 100.0 * v))
}

/// The summary lines: means per kind, the differences, Kendall's τ.
pub fn summary_lines(record: &StudyRecord) -> Vec<String> {
    let Some(s) = &record.summary else {
        return vec!["nothing retrained yet".into()];
    };
    let mut lines = vec![
        format!(
            "searched mean top-1 {}%, random mean {}% (spread over random nets {} pp), \
             uniform baseline {}%",
            pct(s.searched),
            pct(s.random),
            s.random_std
                .map_or_else(|| "–".into(), |v| format!("{:.2}", 100.0 * v)),
            pct(s.baseline)
        ),
        format!(
            "searched − random: {} pp; searched − baseline: {} pp",
            s.searched_minus_random_pp
                .map_or_else(|| "–".into(), |v| format!("{v:+.2}")),
            s.searched_minus_baseline_pp
                .map_or_else(|| "–".into(), |v| format!("{v:+.2}"))
        ),
    ];
    for k in &s.kendall {
        lines.push(format!(
            "Kendall τ (supernet of search {}, {} networks, {}): {:+.3}",
            k.search_seed, k.networks, k.over, k.tau
        ));
    }
    lines
}

fn markdown(record: &StudyRecord) -> String {
    let mut md = format!(
        "# Study: {} space, cost in {}, on {}\n\n",
        record.space, record.unit, record.backend
    );
    for line in summary_lines(record) {
        let _ = writeln!(md, "- {line}");
    }
    md.push_str("\n## Searches\n\n| seed | architecture | cost | held-out (supernet) | s |\n| --- | --- | --- | --- | --- |\n");
    for s in &record.searches {
        let _ = writeln!(
            md,
            "| {} | `{}` | {:.4} | {:.2}% | {:.0} |",
            s.seed,
            s.architecture.replace('|', "\\|"),
            s.cost,
            100.0 * s.holdout_accuracy,
            s.seconds
        );
    }
    let seeds: Vec<String> = record
        .train_seeds
        .iter()
        .map(|s| format!("seed {s}"))
        .collect();
    let _ = write!(
        md,
        "\n## Networks (test top-1 after retraining, %)\n\n| network | kind | architecture | cost ({}) | measured ms | inherited | {} | mean ± sd |\n|{}\n",
        record.unit,
        seeds.join(" | "),
        " --- |".repeat(7 + seeds.len())
    );
    for n in &record.nets {
        let inherited: Vec<String> = n
            .inherited
            .iter()
            .map(|a| format!("{:.1}", 100.0 * a))
            .collect();
        let top1: Vec<String> = n.top1.iter().map(|t| pct(*t)).collect();
        let _ = writeln!(
            md,
            "| {} | {} | `{}` | {:.4} | {} | {} | {} | {} |",
            n.id,
            n.kind.name(),
            n.architecture.replace('|', "\\|"),
            n.cost,
            n.measured_ms
                .map_or_else(|| "–".into(), |m| format!("{m:.3}")),
            if inherited.is_empty() {
                "–".into()
            } else {
                inherited.join(" / ")
            },
            top1.join(" | "),
            match (n.mean_top1(), n.spread) {
                (Some(m), Some(sd)) => format!("{:.2} ± {:.2}", 100.0 * m, 100.0 * sd),
                (m, _) => pct(m),
            }
        );
    }
    md
}

/// The chart's points: one group per kind present, x from `x`, y the mean top-1 (%) with a
/// bar from the lowest to the highest seed.
fn groups(
    record: &StudyRecord,
    x: impl Fn(&StudyNet) -> Option<f64>,
) -> Vec<(String, Vec<ErrorPoint>)> {
    KINDS
        .iter()
        .map(|&kind| {
            let points = record
                .of_kind(kind)
                .filter_map(|n| {
                    let (low, high) = n.range_top1()?;
                    let done: Vec<f64> = n.top1.iter().flatten().copied().collect();
                    let y = done.iter().sum::<f64>() / done.len() as f64;
                    Some(ErrorPoint {
                        x: x(n)?,
                        y: 100.0 * y,
                        low: 100.0 * low,
                        high: 100.0 * high,
                    })
                })
                .collect();
            (kind.name().to_string(), points)
        })
        .filter(|(_, p): &(String, Vec<ErrorPoint>)| !p.is_empty())
        .collect()
}

/// Test top-1 against cost and against measured latency.
fn charts(record: &StudyRecord) -> (String, String) {
    let by_cost = scatter_chart(
        "test top-1 against cost",
        &format!("cost ({})", record.unit),
        "top-1 (%)",
        &groups(record, |n| Some(n.cost)),
    );
    let by_latency = scatter_chart(
        &format!("test top-1 against latency measured on {}", record.backend),
        "latency (ms)",
        "top-1 (%)",
        &groups(record, |n| n.measured_ms),
    );
    (by_cost, by_latency)
}

fn html(record: &StudyRecord, by_cost: &str, by_latency: &str) -> String {
    let summary: String = summary_lines(record)
        .iter()
        .map(|l| format!("<li>{}</li>", proxyless_report::escape(l)))
        .collect();
    let table = proxyless_report::escape(&markdown(record));
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>proxyless study: {space}</title>\
         <style>body{{font-family:sans-serif;max-width:1200px;margin:1em auto}}pre{{font-size:12px;overflow-x:auto}}</style>\
         </head><body>\n<h1>Searched against random networks of the same cost: {space}</h1>\n<ul>{summary}</ul>\n\
         <div>{by_cost}{by_latency}</div>\n<pre>{table}</pre>\n</body></html>\n",
        space = proxyless_report::escape(&record.space),
    )
}
