//! Helpers shared by the cross-crate tests: where the repository's configs are.

use std::path::PathBuf;

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
