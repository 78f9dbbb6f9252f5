//! Timing layers and networks: warm-up, repeated runs, device synchronisation.

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use proxyless_latency::{LatencyEntry, LatencyKey, LatencyTable};
use proxyless_nn::ProxylessNet;
use proxyless_space::{NetSpec, SearchSpace};

use crate::{Measurement, space_layers};

/// How to time: batch size, warm-up runs, timed runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileSettings {
    /// Images per forward pass (the paper's mobile tables: 1).
    pub batch: usize,
    /// Untimed runs first (kernel compilation, caches, autotuning).
    pub warmup: usize,
    /// Timed samples.
    pub runs: usize,
    /// Forward passes per sample, queued back to back with one synchronisation at the end;
    /// a sample is their time divided by `group`. On asynchronous GPU backends one
    /// synchronisation costs about as much as a small layer, so timing every layer with its
    /// own would make a table whose sum overestimates a network several times over; grouping
    /// amortises it. On CPU backends, which finish each operation before returning, 1 suffices.
    pub group: usize,
}

impl Default for ProfileSettings {
    fn default() -> Self {
        Self {
            batch: 1,
            warmup: 10,
            runs: 50,
            group: 1,
        }
    }
}

impl ProfileSettings {
    /// The group size that suits `device`: 10 on asynchronous (GPU) backends, 1 on the CPU
    /// backends.
    pub fn group_for(device: &Device) -> usize {
        if is_asynchronous(device) { 10 } else { 1 }
    }
}

/// Whether `device` queues work and returns before it is done (the CubeCL GPU backends and
/// LibTorch on CUDA), rather than computing each operation when it is called.
pub fn is_asynchronous(device: &Device) -> bool {
    let name = format!("{device:?}");
    !(name.contains("Flex") || name.contains("NdArray") || name.contains("LibTorch(Cpu)"))
}

/// Times `forward` on `device`: each sample runs it `group` times back to back and ends when
/// the device has finished its work.
fn time(
    device: &Device,
    settings: &ProfileSettings,
    mut forward: impl FnMut() -> Tensor<2>,
) -> Measurement {
    let sync = || device.sync().expect("the device finishes its work");
    let group = settings.group.max(1);
    for _ in 0..settings.warmup {
        let y = forward();
        sync();
        drop(y);
    }
    let samples: Vec<f64> = (0..settings.runs.max(1))
        .map(|_| {
            let start = Instant::now();
            let outputs: Vec<Tensor<2>> = (0..group).map(|_| forward()).collect();
            sync();
            let ms = start.elapsed().as_secs_f64() * 1e3 / group as f64;
            drop(outputs);
            ms
        })
        .collect();
    Measurement::from_samples(&samples).expect("at least one run")
}

/// Times every distinct layer of `space` at its resolution on `device` (an inference device:
/// BatchNorm uses running statistics), calling `progress(done, total, key)` after each.
pub fn profile_space(
    space: &SearchSpace,
    device: &Device,
    settings: &ProfileSettings,
    mut progress: impl FnMut(usize, usize, &LatencyKey),
) -> Vec<(LatencyKey, Measurement)> {
    let layers = space_layers(space, device);
    let total = layers.len();
    layers
        .into_iter()
        .enumerate()
        .map(|(i, (key, layer, [channels, side]))| {
            let x = Tensor::<4>::random(
                [settings.batch, channels, side, side],
                Distribution::Normal(0.0, 1.0),
                device,
            );
            let m = time(device, settings, || layer.forward(x.clone()));
            progress(i + 1, total, &key);
            (key, m)
        })
        .collect()
}

/// Times every distinct layer of `space` on `device` (see [`profile_space`]) into a table in
/// the official format, whose header records `label` (the backend), the device, space,
/// resolution, batch, dtype, warm-up runs and Burn version. `origin` names the table in errors.
pub fn profile_table(
    space: &SearchSpace,
    device: &Device,
    settings: &ProfileSettings,
    label: &str,
    origin: &str,
    progress: impl FnMut(usize, usize, &LatencyKey),
) -> LatencyTable {
    let entries = profile_space(space, device, settings, progress)
        .into_iter()
        .map(|(key, m)| {
            let entry = LatencyEntry {
                count: m.count as u64,
                mean: m.mean,
                std: m.std,
            };
            (key, entry)
        });
    let meta = [
        ("backend", label.to_string()),
        ("device", format!("{device:?}")),
        ("space", space.name.clone()),
        ("resolution", space.input.resolution.to_string()),
        ("batch", settings.batch.to_string()),
        ("dtype", "f32".to_string()),
        ("warmup", settings.warmup.to_string()),
        ("group", settings.group.to_string()),
        ("burn", "0.22.1".to_string()),
        ("unit", "ms".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    LatencyTable::from_entries(origin, meta, entries)
}

/// Times a whole network end to end at `resolution` on `device`.
pub fn measure_net(
    spec: &NetSpec,
    resolution: usize,
    device: &Device,
    settings: &ProfileSettings,
) -> Measurement {
    measure_forward(
        &ProxylessNet::new(spec, device),
        resolution,
        device,
        settings,
    )
}

/// Times the forward pass of `net` (already on `device`, in inference mode) on random
/// images of side `resolution`: for trained or BatchNorm-folded networks.
pub fn measure_forward(
    net: &ProxylessNet,
    resolution: usize,
    device: &Device,
    settings: &ProfileSettings,
) -> Measurement {
    let channels = net.first_conv.conv.weight.val().dims()[1];
    let x = Tensor::<4>::random(
        [settings.batch, channels, resolution, resolution],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    time(device, settings, || net.forward(x.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proxyless_space::presets;

    #[test]
    fn profiles_every_candidate_of_a_compact_space() {
        let space = presets::load("fmnist").unwrap();
        let device = Device::default();
        let settings = ProfileSettings {
            batch: 1,
            warmup: 1,
            runs: 2,
            group: 2,
        };
        let mut calls = 0;
        let table = profile_space(&space, &device, &settings, |_, _, _| calls += 1);
        // 9 choice blocks x 6 MBConv candidates, some positions sharing keys, plus 4 fixed.
        let distinct_positions = 7; // 14x14 16->16 appears once; 7x7 24->24 twice; 4x4 40->40 twice
        assert_eq!(table.len(), distinct_positions * 6 + 4);
        assert_eq!(calls, table.len());
        assert!(table.iter().all(|(_, m)| m.count == 2 && m.mean > 0.0));
    }
}
