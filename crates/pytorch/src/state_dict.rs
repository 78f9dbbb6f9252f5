//! A [`ProxylessNet`]'s weights under the names and in the layouts of the official PyTorch
//! `ProxylessNASNets`, so that a state dict moves between the two without conversion.
//!
//! | ours | PyTorch |
//! |---|---|
//! | `…conv.weight` `[out, in/groups, k, k]` | the same |
//! | `…bn.gamma`, `…bn.beta` | `…bn.weight`, `…bn.bias` |
//! | `…bn.running_mean`, `…bn.running_var` | the same (buffers) |
//! | `classifier.weight` `[in, out]` | `classifier.linear.weight` `[out, in]` |
//! | `classifier.bias` | `classifier.linear.bias` |
//!
//! PyTorch's `num_batches_tracked` buffers carry nothing the network computes with: they are
//! ignored on import and left out on export (PyTorch's `load_state_dict` fills them in).

use std::collections::{BTreeMap, BTreeSet};

use burn::module::{Param, RunningState};
use burn::nn::{BatchNorm, Linear};
use burn::prelude::*;
use proxyless_nn::{ConvBnAct, ProxylessNet};

use crate::error::{Error, Result};

/// One tensor of a state dict: its shape (outermost first) and values in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTensor {
    /// Extents, outermost first.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

impl StoredTensor {
    fn from_tensor<const D: usize>(t: Tensor<D>) -> Self {
        let shape = t.dims().to_vec();
        let values = t
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("a float tensor converts to f32");
        Self { shape, values }
    }

    fn to_tensor<const D: usize>(&self, device: &Device) -> Tensor<D> {
        let shape: [usize; D] = self.shape.clone().try_into().expect("checked rank");
        Tensor::<1>::from_floats(self.values.as_slice(), device).reshape(shape)
    }
}

/// Tensors by their PyTorch names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateDict {
    /// The tensors, by name.
    pub tensors: BTreeMap<String, StoredTensor>,
}

/// A tensor of the network, as the walk over the network meets it.
enum Slot<'a> {
    Weight(&'a mut Param<Tensor<4>>),
    Vector(&'a mut Param<Tensor<1>>),
    Running(&'a mut RunningState<Tensor<1>>),
    /// A linear layer's weight: Burn stores `[in, out]`, PyTorch `[out, in]`.
    LinearWeight(&'a mut Param<Tensor<2>>),
}

/// Calls `f` with the PyTorch name of every tensor of `net`, in the official order.
fn walk(net: &mut ProxylessNet, f: &mut dyn FnMut(String, Slot<'_>)) -> Result<()> {
    if net.is_folded() {
        return Err(Error::Unsupported(
            "a network with folded BatchNorms has no official PyTorch layout; \
             export the network before folding"
                .into(),
        ));
    }
    conv_bn_act("first_conv", &mut net.first_conv, f);
    for (i, block) in net.blocks.iter_mut().enumerate() {
        if let Some(op) = &mut block.mobile_inverted_conv {
            let prefix = format!("blocks.{i}.mobile_inverted_conv");
            if let Some(expand) = &mut op.inverted_bottleneck {
                conv_bn_act(&format!("{prefix}.inverted_bottleneck"), expand, f);
            }
            conv_bn_act(&format!("{prefix}.depth_conv"), &mut op.depth_conv, f);
            conv_bn_act(&format!("{prefix}.point_linear"), &mut op.point_linear, f);
        }
    }
    conv_bn_act("feature_mix_layer", &mut net.feature_mix_layer, f);
    linear("classifier.linear", &mut net.classifier, f);
    Ok(())
}

fn conv_bn_act(prefix: &str, layer: &mut ConvBnAct, f: &mut dyn FnMut(String, Slot<'_>)) {
    f(
        format!("{prefix}.conv.weight"),
        Slot::Weight(&mut layer.conv.weight),
    );
    let bn: &mut BatchNorm = layer.bn.as_mut().expect("checked: not folded");
    f(format!("{prefix}.bn.weight"), Slot::Vector(&mut bn.gamma));
    f(format!("{prefix}.bn.bias"), Slot::Vector(&mut bn.beta));
    f(
        format!("{prefix}.bn.running_mean"),
        Slot::Running(&mut bn.running_mean),
    );
    f(
        format!("{prefix}.bn.running_var"),
        Slot::Running(&mut bn.running_var),
    );
}

fn linear(prefix: &str, layer: &mut Linear, f: &mut dyn FnMut(String, Slot<'_>)) {
    f(
        format!("{prefix}.weight"),
        Slot::LinearWeight(&mut layer.weight),
    );
    if let Some(bias) = &mut layer.bias {
        f(format!("{prefix}.bias"), Slot::Vector(bias));
    }
}

/// The PyTorch shape of what `slot` holds.
fn torch_shape(slot: &Slot<'_>) -> Vec<usize> {
    match slot {
        Slot::Weight(p) => p.lazy_shape().to_vec(),
        Slot::Vector(p) => p.lazy_shape().to_vec(),
        Slot::Running(r) => r.value_sync().dims().to_vec(),
        Slot::LinearWeight(p) => {
            let [i, o] = p.val().dims();
            vec![o, i]
        }
    }
}

/// A load of a state dict into a network in progress: the tensors taken so far and every
/// problem met, reported together at the end.
pub(crate) struct Loading<'a> {
    dict: &'a StateDict,
    used: BTreeSet<String>,
    problems: Vec<String>,
}

impl<'a> Loading<'a> {
    pub(crate) fn new(dict: &'a StateDict) -> Self {
        Self {
            dict,
            used: BTreeSet::new(),
            problems: Vec::new(),
        }
    }

    /// The stored tensor `name` when it has the PyTorch shape `expected`; otherwise none, with
    /// the problem (missing, or another shape) recorded.
    pub(crate) fn take(&mut self, name: &str, expected: &[usize]) -> Option<&'a StoredTensor> {
        let Some(stored) = self.dict.tensors.get(name) else {
            self.problems.push(format!("missing '{name}'"));
            return None;
        };
        self.used.insert(name.to_string());
        if stored.shape != expected {
            self.problems.push(format!(
                "'{name}' has shape {:?}, the network needs {expected:?}",
                stored.shape
            ));
            return None;
        }
        Some(stored)
    }

    /// `net` when every tensor was taken and the dict holds no other (besides
    /// `num_batches_tracked`); otherwise the error listing each problem, `origin` in front.
    pub(crate) fn finish<T>(mut self, net: T, origin: &str) -> Result<T> {
        for name in self.dict.tensors.keys() {
            if !self.used.contains(name) && !name.ends_with("num_batches_tracked") {
                self.problems
                    .push(format!("unexpected '{name}' (not in this network)"));
            }
        }
        if self.problems.is_empty() {
            Ok(net)
        } else {
            Err(Error::Mismatch {
                origin: origin.to_string(),
                problems: self.problems,
            })
        }
    }
}

impl StateDict {
    /// The state dict of `net`, as the official `ProxylessNASNets.state_dict()` names and
    /// lays it out. Fails for a network whose BatchNorms are folded.
    pub fn from_net(net: &ProxylessNet) -> Result<Self> {
        let mut net = net.clone();
        let mut tensors = BTreeMap::new();
        walk(&mut net, &mut |name, slot| {
            let stored = match slot {
                Slot::Weight(p) => StoredTensor::from_tensor(p.val()),
                Slot::Vector(p) => StoredTensor::from_tensor(p.val()),
                Slot::Running(r) => StoredTensor::from_tensor(r.value_sync()),
                Slot::LinearWeight(p) => StoredTensor::from_tensor(p.val().transpose()),
            };
            tensors.insert(name, stored);
        })?;
        Ok(Self { tensors })
    }

    /// The names `net` expects, in the official order.
    pub fn expected_names(net: &ProxylessNet) -> Result<Vec<String>> {
        let mut net = net.clone();
        let mut names = Vec::new();
        walk(&mut net, &mut |name, _| names.push(name))?;
        Ok(names)
    }

    /// Loads these weights into `net` (built from the same `net.config`). Every tensor the
    /// network has must be present with its shape, and no other tensor may be (besides
    /// `num_batches_tracked`); otherwise the error lists each problem, with `origin` (the
    /// file) in front.
    pub fn load_into(&self, mut net: ProxylessNet, origin: &str) -> Result<ProxylessNet> {
        let device = net.first_conv.conv.weight.val().device();
        let mut loading = Loading::new(self);
        walk(&mut net, &mut |name, slot| {
            let Some(stored) = loading.take(&name, &torch_shape(&slot)) else {
                return;
            };
            match slot {
                Slot::Weight(p) => *p = Param::from_tensor(stored.to_tensor(&device)),
                Slot::Vector(p) => *p = Param::from_tensor(stored.to_tensor(&device)),
                Slot::Running(r) => *r = RunningState::new(stored.to_tensor(&device)),
                Slot::LinearWeight(p) => {
                    *p = Param::from_tensor(stored.to_tensor::<2>(&device).transpose())
                }
            }
        })?;
        loading.finish(net, origin)
    }

    /// Drops a prefix that wraps every name, such as `module.` (PyTorch's `DataParallel`).
    pub fn strip_prefix(mut self, prefix: &str) -> Self {
        if !self.tensors.is_empty() && self.tensors.keys().all(|k| k.starts_with(prefix)) {
            self.tensors = self
                .tensors
                .into_iter()
                .map(|(k, v)| (k[prefix.len()..].to_string(), v))
                .collect();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proxyless_space::NetSpec;

    fn small_net(device: &Device) -> (NetSpec, ProxylessNet) {
        let spec = crate::tests::small_spec();
        let net = ProxylessNet::new(&spec, device);
        (spec, net)
    }

    #[test]
    fn names_and_layouts_are_the_official_ones() {
        let device = Device::default();
        let (_, net) = small_net(&device);
        let sd = StateDict::from_net(&net).unwrap();
        for key in [
            "first_conv.conv.weight",
            "first_conv.bn.weight",
            "first_conv.bn.running_var",
            "blocks.0.mobile_inverted_conv.depth_conv.conv.weight",
            "blocks.1.mobile_inverted_conv.inverted_bottleneck.bn.bias",
            "feature_mix_layer.conv.weight",
            "classifier.linear.weight",
            "classifier.linear.bias",
        ] {
            assert!(sd.tensors.contains_key(key), "missing {key}");
        }
        // The first block has expansion 1: no inverted bottleneck, as in the official net.
        assert!(
            !sd.tensors
                .keys()
                .any(|k| k.starts_with("blocks.0.mobile_inverted_conv.inverted_bottleneck"))
        );
        // PyTorch's Linear is [out, in]; ours is [in, out].
        let [i, o] = net.classifier.weight.val().dims();
        assert_eq!(sd.tensors["classifier.linear.weight"].shape, vec![o, i]);
        let ours = net.classifier.weight.val().transpose().into_data();
        assert_eq!(
            ours.try_to_vec::<f32>().unwrap(),
            sd.tensors["classifier.linear.weight"].values
        );
    }

    #[test]
    fn a_state_dict_round_trips_into_a_fresh_network() {
        let device = Device::default();
        let (spec, net) = small_net(&device);
        let sd = StateDict::from_net(&net).unwrap();
        let other = ProxylessNet::new(&spec, &device);
        let loaded = sd.load_into(other, "memory").unwrap();
        assert_eq!(StateDict::from_net(&loaded).unwrap(), sd);
        let x = Tensor::<4>::random([2, 1, 28, 28], burn::tensor::Distribution::Default, &device);
        // Equal up to summation order: the classifier's weight comes back as a transposed view.
        let a = net.forward(x.clone());
        let b = loaded.forward(x);
        let scale = a.clone().abs().max().into_scalar::<f64>();
        let diff = (a - b).abs().max().into_scalar::<f64>();
        assert!(
            diff <= 1e-5 * scale,
            "logits differ by {diff} (scale {scale})"
        );
    }

    #[test]
    fn mismatches_are_listed_by_name() {
        let device = Device::default();
        let (spec, net) = small_net(&device);
        let mut sd = StateDict::from_net(&net).unwrap();
        sd.tensors.remove("first_conv.bn.running_mean");
        sd.tensors.get_mut("classifier.linear.bias").unwrap().shape = vec![3];
        sd.tensors.insert(
            "extra.weight".into(),
            StoredTensor {
                shape: vec![1],
                values: vec![0.0],
            },
        );
        sd.tensors.insert(
            "first_conv.bn.num_batches_tracked".into(),
            StoredTensor {
                shape: vec![],
                values: vec![7.0],
            },
        );
        let err = sd
            .load_into(ProxylessNet::new(&spec, &device), "w.safetensors")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("w.safetensors: "), "{err}");
        assert!(
            err.contains("missing 'first_conv.bn.running_mean'"),
            "{err}"
        );
        assert!(
            err.contains("'classifier.linear.bias' has shape [3]"),
            "{err}"
        );
        assert!(err.contains("unexpected 'extra.weight'"), "{err}");
        assert!(!err.contains("num_batches_tracked"), "{err}");
    }

    #[test]
    fn folded_networks_are_refused() {
        let device = Device::default();
        let (_, net) = small_net(&device);
        let err = StateDict::from_net(&net.fold_batch_norm()).unwrap_err();
        assert!(err.to_string().contains("folded"), "{err}");
    }

    #[test]
    fn a_wrapping_prefix_is_stripped() {
        let device = Device::default();
        let (_, net) = small_net(&device);
        let sd = StateDict::from_net(&net).unwrap();
        let wrapped = StateDict {
            tensors: sd
                .tensors
                .iter()
                .map(|(k, v)| (format!("module.{k}"), v.clone()))
                .collect(),
        };
        assert_eq!(wrapped.strip_prefix("module."), sd);
    }
}
