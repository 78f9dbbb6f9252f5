//! One module per subcommand.

pub mod bench;
pub mod check;
pub mod convert;
pub mod data;
pub mod deploy_bench;
pub mod draw;
pub mod eval;
pub mod export;
pub mod import;
pub mod info;
pub mod latency;
pub mod parity;
pub mod predict;
pub mod report;
pub mod sample;
pub mod search;
pub mod study;
pub mod train;
