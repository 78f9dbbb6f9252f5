//! Pictures of ProxylessNAS networks and runs, as self-contained SVG (no tensors, no fonts or
//! scripts to fetch, so they open anywhere and tests can read their structure), or as PNG
//! ([`svg_to_png`]).
//!
//! - [`draw_network`]: a network as the paper draws it, one box per block;
//! - [`write_run_report`]: the HTML report of a search run (architecture, candidate
//!   probabilities over the epochs, loss, accuracy, entropy and expected-cost curves, the cost
//!   of each block, the configuration).
//!
//! ```
//! use proxyless_report::draw_network;
//! use proxyless_space::{Architecture, presets};
//!
//! let space = presets::load("fmnist").unwrap();
//! let net = Architecture::widest(&space).to_net_spec(&space);
//! let svg = draw_network(&net, space.input.resolution, "fmnist, widest").unwrap();
//! assert_eq!(svg.matches("class=\"block mbconv\"").count(), 10);
//! ```

pub mod charts;
mod error;
mod network;
mod png;
mod run;
mod svg;
mod tree;

pub use error::Error;
pub use network::draw_network;
pub use png::svg_to_png;
pub use run::{report, write_run_report};
pub use svg::escape;
pub use tree::draw_tree_net;
