//! The tree network against its configuration's counts and against hand computations.

use burn::prelude::*;
use burn::tensor::Distribution;
use proxyless_space::TreeNetConfig;

use super::*;
use crate::{count_buffers, count_trainable};

const CIFAR: &str = include_str!("../../../../configs/nets/proxyless_cifar.json");

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

#[test]
fn the_released_network_holds_exactly_the_counted_parameters_and_classifies() {
    let config = TreeNetConfig::from_json_str(CIFAR, "proxyless_cifar.json").unwrap();
    let cost = config.cost(32, "proxyless_cifar.json").unwrap();
    let device = Device::default();
    let net = TreeNet::new(&config, "proxyless_cifar.json", &device).unwrap();
    assert_eq!(count_trainable(&net), cost.params);
    assert_eq!(count_trainable(&net), 5_731_530);
    assert_eq!(count_buffers(&net), cost.buffers);
    let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let logits = net.forward(x);
    assert_eq!(logits.dims(), [2, 10]);
    assert!(values(logits).iter().all(|v| v.is_finite()));
}

#[test]
fn channels_are_shuffled_as_the_official_shuffle_layer() {
    let device = Device::default();
    let x = Tensor::<1>::from_floats([0., 1., 2., 3., 4., 5.], &device).reshape([1, 6, 1, 1]);
    // Two groups [0 1 2 | 3 4 5] interleaved; three groups [0 1 | 2 3 | 4 5].
    assert_eq!(
        values(shuffle_channels(x.clone(), 2)),
        [0., 3., 1., 4., 2., 5.]
    );
    assert_eq!(
        values(shuffle_channels(x.clone(), 3)),
        [0., 2., 4., 1., 3., 5.]
    );
    assert_eq!(values(shuffle_channels(x, 1)), [0., 1., 2., 3., 4., 5.]);
}

/// A node of two identity edges, leaves below.
fn identity_node(split: &str, merge: &str, branch_bn: bool, path_drop: f64) -> TreeCell {
    let identity = serde_json::json!({
        "name": "IdentityLayer", "in_channels": 2, "out_channels": 2, "use_bn": false,
        "act_func": null, "dropout_rate": 0, "ops_order": "bn_act_weight",
    });
    let channels = if split == "split" { 4 } else { 2 };
    let node: proxyless_space::TreeNode = serde_json::from_value(serde_json::json!({
        "name": "TreeNode", "in_channels": channels, "out_channels": channels,
        "split_type": split, "merge_type": merge, "has_branch_bn": branch_bn,
        "path_drop_rate": path_drop, "edges": [identity.clone(), identity],
        "child_nodes": [null, null],
    }))
    .unwrap();
    TreeCell::new(&node, &Device::default())
}

#[test]
fn nodes_split_merge_and_drop_paths_as_the_official_tree_node() {
    let device = Device::default();
    let x = Tensor::<4>::random([3, 4, 5, 5], Distribution::Normal(0.0, 1.0), &device);
    let x2 = x.clone().slice([0..3, 0..2]);
    // A channel split merged by concatenation: the input back.
    let y = identity_node("split", "concat", false, 0.0).forward(x.clone());
    assert_eq!(values(y), values(x.clone()));
    // Copies added: twice the input; in evaluation each path scaled by 1 - p.
    let y = identity_node("copy", "add", false, 0.0).forward(x2.clone());
    assert_eq!(values(y), values(x2.clone() * 2.0));
    let y = identity_node("copy", "add", false, 0.25).forward(x2.clone());
    assert_eq!(values(y), values(x2.clone() * 0.75 + x2.clone() * 0.75));
    // Branch BatchNorms (fresh statistics, evaluation): bn(x) + x on each branch.
    let y = identity_node("copy", "add", true, 0.0).forward(x2.clone());
    let bn = x2.clone() / (1.0 + 1e-5f64).sqrt();
    let expected = values((bn + x2.clone()) * 2.0);
    for (a, b) in values(y).iter().zip(&expected) {
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}");
    }
    // In training, a path dropped with probability 1 is zeros of the branch's shape.
    let train = device.clone().autodiff();
    let node = identity_node("copy", "add", false, 1.0).to_device(&train);
    let y = node.forward(x2.to_device(&train));
    assert_eq!(y.dims(), [3, 2, 5, 5]);
    assert!(values(y).iter().all(|&v| v == 0.0));
}
