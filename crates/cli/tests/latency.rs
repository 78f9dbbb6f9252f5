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
    args.extend(["--calibration", "4"]);
    let out = success(&args);
    assert!(out.contains("46 entries"), "{out}");
    assert!(out.contains("fitted to 4 networks"), "{out}");
    let text = std::fs::read_to_string(&table).unwrap();
    assert!(
        text.starts_with("# backend: flex\n# build: proxyless "),
        "{text}"
    );
    for header in ["# cpu: ", "# threads: ", "# date: ", "# correction_scale: "] {
        assert!(text.contains(header), "{header} in {text}");
    }
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
    assert!(json["repeat_mape"].as_f64().unwrap() >= 0.0);
    assert!(json["uncorrected_mape"].as_f64().unwrap().is_finite());
    assert_eq!(json["measured_passes_ms"][1].as_array().unwrap().len(), 4);
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert_eq!(svg.matches("class=\"point\"").count(), 4);
}

#[test]
fn a_table_from_elsewhere_is_reported() {
    // The ndarray table, used to predict for flex: the prediction is made, with a warning.
    let table = common::repo_file("configs/latency/fmnist-ndarray-b16.yaml");
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("arch.txt");
    std::fs::write(
        &arch,
        "k3e3 zero | k3e3 zero zero | k3e3 zero zero | k3e3\n",
    )
    .unwrap();
    let a = arch.display().to_string();
    let out = common::proxyless(&[
        "latency", "predict", &a, "--space", "fmnist", "--table", &table,
    ]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("was measured with backend 'ndarray', this is 'flex'"),
        "{stderr}"
    );
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

#[test]
fn fitted_fallback_fills_a_missing_block_closely() {
    let dir = tempfile::tempdir().unwrap();
    let full = common::repo_file("configs/latency/fmnist-flex-b16.yaml");
    let arch = dir.path().join("arch.txt");
    std::fs::write(
        &arch,
        "k5e6 k3e3 | k7e6 zero zero | k5e3 k3e6 zero | k7e3\n",
    )
    .unwrap();
    let a = arch.display().to_string();
    let predict = |table: &str, extra: &[&str]| -> f64 {
        let mut args = vec![
            "latency",
            "predict",
            a.as_str(),
            "--space",
            "fmnist",
            "--table",
            table,
            "--json",
        ];
        args.extend_from_slice(extra);
        let out: serde_json::Value = serde_json::from_str(&common::success(&args)).unwrap();
        out["latency_ms"].as_f64().unwrap()
    };
    let truth = predict(&full, &[]);
    // Drop the entry of the first choice block (k5e6, 14x14, 8 -> 16 channels, stride 2).
    let text = std::fs::read_to_string(&full).unwrap();
    let missing = "expanded_conv-input:28x28x8-output:14x14x16-expand:6-kernel:5-stride:2-idskip:0";
    let mut kept = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            skipping = line.starts_with(missing);
        }
        if !skipping {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    assert!(kept.len() < text.len(), "the table holds {missing}");
    let partial = dir.path().join("partial.yaml");
    std::fs::write(&partial, kept).unwrap();
    let p = partial.display().to_string();
    failure(
        &["latency", "predict", &a, "--space", "fmnist", "--table", &p],
        &["partial.yaml", missing],
    );
    let filled = predict(&p, &["--fallback"]);
    assert!(
        (filled - truth).abs() / truth < 0.25,
        "fallback {filled} ms against {truth} ms"
    );
}
