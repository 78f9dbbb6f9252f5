//! The paper's four released nets: import, counts, Burn modules, forward, export round trip.

use burn::prelude::*;
use burn::tensor::Distribution;
use proxyless_nn::{ProxylessNet, count_buffers, count_trainable};
use proxyless_space::NetSpec;
use proxyless_tests::{OFFICIAL_NETS, official_net_path};

fn load(name: &str) -> NetSpec {
    NetSpec::from_net_config_file(official_net_path(name)).unwrap()
}

#[test]
fn parameter_and_mac_counts_match_the_paper() {
    for (name, paper_millions, macs_millions) in OFFICIAL_NETS {
        let cost = load(name).cost(224).unwrap();
        let millions = cost.params as f64 / 1e6;
        assert_eq!(
            (millions * 10.0).round() / 10.0,
            paper_millions,
            "{name}: {} parameters",
            cost.params
        );
        let macs = (cost.macs as f64 / 1e6).round() as u64;
        assert_eq!(macs, macs_millions, "{name}: {} MACs", cost.macs);
    }
}

#[test]
fn burn_modules_hold_exactly_the_counted_parameters() {
    let device = Device::default();
    for (name, _, _) in OFFICIAL_NETS {
        let spec = load(name);
        let cost = spec.cost(224).unwrap();
        let net = ProxylessNet::new(&spec, &device);
        assert_eq!(count_trainable(&net), cost.params, "{name}: trainable");
        assert_eq!(count_buffers(&net), cost.buffers, "{name}: buffers");
        assert_eq!(
            net.num_params() as u64,
            cost.params + cost.buffers,
            "{name}"
        );
    }
}

#[test]
fn forward_at_224_gives_finite_logits() {
    let device = Device::default();
    for (name, _, _) in OFFICIAL_NETS {
        let net = ProxylessNet::new(&load(name), &device);
        let x = Tensor::<4>::random([2, 3, 224, 224], Distribution::Normal(0.0, 1.0), &device);
        let logits = net.forward(x);
        assert_eq!(logits.dims(), [2, 1000], "{name}");
        let finite = logits.is_finite().all().into_scalar::<bool>();
        assert!(finite, "{name}: non-finite logits");
    }
}

#[test]
fn net_config_export_gives_back_the_same_network() {
    for (name, _, _) in OFFICIAL_NETS {
        let path = official_net_path(name);
        let original = std::fs::read_to_string(&path).unwrap();
        let spec = load(name);
        let exported = spec.to_net_config_json();
        assert_eq!(
            NetSpec::from_net_config_str(&exported, "export").unwrap(),
            spec,
            "{name}"
        );
        // The document itself is the official one, field for field.
        let a: serde_json::Value = serde_json::from_str(&original).unwrap();
        let b: serde_json::Value = serde_json::from_str(&exported).unwrap();
        assert_eq!(normalise(a), normalise(b), "{name}");
    }
}

/// Numbers as floats, so `0` and `0.0` compare equal.
fn normalise(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) => Value::from(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.into_iter().map(normalise).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, normalise(v))).collect()),
        other => other,
    }
}
