//! ProxylessNAS networks to and from PyTorch.
//!
//! A network exported here is what the official code's `ProxylessNASNets` loads without any
//! conversion: `net.config` (the official JSON) builds the module, and `weights.safetensors`
//! holds its `state_dict()` under the official names and layouts
//! (`first_conv.conv.weight`, `blocks.3.mobile_inverted_conv.depth_conv.bn.running_var`,
//! `classifier.linear.weight`, ...; see [`StateDict`]). The other way round, PyTorch weights
//! with those names (`.pth` state dicts, the official checkpoints, or safetensors) load into
//! a [`ProxylessNet`] built from the same `net.config`, so the paper's published models can
//! be evaluated and fine-tuned here.
//!
//! ```
//! use burn::prelude::*;
//! use proxyless_nn::ProxylessNet;
//! use proxyless_space::{presets, Architecture};
//!
//! let device = Device::default();
//! let space = presets::load("fmnist").unwrap();
//! let spec = Architecture::widest(&space).to_net_spec(&space);
//! let net = ProxylessNet::new(&spec, &device);
//!
//! let dir = tempfile::tempdir().unwrap();
//! let exported = proxyless_pytorch::export(&net, &spec, dir.path()).unwrap();
//! let again = proxyless_pytorch::import(&exported.weights, &spec, &device).unwrap();
//! assert_eq!(again.blocks.len(), net.blocks.len());
//! ```

mod error;
mod files;
mod state_dict;
mod tree;

use std::path::{Path, PathBuf};

use burn::prelude::*;
use proxyless_nn::{Network, ProxylessNet};
use proxyless_space::{NetConfig, NetSpec};

pub use error::{Error, Result};
pub use files::{read_pth, read_safetensors, read_state_dict, write_safetensors};
pub use state_dict::{StateDict, StoredTensor};
pub use tree::{export_tree, import_tree};

/// File name of the architecture in an export directory.
pub const NET_CONFIG: &str = "net.config";
/// File name of the weights in an export directory.
pub const WEIGHTS: &str = "weights.safetensors";

/// The files an [`export`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The official `net.config` JSON.
    pub net_config: PathBuf,
    /// The state dict as safetensors.
    pub weights: PathBuf,
}

/// Writes `dir/net.config` and `dir/weights.safetensors` for `net`, built from `spec`. Each
/// file is written atomically; `dir` is created if needed.
pub fn export(net: &ProxylessNet, spec: &NetSpec, dir: &Path) -> Result<Exported> {
    let sd = StateDict::from_net(net)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let net_config = dir.join(NET_CONFIG);
    let weights = dir.join(WEIGHTS);
    write_safetensors(&weights, &sd)?;
    files::write_atomic(&net_config, spec.to_net_config_json().as_bytes())?;
    Ok(Exported {
        net_config,
        weights,
    })
}

/// Builds the network `spec` describes on `device` and loads the weights of `path`
/// (safetensors or a PyTorch checkpoint) into it; see [`read_state_dict`] and
/// [`StateDict::load_into`].
pub fn import(path: &Path, spec: &NetSpec, device: &Device) -> Result<ProxylessNet> {
    let sd = read_state_dict(path)?;
    sd.load_into(ProxylessNet::new(spec, device), &path.display().to_string())
}

/// [`import`] or [`import_tree`], as `config` says.
pub fn import_network(path: &Path, config: &NetConfig, device: &Device) -> Result<Network> {
    Ok(match config {
        NetConfig::Mobile(spec) => Network::Mobile(import(path, spec, device)?),
        NetConfig::Tree(tree) => Network::Tree(import_tree(path, tree, device)?),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use proxyless_space::{Architecture, NetSpec, presets};

    /// The Fashion-MNIST space with a mix of kernels, expansions and skips.
    pub fn small_spec() -> NetSpec {
        let space = presets::load("fmnist").unwrap();
        Architecture::parse(
            "k3e6 zero | k5e3 k7e6 zero | k3e3 zero k5e6 | k7e3",
            &space,
            "test",
        )
        .unwrap()
        .to_net_spec(&space)
    }
}
