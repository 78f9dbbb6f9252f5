//! `--devices`: the devices of a data-parallel search or training, named on the command line.
//!
//! A count (`--devices 2`: the backend's first two devices on this machine, in the order Burn
//! lists them), or a comma-separated list of `BACKEND:SELECTOR` (`cuda:0,cuda:1`), where the
//! selector is an index into that list or, for wgpu and vulkan, an adapter by kind: `default`
//! (wgpu's choice), `cpu` (a software adapter), `discrete-N`, `integrated-N`, `virtual-N`.
//! The first device holds the network and the optimiser; see `proxyless_nn::parallel`.

use anyhow::{Result, bail};
use burn::tensor::Device;
#[cfg(any(feature = "wgpu", feature = "vulkan"))]
use burn::tensor::DeviceKind;

use crate::backend::Backend;

/// The devices `spec` names on `backend`, each started once (a device that cannot start is an
/// error naming it); without `spec`, the backend's one default device.
pub fn parse(backend: Backend, spec: Option<&str>) -> Result<Vec<Device>> {
    let Some(spec) = spec.map(str::trim) else {
        return Ok(vec![backend.device()?]);
    };
    // The backend compiled in and started: an error naming it comes before any listing.
    let default = backend.device()?;
    let devices = match spec.parse::<usize>() {
        Ok(0) => bail!("--devices 0: a run needs at least one device"),
        Ok(1) => vec![default],
        Ok(count) => {
            let available = enumerate(backend);
            if count > available.len() {
                bail!(
                    "--devices {count}: backend '{backend}' has {} device(s) on this machine{}",
                    available.len(),
                    listing(&available)
                );
            }
            available.into_iter().take(count).collect()
        }
        Err(_) => spec
            .split(',')
            .map(|item| named(backend, item.trim()))
            .collect::<Result<Vec<_>>>()?,
    };
    for (i, device) in devices.iter().enumerate() {
        if devices[..i].contains(device) {
            bail!("--devices {spec}: {device:?} is listed twice");
        }
        backend.start(device)?;
    }
    Ok(devices)
}

/// One `BACKEND:SELECTOR` item.
fn named(backend: Backend, item: &str) -> Result<Device> {
    let Some((name, selector)) = item.split_once(':') else {
        bail!(
            "--devices: '{item}' is neither a count nor BACKEND:SELECTOR (e.g. {0}:0,{0}:1)",
            backend.name()
        );
    };
    if name != backend.name() {
        bail!(
            "--devices: '{item}' names backend '{name}', but this run uses '{backend}' \
             (--backend); every device must be of that backend"
        );
    }
    if let Ok(index) = selector.parse::<usize>() {
        let available = enumerate(backend);
        return match available.get(index) {
            Some(device) => Ok(device.clone()),
            None => bail!(
                "--devices: '{item}': backend '{backend}' has {} device(s) on this machine{}",
                available.len(),
                listing(&available)
            ),
        };
    }
    match adapter(backend, selector) {
        Some(device) => Ok(device),
        None => bail!(
            "--devices: '{item}': the selector is an index{}",
            if matches!(backend, Backend::Wgpu | Backend::Vulkan) {
                ", or one of default, cpu, discrete-N, integrated-N, virtual-N"
            } else {
                ""
            }
        ),
    }
}

/// A wgpu or Vulkan adapter chosen by kind.
#[cfg(any(feature = "wgpu", feature = "vulkan"))]
fn adapter(backend: Backend, selector: &str) -> Option<Device> {
    let numbered = |prefix: &str| {
        selector
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<usize>().ok())
    };
    let kind = match selector {
        "default" => DeviceKind::DefaultDevice,
        "cpu" => DeviceKind::Cpu,
        _ => {
            if let Some(n) = numbered("discrete-") {
                DeviceKind::DiscreteGpu(n)
            } else if let Some(n) = numbered("integrated-") {
                DeviceKind::IntegratedGpu(n)
            } else {
                DeviceKind::VirtualGpu(numbered("virtual-")?)
            }
        }
    };
    match backend {
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Some(Device::wgpu(kind)),
        #[cfg(feature = "vulkan")]
        Backend::Vulkan => Some(Device::vulkan(kind)),
        _ => None,
    }
}

/// Without a Vulkan-based backend compiled in, no adapter is chosen by kind.
#[cfg(not(any(feature = "wgpu", feature = "vulkan")))]
fn adapter(_backend: Backend, _selector: &str) -> Option<Device> {
    None
}

/// The devices of `backend` on this machine, as Burn lists them.
#[allow(unreachable_code, unused_variables)]
fn enumerate(backend: Backend) -> Vec<Device> {
    #[allow(unused_imports)]
    use burn::tensor::DeviceType;
    let listed = |t| Device::enumerate(t).into_vec();
    match backend {
        #[cfg(feature = "flex")]
        Backend::Flex => listed(DeviceType::Flex),
        #[cfg(feature = "ndarray")]
        Backend::Ndarray => listed(DeviceType::NdArray),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => listed(DeviceType::Wgpu),
        #[cfg(feature = "vulkan")]
        Backend::Vulkan => listed(DeviceType::Vulkan),
        #[cfg(feature = "cuda")]
        Backend::Cuda => listed(DeviceType::Cuda),
        // Burn lists LibTorch's devices as one: its CPU. Its GPUs are named by index
        // (`tch-cuda:1`) and started to find out whether they exist.
        #[cfg(feature = "tch")]
        #[allow(deprecated)]
        Backend::Tch => vec![Device::libtorch()],
        #[cfg(feature = "tch")]
        #[allow(deprecated)]
        Backend::TchCuda => (0..16).map(Device::libtorch_cuda).collect(),
        _ => Vec::new(),
    }
}

/// `: a, b, c` (the devices' debug names), or nothing for none.
fn listing(devices: &[Device]) -> String {
    if devices.is_empty() {
        return String::new();
    }
    let names: Vec<String> = devices.iter().map(|d| format!("{d:?}")).collect();
    format!(": {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lists_are_errors_naming_the_problem() {
        let backend = Backend::default_compiled().unwrap();
        let message = |spec: &str| parse(backend, Some(spec)).unwrap_err().to_string();
        assert!(message("0").contains("at least one device"));
        assert!(message("1000").contains("device(s) on this machine"));
        assert!(message("nonsense").contains("neither a count nor BACKEND:SELECTOR"));
        assert!(message("elsewhere:0").contains("names backend 'elsewhere'"));
        let name = backend.name();
        assert!(message(&format!("{name}:99")).contains("device(s) on this machine"));
        assert!(message(&format!("{name}:0,{name}:0")).contains("listed twice"));
        assert!(message(&format!("{name}:first")).contains("the selector is an index"));
        assert_eq!(parse(backend, Some("1")).unwrap().len(), 1);
        assert_eq!(parse(backend, Some(&format!("{name}:0"))).unwrap().len(), 1);
    }
}

/// Data parallelism on two device handles of one backend that this machine has: wgpu's
/// default adapter and its CPU adapter, separate wgpu devices even where both are Mesa's
/// software driver (tensors move between them by copies). Built where the test build holds
/// wgpu.
#[cfg(all(test, feature = "wgpu"))]
mod two_wgpu_devices {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::nn::conv::{Conv2d, Conv2dConfig};
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{ModuleOptimizer, SgdConfig, momentum::MomentumConfig};
    use burn::prelude::*;
    use burn::tensor::DeviceKind;
    use proxyless_nn::parallel::descend_sharded;

    #[derive(Module, Debug)]
    struct Tiny {
        conv: Conv2d,
        fc: Linear,
    }

    impl Tiny {
        fn forward(&self, x: Tensor<4>) -> Tensor<2> {
            let x = burn::tensor::activation::relu(self.conv.forward(x));
            let [n, c, h, w] = x.dims();
            self.fc.forward(x.reshape([n, c * h * w]))
        }
    }

    struct Values(Vec<f32>);

    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let data = param.val().into_data().convert::<f32>();
            self.0.extend(data.iter::<f32>());
        }
    }

    fn values(m: &Tiny) -> Vec<f32> {
        let mut v = Values(Vec::new());
        m.visit(&mut v);
        v.0
    }

    fn sgd() -> ModuleOptimizer {
        let momentum = MomentumConfig::new().with_momentum(0.9).with_nesterov(true);
        SgdConfig::new()
            .with_momentum(Some(momentum.with_dampening(0.0)))
            .init()
    }

    /// Step `step`'s batch of 8 images and labels, made on the host.
    fn batch(step: usize) -> (Vec<f32>, Vec<i64>) {
        let pixels = (0..8 * 64)
            .map(|i| ((i * 37 + step * 11) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let labels = (0..8).map(|i| ((i * 7 + step * 3) % 10) as i64).collect();
        (pixels, labels)
    }

    fn on(device: &Device, pixels: &[f32], labels: &[i64]) -> (Tensor<4>, Tensor<1, Int>) {
        let n = labels.len();
        (
            Tensor::<1>::from_floats(pixels, device).reshape([n, 1, 8, 8]),
            Tensor::from_ints(labels, device),
        )
    }

    #[test]
    fn two_devices_with_shards_of_b_step_as_one_with_a_batch_of_2b() {
        let first = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
        let second = Device::wgpu(DeviceKind::Cpu).autodiff();
        assert_ne!(first, second, "two device handles");
        first.seed(5);
        let start = Tiny {
            conv: Conv2dConfig::new([1, 4], [3, 3]).init(&first),
            fc: LinearConfig::new(4 * 6 * 6, 10).init(&first),
        };
        let (mut one, mut two) = (start.clone(), start);
        let (mut optim_one, mut optim_two) = (sgd(), sgd());
        for step in 0..3 {
            let (pixels, labels) = batch(step);
            let whole = vec![on(&first, &pixels, &labels)];
            (one, _) = descend_sharded(one, &mut optim_one, 0.05, whole, 0.1, |m, x| m.forward(x));
            let shards = vec![
                on(&first, &pixels[..4 * 64], &labels[..4]),
                on(&second, &pixels[4 * 64..], &labels[4..]),
            ];
            (two, _) = descend_sharded(two, &mut optim_two, 0.05, shards, 0.1, |m, x| m.forward(x));
        }
        // As on flex (crates/nn/tests/parallel.rs): only the order of the float sums differs.
        let (a, b) = (values(&one), values(&two));
        let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-5 * scale, "{x} vs {y}");
        }
        // The weights stay on the first device.
        let fc = two.fc.weight.val();
        assert_eq!(fc.device().without_autodiff(), first.without_autodiff());
    }
}
