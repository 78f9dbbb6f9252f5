//! Pictures of ProxylessNAS networks and runs, as self-contained SVG: no tensors, no fonts or
//! scripts to fetch, so they open anywhere and tests can read their structure.
//!
//! - [`draw_network`]: a network as the paper draws it, one box per block.
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

mod network;
mod svg;

pub use network::draw_network;
