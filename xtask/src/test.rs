//! `cargo xtask test`: the whole suite, built once with both CPU backends CI covers.

use crate::cargo;

/// Runs `cargo test` over the workspace with the `ndarray` backend compiled in beside the
/// default `flex`, so backend-specific tests run on both.
pub fn run(extra: &[String]) -> Result<(), String> {
    let mut args = vec!["test", "--workspace", "--features", "proxyless-cli/ndarray"];
    args.extend(extra.iter().map(String::as_str));
    cargo::run(&args, &[])
}
