//! The Pixel 1 table's prediction for an architecture of the paper's ImageNet space equals the
//! sum of the published entries for its layers, computed here independently from the YAML.

use std::collections::BTreeMap;

use proxyless_latency::{CostModel, LatencyTable};
use proxyless_space::{Architecture, OpChoice, presets};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Deserialize;

#[derive(Deserialize)]
struct Entry {
    mean: f64,
}

#[test]
fn prediction_is_the_sum_of_the_published_entries() {
    let yaml = include_str!("../tables/pixel1.yaml");
    let published: BTreeMap<String, Entry> = serde_yaml::from_str(yaml).unwrap();
    let space = presets::load("imagenet").unwrap();
    let table = CostModel::Table(LatencyTable::named("pixel1").unwrap());
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..20 {
        let arch = Architecture::random(&space, &mut rng);
        // The paper's space at 224: stem 224 -> 112, first block 32 -> 16 at 112, then stages
        // (width, depth, stride) = (24,4,2) (40,4,2) (80,4,2) (96,4,1) (192,4,2) (320,1,1).
        let mut keys = vec![
            "Conv-input:224x224x3-output:112x112x32".to_string(),
            "expanded_conv-input:112x112x32-output:112x112x16-expand:1-kernel:3-stride:1-idskip:0"
                .to_string(),
        ];
        let stages = [
            (24, 4, 2),
            (40, 4, 2),
            (80, 4, 2),
            (96, 4, 1),
            (192, 4, 2),
            (320, 1, 1),
        ];
        let (mut size, mut channels, mut i) = (112, 16, 0);
        for (width, depth, stride) in stages {
            for d in 0..depth {
                let s = if d == 0 { stride } else { 1 };
                let out = size / s;
                if let OpChoice::MbConv(op) = arch.choices()[i] {
                    let skip = u8::from(s == 1 && channels == width);
                    keys.push(format!(
                        "expanded_conv-input:{size}x{size}x{channels}-output:{out}x{out}x{width}-expand:{}-kernel:{}-stride:{s}-idskip:{skip}",
                        op.expand_ratio, op.kernel_size
                    ));
                }
                size = out;
                channels = width;
                i += 1;
            }
        }
        keys.push("Conv_1-input:7x7x320-output:7x7x1280".into());
        keys.push("Logits-input:7x7x1280-output:1000".into());
        let expected: f64 = keys.iter().map(|k| published[k].mean).sum();
        let predicted = table.predict(&arch.to_net_spec(&space), 224).unwrap();
        assert!(
            (predicted - expected).abs() < 1e-9,
            "{predicted} vs {expected}"
        );
    }
}
