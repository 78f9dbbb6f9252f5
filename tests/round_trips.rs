//! Architecture text <-> JSON <-> net.config round trips over every preset space, and the
//! agreement of counts from descriptions with the Burn modules built from them.

use burn::prelude::*;
use proxyless_nn::{ProxylessNet, count_trainable};
use proxyless_space::{Architecture, NetSpec, presets};
use rand::SeedableRng;
use rand::rngs::StdRng;

#[test]
fn random_architectures_round_trip_through_every_encoding() {
    let mut rng = StdRng::seed_from_u64(2019);
    for name in presets::NAMES {
        let space = presets::load(name).unwrap();
        for _ in 0..25 {
            let arch = Architecture::random(&space, &mut rng);
            let from_text = Architecture::parse(&arch.to_text(&space), &space, "text").unwrap();
            let from_json =
                Architecture::from_json_str(&from_text.to_json(&space), &space, "json").unwrap();
            let net_config = from_json.to_net_spec(&space).to_net_config_json();
            let net = NetSpec::from_net_config_str(&net_config, "net.config").unwrap();
            let back = Architecture::from_net_spec(&net, &space, "net.config").unwrap();
            assert_eq!(back, arch, "{name}: {}", arch.to_text(&space));
        }
    }
}

#[test]
fn compact_space_networks_match_their_counts_and_run() {
    let device = Device::default();
    let mut rng = StdRng::seed_from_u64(3);
    for name in ["fmnist", "cifar10"] {
        let space = presets::load(name).unwrap();
        for _ in 0..3 {
            let spec = Architecture::random(&space, &mut rng).to_net_spec(&space);
            let net = ProxylessNet::new(&spec, &device);
            let cost = spec.cost(space.input.resolution).unwrap();
            assert_eq!(count_trainable(&net), cost.params, "{name}");
            let r = space.input.resolution;
            let x = Tensor::<4>::ones([3, space.input.channels, r, r], &device);
            assert_eq!(net.forward(x).dims(), [3, space.classes]);
        }
    }
}

#[test]
fn supernet_of_the_imagenet_space_holds_about_16m_weights() {
    let space = presets::load("imagenet").unwrap();
    let summary = space.summary(None).unwrap();
    assert_eq!(summary.choice_blocks, 21);
    assert_eq!(summary.arch_params, 141);
    let millions = summary.supernet_params as f64 / 1e6;
    assert!((millions - 16.0).abs() < 0.1, "{millions}M");
}
