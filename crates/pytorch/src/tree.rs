//! A [`TreeNet`]'s weights under the official `PyramidTreeNet` names. The Burn module's field
//! names are the official ones, so a tensor's name is its module path with Burn's block
//! variant (`Transition`, `Residual`) left out and BatchNorm's `gamma`/`beta` read as
//! `weight`/`bias`; linear weights are transposed (Burn `[in, out]`, PyTorch `[out, in]`).

use std::path::Path;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use proxyless_nn::tree::TreeNet;
use proxyless_space::TreeNetConfig;

use crate::error::{Error, Result};
use crate::files::{self, read_state_dict, write_safetensors};
use crate::state_dict::{Loading, StateDict, StoredTensor};
use crate::{Exported, NET_CONFIG, WEIGHTS};

/// Module paths as PyTorch names them.
#[derive(Default)]
struct Path_ {
    parts: Vec<Option<String>>,
}

impl Path_ {
    fn enter(&mut self, name: &str, container_type: &str) {
        let kept = !container_type.starts_with("Enum:");
        self.parts.push(kept.then(|| name.to_string()));
    }

    fn exit(&mut self) {
        self.parts.pop();
    }

    fn name(&self) -> String {
        let parts: Vec<&str> = self.parts.iter().flatten().map(String::as_str).collect();
        let (last, head) = parts.split_last().expect("a tensor sits in a module");
        let last = match *last {
            "gamma" => "weight",
            "beta" => "bias",
            other => other,
        };
        head.iter()
            .copied()
            .chain([last])
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// PyTorch's layout of a tensor: rank-2 tensors (linear weights) transposed.
fn to_torch<const D: usize>(t: Tensor<D>) -> StoredTensor {
    let t = if D == 2 { t.swap_dims(0, 1) } else { t };
    let shape = t.dims().to_vec();
    let values = t
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("a float tensor converts to f32");
    StoredTensor { shape, values }
}

fn torch_shape(dims: &[usize]) -> Vec<usize> {
    let mut shape = dims.to_vec();
    if shape.len() == 2 {
        shape.swap(0, 1);
    }
    shape
}

struct Collect {
    path: Path_,
    dict: StateDict,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.dict
            .tensors
            .insert(self.path.name(), to_torch(param.val()));
    }
}

struct Load<'a> {
    path: Path_,
    loading: Loading<'a>,
}

impl ModuleMapper for Load<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let expected = torch_shape(&param.lazy_shape().dims::<D>());
        let Some(stored) = self.loading.take(&self.path.name(), &expected) else {
            return param;
        };
        let device = param.lazy_device();
        let flat = Tensor::<1>::from_floats(stored.values.as_slice(), &device);
        let t: Tensor<D> = if D == 2 {
            flat.reshape([stored.shape[0], stored.shape[1]])
                .swap_dims(0, 1)
                .reshape(param.lazy_shape())
        } else {
            flat.reshape(param.lazy_shape())
        };
        Param::from_tensor(t)
    }
}

impl StateDict {
    /// The state dict of `net`, as the official `PyramidTreeNet.state_dict()` names and lays
    /// it out (BatchNorm's `num_batches_tracked` left out).
    pub fn from_tree_net(net: &TreeNet) -> Self {
        let mut collect = Collect {
            path: Path_::default(),
            dict: StateDict::default(),
        };
        net.visit(&mut collect);
        collect.dict
    }

    /// Loads these weights into `net` (built from the same `net.config`): every tensor the
    /// network has, with its shape, and no other (besides `num_batches_tracked`); otherwise
    /// the error lists each problem, with `origin` (the file) in front.
    pub fn load_into_tree_net(&self, net: TreeNet, origin: &str) -> Result<TreeNet> {
        let mut load = Load {
            path: Path_::default(),
            loading: Loading::new(self),
        };
        let net = net.map(&mut load);
        load.loading.finish(net, origin)
    }
}

/// Writes `dir/net.config` (the configuration, as the official code writes it) and
/// `dir/weights.safetensors` for a tree network, each atomically; `dir` is created if needed.
pub fn export_tree(net: &TreeNet, config: &TreeNetConfig, dir: &Path) -> Result<Exported> {
    let sd = StateDict::from_tree_net(net);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let net_config = dir.join(NET_CONFIG);
    let weights = dir.join(WEIGHTS);
    write_safetensors(&weights, &sd)?;
    files::write_atomic(&net_config, config.to_json_string().as_bytes())?;
    Ok(Exported {
        net_config,
        weights,
    })
}

/// Builds the tree network `config` describes on `device` and loads the weights of `path`
/// (safetensors or a PyTorch checkpoint) into it.
pub fn import_tree(path: &Path, config: &TreeNetConfig, device: &Device) -> Result<TreeNet> {
    let origin = path.display().to_string();
    let net =
        TreeNet::new(config, &origin, device).map_err(|e| Error::Unsupported(e.to_string()))?;
    read_state_dict(path)?.load_into_tree_net(net, &origin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    const CIFAR: &str = include_str!("../../../configs/nets/proxyless_cifar.json");

    fn net(device: &Device) -> (TreeNetConfig, TreeNet) {
        let config = TreeNetConfig::from_json_str(CIFAR, "cifar").unwrap();
        let net = TreeNet::new(&config, "cifar", device).unwrap();
        (config, net)
    }

    #[test]
    fn names_and_layouts_are_the_official_ones() {
        let device = Device::default();
        let (_, net) = net(&device);
        let sd = StateDict::from_tree_net(&net);
        for key in [
            "blocks.0.layers.0.conv.weight",
            "blocks.0.layers.1.bn.running_var",
            "blocks.1.in_bottle.conv.weight",
            "blocks.1.in_bottle.bn.weight",
            "blocks.1.out_bottle.bn.bias",
            "blocks.1.final_bn.running_mean",
            "blocks.1.cell.edges.0.conv.weight",
            "blocks.1.cell.child_nodes.0.branch_bns.1.weight",
            "blocks.55.layers.0.bn.weight",
            "classifier.linear.weight",
            "classifier.linear.bias",
        ] {
            assert!(sd.tensors.contains_key(key), "missing {key}");
        }
        // The third level's nodes (leaves) hold searched edges.
        let leaf = "blocks.1.cell.child_nodes.0.child_nodes.0.child_nodes.1.edges.";
        assert!(sd.tensors.keys().any(|k| k.starts_with(leaf)), "no {leaf}*");
        // Their edges hold separable convolutions or parameter-free layers.
        assert!(sd.tensors.keys().any(|k| k.ends_with("depth_conv.weight")));
        assert!(sd.tensors.keys().any(|k| k.ends_with("point_conv.weight")));
        assert!(
            !sd.tensors
                .keys()
                .any(|k| k.contains("Residual") || k.contains("gamma"))
        );
        assert_eq!(sd.tensors["classifier.linear.weight"].shape, vec![10, 400]);
        let params: usize = sd
            .tensors
            .iter()
            .filter(|(k, _)| !k.contains("running_"))
            .map(|(_, t)| t.values.len())
            .sum();
        assert_eq!(params, 5_731_530);
    }

    #[test]
    fn a_state_dict_round_trips_and_mismatches_are_listed() {
        let device = Device::default();
        let (config, a) = net(&device);
        let sd = StateDict::from_tree_net(&a);
        let b = sd
            .load_into_tree_net(TreeNet::new(&config, "c", &device).unwrap(), "m")
            .unwrap();
        assert_eq!(StateDict::from_tree_net(&b), sd);
        let x = Tensor::<4>::random([1, 3, 32, 32], Distribution::Default, &device);
        let (ya, yb) = (a.forward(x.clone()), b.forward(x));
        assert_eq!(ya.into_data(), yb.into_data());

        let mut bad = sd.clone();
        bad.tensors.remove("blocks.1.final_bn.running_mean");
        bad.tensors.get_mut("classifier.linear.bias").unwrap().shape = vec![3];
        bad.tensors
            .insert("extra".into(), sd.tensors["classifier.linear.bias"].clone());
        let err = bad
            .load_into_tree_net(TreeNet::new(&config, "c", &device).unwrap(), "w.pth")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("w.pth: "), "{err}");
        assert!(
            err.contains("missing 'blocks.1.final_bn.running_mean'"),
            "{err}"
        );
        assert!(
            err.contains("'classifier.linear.bias' has shape [3]"),
            "{err}"
        );
        assert!(err.contains("unexpected 'extra'"), "{err}");
    }
}
