//! Our networks as ONNX models against ONNX Runtime: the paper's four nets at 224x224, with
//! trained-looking BatchNorm statistics, folded and unfolded, pass `onnx.checker` and give
//! our logits in ONNX Runtime within 1e-4 of the largest logit.
//!
//! Runs when Python with `onnx`, `onnxruntime`, `numpy` and `safetensors` is available
//! (`PROXYLESS_PYTHON`, default `python3`); with `PROXYLESS_REQUIRE_ONNX=1` (as CI sets) a
//! missing ONNX Runtime is a failure.

use burn::prelude::*;
use burn::tensor::Distribution;
use proxyless_nn::ProxylessNet;
use proxyless_onnx::{OnnxOptions, runtime};
use proxyless_pytorch::{StateDict, StoredTensor, read_safetensors, write_safetensors};
use proxyless_space::NetSpec;
use proxyless_tests::{OFFICIAL_NETS, assert_close, official_net_path, randomise_batch_norms};

const SIDE: usize = 224;

fn python() -> Option<String> {
    let python = runtime::python();
    if python.is_none() {
        assert!(
            std::env::var_os("PROXYLESS_REQUIRE_ONNX").is_none(),
            "PROXYLESS_REQUIRE_ONNX is set but Python cannot import onnx, onnxruntime, numpy \
             and safetensors"
        );
        eprintln!("skipped: Python cannot import onnx and onnxruntime");
    }
    python
}

#[test]
fn onnx_runtime_gives_our_logits_for_the_papers_nets() {
    let Some(python) = python() else { return };
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    let x = Tensor::<4>::random([2, 3, SIDE, SIDE], Distribution::Normal(0.0, 1.0), &device);
    let input = dir.path().join("x.safetensors");
    let mut sd = StateDict::default();
    sd.tensors.insert(
        "x".into(),
        StoredTensor {
            shape: x.dims().to_vec(),
            values: x.to_data().convert::<f32>().try_into_vec::<f32>().unwrap(),
        },
    );
    write_safetensors(&input, &sd).unwrap();
    for (name, _, _) in OFFICIAL_NETS {
        let spec = NetSpec::from_net_config_file(official_net_path(name)).unwrap();
        let mut weights = StateDict::from_net(&ProxylessNet::new(&spec, &device)).unwrap();
        randomise_batch_norms(&mut weights);
        // Logits of tens rather than of hundredths, so that 1e-4 of the largest is a tight bound.
        let classifier = weights.tensors.get_mut("classifier.linear.weight").unwrap();
        classifier.values.iter_mut().for_each(|v| *v *= 200.0);
        let net = weights
            .load_into(ProxylessNet::new(&spec, &device), name)
            .unwrap();
        let ours = net.forward(x.clone());
        for fold in [true, false] {
            let options = OnnxOptions {
                fold_batch_norm: fold,
                ..OnnxOptions::new(SIDE)
            };
            let model = dir.path().join(format!("{name}-{fold}.onnx"));
            proxyless_onnx::write(
                &proxyless_onnx::to_onnx(&spec, &weights, &options).unwrap(),
                &model,
            )
            .unwrap();
            let logits = dir.path().join(format!("{name}-{fold}-logits.safetensors"));
            runtime::forward(&python, &model, &input, &logits).unwrap();
            let theirs = read_safetensors(&logits)
                .unwrap()
                .tensors
                .remove("logits")
                .unwrap();
            assert_close(&format!("{name} (folded: {fold})"), &ours, &theirs);
        }
    }
}
