//! `proxyless latency`: profile, predict, measure, validate on the default backend, and bad
//! tables.

mod common;

use common::{failure, success};

#[test]
fn profile_predict_measure_validate() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("fmnist.yaml");
    let t = table.display().to_string();
    let timing = ["--runs", "2", "--warmup", "1"];
    let mut args = vec!["latency", "profile", "--space", "fmnist", "--out", &t];
    args.extend(timing);
    let out = success(&args);
    assert!(out.contains("46 entries"), "{out}");
    let text = std::fs::read_to_string(&table).unwrap();
    assert!(text.starts_with("# backend: flex\n"), "{text}");
    assert_eq!(text.matches("  mean: ").count(), 46);

    let arch = dir.path().join("arch.txt");
    let a = arch.display().to_string();
    success(&["sample", "--space", "fmnist", "--seed", "5", "--out", &a]);
    let json: serde_json::Value = serde_json::from_str(&success(&[
        "latency", "predict", &a, "--space", "fmnist", "--table", &t, "--json",
    ]))
    .unwrap();
    assert!(json["latency_ms"].as_f64().unwrap() > 0.0);
    let mut args = vec!["latency", "measure", &a, "--space", "fmnist", "--json"];
    args.extend(timing);
    let json: serde_json::Value = serde_json::from_str(&success(&args)).unwrap();
    assert!(json["latency_ms"].as_f64().unwrap() > 0.0);

    let plot = dir.path().join("scatter.svg");
    let p = plot.display().to_string();
    let mut args = vec![
        "latency",
        "validate",
        "--space",
        "fmnist",
        "--samples",
        "4",
        "--table",
        &t,
        "--plot",
        &p,
        "--json",
    ];
    args.extend(timing);
    let json: serde_json::Value = serde_json::from_str(&success(&args)).unwrap();
    assert!(json["mape"].as_f64().unwrap().is_finite());
    assert!(json["kendall_tau"].as_f64().unwrap().abs() <= 1.0);
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert_eq!(svg.matches("class=\"point\"").count(), 4);
}

#[test]
fn incomplete_and_malformed_tables_name_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let net = common::repo_file("configs/nets/proxyless_mobile.json");
    failure(
        &["latency", "predict", &net, "--table", "pixel1"],
        &[
            "table 'pixel1'",
            "no entry for key 'expanded_conv-input:112x112x16-output:56x56x32",
        ],
    );
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "Conv-input:224x224x3-output:112x112x32:\n  count: 3\n",
    )
    .unwrap();
    let b = bad.display().to_string();
    failure(
        &["latency", "predict", &net, "--table", &b],
        &["bad.yaml", "mean"],
    );
    std::fs::write(
        &bad,
        "Conv-input:1x1x1-output:1x1x1:\n  count: 3\n  mean: nope\n",
    )
    .unwrap();
    failure(
        &["latency", "predict", &net, "--table", &b],
        &["bad.yaml", "Conv-input:1x1x1"],
    );
}
