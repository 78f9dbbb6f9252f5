//! Shared set-up of the search tests: the tiny space and a synthetic configuration.

#![allow(dead_code)]

use std::path::PathBuf;

use proxyless_search::SearchConfig;

/// Path of the tiny test space.
pub fn tiny_space() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tiny.toml")
}

/// A small search on synthetic data in the tiny space, with `extra` TOML appended.
pub fn synthetic_config(extra: &str) -> SearchConfig {
    let text = format!(
        r#"
space = "{}"
seed = 3
[data]
dataset = "synthetic"
holdout = 64
batch_size = 32
arch_batch_size = 32
synthetic_per_class = 48
[schedule]
warmup_epochs = 1
epochs = 2
arch_delay_epochs = 0
log_every = 2
[arch]
mode = "two"
update_every = 2
[arch.adam]
lr = 0.05
{target}
{extra}
"#,
        tiny_space().display(),
        target = if extra.contains("[target]") {
            ""
        } else {
            "[target]\ncost = \"macs\"\nloss = \"add#linear\"\nreference = 0.5"
        },
    );
    SearchConfig::from_toml_str(&text, "test config").unwrap()
}
