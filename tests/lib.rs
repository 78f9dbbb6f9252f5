//! Helpers shared by the cross-crate tests: where the repository's configs are.

use std::path::PathBuf;

use burn::prelude::*;
use proxyless_pytorch::{StateDict, StoredTensor};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_path_buf()
}

/// The paper's four ImageNet nets shipped in `configs/nets/`, with the paper's parameter
/// count (millions, to its rounding) and the MACs at 224x224 (millions) of the released
/// configs.
pub const OFFICIAL_NETS: [(&str, f64, u64); 4] = [
    ("proxyless_gpu", 7.1, 465),
    ("proxyless_cpu", 4.4, 439),
    ("proxyless_mobile", 4.1, 320),
    ("proxyless_mobile_14", 6.9, 581),
];

/// Path of an official net's `net.config`.
pub fn official_net_path(name: &str) -> PathBuf {
    repo_root()
        .join("configs/nets")
        .join(format!("{name}.json"))
}

/// Trained-looking BatchNorm statistics and affine parameters, from a fixed sequence.
pub fn randomise_batch_norms(sd: &mut StateDict) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = |lo: f32, hi: f32| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        lo + (hi - lo) * ((state >> 40) as f32 / (1u64 << 24) as f32)
    };
    for (name, t) in sd.tensors.iter_mut() {
        let range = if name.ends_with("bn.weight") {
            (0.5, 1.5)
        } else if name.ends_with("bn.bias") || name.ends_with("running_mean") {
            (-0.2, 0.2)
        } else if name.ends_with("running_var") {
            (0.5, 2.0)
        } else {
            continue;
        };
        t.values
            .iter_mut()
            .for_each(|v| *v = uniform(range.0, range.1));
    }
}

/// Asserts that our logits are `theirs` within 1e-4 of the largest logit (at least 1), and
/// prints the largest difference.
pub fn assert_close(name: &str, ours: &Tensor<2>, theirs: &StoredTensor) {
    assert_eq!(ours.dims().to_vec(), theirs.shape, "{name}: logits shape");
    let ours = ours
        .to_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    let scale = theirs.values.iter().fold(1f32, |m, v| m.max(v.abs()));
    let diff = ours
        .iter()
        .zip(&theirs.values)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    eprintln!("{name}: logits differ by at most {diff:.2e} (largest logit {scale:.2})");
    assert!(
        diff <= 1e-4 * scale,
        "{name}: logits differ by {diff} (scale {scale})"
    );
}
