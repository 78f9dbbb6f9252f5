//! `proxyless info`, `convert`, `sample` and `check` on real files.

mod common;

use common::{failure, repo_file, success};

#[test]
fn info_json_reports_the_papers_counts() {
    // Exact figures from tests/reference/count_net_config.py (plain Python arithmetic).
    for (name, params, macs) in [
        ("proxyless_gpu", 7_119_848u64, 465_260_160u64),
        ("proxyless_cpu", 4_361_648, 439_243_864),
        ("proxyless_mobile", 4_080_512, 320_427_584),
        ("proxyless_mobile_14", 6_857_568, 580_883_408),
    ] {
        let file = repo_file(&format!("configs/nets/{name}.json"));
        let json: serde_json::Value =
            serde_json::from_str(&success(&["info", &file, "--json"])).unwrap();
        assert_eq!(json["params"].as_u64(), Some(params), "{name}");
        assert_eq!(json["macs"].as_u64(), Some(macs), "{name}");
        assert_eq!(json["layers"].as_array().unwrap().len(), 25, "{name}");
    }
}

#[test]
fn info_reads_and_counts_the_papers_cifar_tree_network() {
    // Exact figures from tests/reference/count_tree_net.py (plain Python arithmetic).
    let file = repo_file("configs/nets/proxyless_cifar.json");
    let json: serde_json::Value =
        serde_json::from_str(&success(&["info", &file, "--json"])).unwrap();
    assert_eq!(json["kind"], "PyramidTreeNet");
    assert_eq!(json["params"].as_u64(), Some(5_731_530));
    assert_eq!(json["macs"].as_u64(), Some(1_213_155_872));
    assert_eq!(json["cells"], 54);
    assert_eq!(json["edges"]["7x7 sep-conv"], 116);
    let text = success(&["info", &file]);
    assert!(text.contains("5731530 parameters (5.73M)"), "{text}");
    // Commands for MBConv networks say so (tests/tree_net.rs: the ones that take it).
    failure(
        &["convert", &file, "--to", "text"],
        &["PyramidTreeNet", "MBConv networks"],
    );
}

#[test]
fn info_on_a_tree_space_reports_its_cells_and_sizes() {
    let json: serde_json::Value =
        serde_json::from_str(&success(&["info", "cifar-tree", "--json"])).unwrap();
    assert_eq!(json["kind"], "tree space");
    assert_eq!(json["cells"], 54);
    assert_eq!(json["searched_edges"], 648);
    // The paper's 5.7M network lies between the space's cheapest and dearest.
    let params = &json["params_range"];
    assert!(params[0].as_u64().unwrap() < 5_731_530 && 5_731_530 < params[1].as_u64().unwrap());
    let text = success(&["info", &repo_file("configs/spaces/cifar-tree-compact.toml")]);
    assert!(text.contains("36 in all"), "{text}");
    assert!(text.contains("zero"), "{text}");
    failure(&["check", "cifar-tree"], &["a space has no single network"]);
}

#[test]
fn info_on_a_space_reports_its_size_and_supernet() {
    let json: serde_json::Value =
        serde_json::from_str(&success(&["info", "imagenet", "--json"])).unwrap();
    assert_eq!(json["choice_blocks"], 21);
    assert_eq!(json["arch_params"], 141);
    assert!(json["params"].as_u64().unwrap() > 15_000_000);
    assert!(json["macs"].as_u64().is_some());
    let table = success(&["info", &repo_file("configs/spaces/fmnist.toml")]);
    assert!(table.contains("stage4.block1"), "{table}");
}

#[test]
fn info_resolution_changes_macs_not_params() {
    let file = repo_file("configs/nets/proxyless_mobile.json");
    let at = |r: &str| -> serde_json::Value {
        serde_json::from_str(&success(&["info", &file, "--json", "--resolution", r])).unwrap()
    };
    let (a, b) = (at("224"), at("112"));
    assert_eq!(a["params"], b["params"]);
    assert!(a["macs"].as_u64().unwrap() > 3 * b["macs"].as_u64().unwrap());
}

#[test]
fn sample_convert_round_trip_through_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).display().to_string();
    for space in ["imagenet", "fmnist", "cifar10"] {
        let text = success(&["sample", "--space", space, "--seed", "11"]);
        success(&[
            "sample",
            "--space",
            space,
            "--seed",
            "11",
            "--to",
            "json",
            "--out",
            &path("a.json"),
        ]);
        success(&[
            "convert",
            &path("a.json"),
            "--to",
            "net-config",
            "--out",
            &path("net.json"),
        ]);
        let back = success(&[
            "convert",
            &path("net.json"),
            "--space",
            space,
            "--to",
            "text",
        ]);
        assert_eq!(back, text, "{space}");
        std::fs::write(path("a.txt"), &text).unwrap();
        let json = success(&["convert", &path("a.txt"), "--space", space, "--to", "json"]);
        assert_eq!(json, std::fs::read_to_string(path("a.json")).unwrap());
    }
}

#[test]
fn check_builds_and_runs_on_the_default_backend() {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("arch.json").display().to_string();
    success(&[
        "sample", "--space", "cifar10", "--to", "json", "--out", &arch,
    ]);
    let out = success(&["check", &arch]);
    assert!(out.contains("finite logits"), "{out}");
}

#[cfg(feature = "ndarray")]
#[test]
fn check_runs_on_ndarray() {
    let out = success(&[
        "check",
        &repo_file("configs/nets/proxyless_mobile.json"),
        "--backend",
        "ndarray",
        "--resolution",
        "64",
        "--batch",
        "1",
    ]);
    assert!(out.contains("backend ndarray"), "{out}");
    assert!(out.contains("[1, 1000] finite logits"), "{out}");
}

#[cfg(not(feature = "cuda"))]
#[test]
fn a_backend_not_compiled_in_is_a_clear_error() {
    let file = repo_file("configs/nets/proxyless_mobile.json");
    failure(
        &["check", &file, "--backend", "cuda"],
        &["not compiled", "--features cuda"],
    );
}

#[test]
fn draw_writes_one_box_per_block() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gpu.svg");
    let o = out.display().to_string();
    let net = common::repo_file("configs/nets/proxyless_gpu.json");
    common::success(&["draw", &net, "--out", &o, "--title", "ProxylessNAS GPU"]);
    let svg = std::fs::read_to_string(&out).unwrap();
    // proxyless_gpu: the first block and 21 choice blocks, 5 of them skipped.
    let mbconv = svg.matches("class=\"block mbconv\"").count();
    let zero = svg.matches("class=\"block zero\"").count();
    assert_eq!(mbconv + zero, 22, "{svg}");
    assert!(zero > 0 && svg.contains(">MB6</text>") && svg.contains(">7x7</text>"));
    assert!(svg.contains("ProxylessNAS GPU") && svg.contains(">7x7x1728</text>"));
    // As PNG: twice the SVG's size, and not one colour.
    let png = dir.path().join("gpu.png");
    common::success(&["draw", &net, "--out", &png.display().to_string()]);
    let image = image::open(&png).unwrap().to_rgb8();
    let width: f64 = svg
        .split("width=\"")
        .nth(1)
        .and_then(|w| w.split('"').next())
        .and_then(|w| w.parse().ok())
        .unwrap();
    assert_eq!(image.width(), 2 * width as u32);
    let first = *image.get_pixel(0, 0);
    assert!(image.pixels().filter(|p| **p != first).count() > 10_000);
    let jpg = dir.path().join("x.jpg").display().to_string();
    common::failure(&["draw", &net, "--out", &jpg], &["x.jpg", "SVG", "PNG"]);
}

#[test]
fn a_net_config_takes_its_input_side_from_its_run() {
    // A search's RUN/final/net.config: the run's space.toml says 28, not the default 224.
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(run.join("final")).unwrap();
    std::fs::copy(
        repo_file("configs/spaces/fmnist.toml"),
        run.join("space.toml"),
    )
    .unwrap();
    let net = run.join("final/net.config").display().to_string();
    success(&[
        "sample",
        "--space",
        "fmnist",
        "--seed",
        "1",
        "--to",
        "net-config",
        "--out",
        &net,
    ]);
    let json: serde_json::Value =
        serde_json::from_str(&success(&["info", &net, "--json"])).unwrap();
    assert_eq!(json["resolution"], 28, "{json}");
    // Alone, it is assumed 224, and said so.
    let alone = dir.path().join("net.config");
    std::fs::copy(&net, &alone).unwrap();
    let out = common::proxyless(&["info", &alone.display().to_string(), "--json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["resolution"], 224);
    assert!(String::from_utf8_lossy(&out.stderr).contains("assuming 224"));
}
