//! Malformed inputs: each gets an error naming the file, the field and what was expected,
//! exit status 1 and no panic.

mod common;

use std::path::{Path, PathBuf};

use common::{failure, repo_file};

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn mobile() -> String {
    std::fs::read_to_string(repo_file("configs/nets/proxyless_mobile.json")).unwrap()
}

fn fmnist() -> String {
    std::fs::read_to_string(repo_file("configs/spaces/fmnist.toml")).unwrap()
}

/// The official mobile net edited as JSON, written into `case`; returns its path.
fn edited_net_config(case: &Case, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut json: serde_json::Value = serde_json::from_str(&mobile()).unwrap();
    edit(&mut json);
    let path = case.write("net.config", &serde_json::to_string(&json).unwrap());
    path.display().to_string()
}

/// Edits the official mobile net as JSON and expects `info` to fail with `expected`.
fn net_config_case(edit: impl FnOnce(&mut serde_json::Value), expected: &[&str]) {
    let case = Case::new();
    let path = edited_net_config(&case, edit);
    let mut all = vec![path.as_str()];
    all.extend(expected);
    failure(&["info", &path], &all);
}

fn space_case(from: &str, to: &str, expected: &[&str]) {
    let case = Case::new();
    let text = fmnist();
    assert!(text.contains(from), "{from}");
    let path = case.write("space.toml", &text.replacen(from, to, 1));
    let path = path.display().to_string();
    let mut all = vec![path.as_str()];
    all.extend(expected);
    failure(&["info", &path], &all);
}

fn arch_text_case(text: &str, expected: &[&str]) {
    let case = Case::new();
    let path = case.write("arch.txt", text).display().to_string();
    let mut all = vec![path.as_str()];
    all.extend(expected);
    failure(&["info", &path, "--space", "fmnist"], &all);
}

const FMNIST_ARCH: &str = "k3e3 k3e3 | k3e3 k3e3 k3e3 | k3e3 k3e3 k3e3 | k3e3";

#[test]
fn net_config_missing_field() {
    net_config_case(
        |j| {
            j["blocks"][6]["mobile_inverted_conv"]
                .as_object_mut()
                .unwrap()
                .remove("kernel_size");
        },
        &["blocks[6]", "missing field `kernel_size`"],
    );
}

#[test]
fn net_config_wrong_type() {
    net_config_case(
        |j| j["first_conv"]["out_channels"] = "32".into(),
        &["first_conv.out_channels", "expected usize"],
    );
}

#[test]
fn net_config_unknown_layer() {
    net_config_case(
        |j| j["blocks"][2]["mobile_inverted_conv"]["name"] = "SEConvLayer".into(),
        &[
            "blocks[2].mobile_inverted_conv",
            "SEConvLayer",
            "MBInvertedConvLayer",
        ],
    );
}

#[test]
fn net_config_broken_channel_chain() {
    net_config_case(
        |j| j["blocks"][5]["mobile_inverted_conv"]["in_channels"] = 17.into(),
        &["blocks[5].in_channels", "17"],
    );
}

#[test]
fn net_config_shortcut_on_a_strided_block() {
    net_config_case(
        |j| {
            let s = j["blocks"][2]["shortcut"].clone();
            j["blocks"][1]["shortcut"] = s;
        },
        &["blocks[1].shortcut"],
    );
}

#[test]
fn net_config_unsupported_activation() {
    net_config_case(
        |j| j["first_conv"]["act_func"] = "h_swish".into(),
        &["first_conv.act_func", "relu6", "h_swish"],
    );
}

#[test]
fn net_config_even_kernel() {
    net_config_case(
        |j| j["blocks"][7]["mobile_inverted_conv"]["kernel_size"] = 4.into(),
        &["blocks[7].mobile_inverted_conv.kernel_size", "odd", "4"],
    );
}

#[test]
fn net_config_unknown_field() {
    // A field this project would silently ignore (here: a kernel on a skip block) is an error.
    net_config_case(
        |j| j["blocks"][3]["mobile_inverted_conv"]["kernel_size"] = 3.into(),
        &[
            "blocks[3].mobile_inverted_conv",
            "unknown field `kernel_size`",
        ],
    );
}

#[test]
fn net_config_truncated_json() {
    let case = Case::new();
    let text = mobile();
    let path = case.write("cut.json", &text[..text.len() / 2]);
    let path = path.display().to_string();
    failure(&["info", &path], &[&path, "EOF"]);
}

/// Sizes that decide allocations are bounded before anything is built: `info` and `check`
/// refuse a classifier of 10^12 outputs (it aborted `check` with a failed 4 TB allocation).
#[test]
fn net_config_classifier_beyond_any_network() {
    let expected = [
        "classifier.out_features",
        "1000000000000",
        "at most 1048576",
    ];
    let case = Case::new();
    let path = edited_net_config(&case, |j| {
        j["classifier"]["out_features"] = 1_000_000_000_000u64.into()
    });
    for command in ["info", "check"] {
        failure(
            &[command, &path],
            &[&[path.as_str()][..], &expected].concat(),
        );
    }
    // An input side beyond any image: refused before the input tensor is made.
    let mobile = repo_file("configs/nets/proxyless_mobile.json");
    for command in ["info", "check"] {
        failure(
            &[command, &mobile, "--resolution", "1000000"],
            &["resolution", "1000000", "at most 16384"],
        );
    }
}

/// Each size within its bound, the whole beyond any network: 60,000 features into 60,000
/// classes, 3.6 G parameters, refused naming the layer that holds most of them.
#[test]
fn net_config_parameters_beyond_any_network() {
    net_config_case(
        |j| {
            j["feature_mix_layer"]["out_channels"] = 60_000.into();
            j["classifier"]["in_features"] = 60_000.into();
            j["classifier"]["out_features"] = 60_000.into();
        },
        &["classifier", "3600", "parameters", "at most 1073741824"],
    );
}

#[test]
fn space_op_beyond_any_network() {
    space_case(
        "\"k3e3\", \"k3e6\"",
        "\"k3e3\", \"k3e6000\"",
        &["k3e6000", "expansion at most 64"],
    );
}

#[test]
fn space_bad_stride() {
    space_case(
        "width = 24\ndepth = 3\nstride = 2",
        "width = 24\ndepth = 3\nstride = 3",
        &["stages[1].stride", "1 or 2", "3"],
    );
}

#[test]
fn space_unknown_key() {
    space_case("width = 16", "widht = 16", &["widht", "unknown field"]);
}

#[test]
fn space_bad_op() {
    space_case("\"k3e3\", \"k3e6\"", "\"k4e3\", \"k3e6\"", &["k4e3", "odd"]);
}

#[test]
fn space_zero_depth() {
    space_case("depth = 2", "depth = 0", &["stages[0].depth", "positive"]);
}

#[test]
fn space_duplicate_op() {
    space_case(
        "\"k3e3\", \"k3e6\"",
        "\"k3e3\", \"k3e3\"",
        &["candidates.ops[1]", "twice"],
    );
}

#[test]
fn architecture_too_few_choices() {
    arch_text_case("k3e3 k3e3", &["fmnist", "9 choice blocks", "got 2"]);
}

#[test]
fn architecture_unknown_op() {
    arch_text_case(
        &FMNIST_ARCH.replacen("k3e3", "k3e9x", 1),
        &["token 1 ('k3e9x')", "expected 'zero' or an op"],
    );
}

#[test]
fn architecture_zero_without_shortcut() {
    arch_text_case(
        &FMNIST_ARCH.replacen("k3e3", "zero", 1),
        &["stage1.block1", "identity shortcut"],
    );
}

#[test]
fn architecture_json_unknown_block() {
    let case = Case::new();
    let mut choices = serde_json::Map::new();
    for label in [
        "stage1.block1",
        "stage1.block2",
        "stage2.block1",
        "stage2.block2",
        "stage2.block3",
        "stage3.block1",
        "stage3.block2",
        "stage3.block3",
        "stage4.block1",
        "stage9.block1",
    ] {
        choices.insert(label.into(), "k3e3".into());
    }
    let json = serde_json::json!({"space": "fmnist", "choices": choices});
    let path = case
        .write("arch.json", &json.to_string())
        .display()
        .to_string();
    failure(
        &["info", &path],
        &[&path, "choices.stage9.block1", "no block"],
    );
}

#[test]
fn architecture_needs_a_space() {
    let case = Case::new();
    let path = case.write("arch.txt", FMNIST_ARCH).display().to_string();
    failure(&["info", &path], &[&path, "--space"]);
}

#[test]
fn missing_file() {
    let path = Path::new("/nonexistent/net.json").display().to_string();
    failure(&["info", &path], &["/nonexistent/net.json", "no such file"]);
}

#[test]
fn failed_convert_leaves_the_old_output_untouched() {
    let case = Case::new();
    let out = case.write("out.json", "previous");
    let bad = case.write("bad.txt", "k3e3").display().to_string();
    let out_arg = out.display().to_string();
    failure(
        &[
            "convert", &bad, "--space", "fmnist", "--to", "json", "--out", &out_arg,
        ],
        &["bad.txt"],
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous");
}
