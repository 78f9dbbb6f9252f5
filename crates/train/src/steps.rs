//! One training step and one evaluation of a fixed network, and batches as tensors (which
//! the search's steps use too).

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use burn::tensor::DType;
use proxyless_data::{Batch, Loader};
use proxyless_nn::Network;
use proxyless_nn::parallel::{Shard, descend_sharded, shard_ranges};
use proxyless_nn::step::{PendingStats, read_stats};
use proxyless_plumbing::EpochTotals;

use crate::metrics::Evaluation;

/// A batch as tensors on `device`: images `[batch, channels, height, width]`, copied as bytes
/// and normalised there (`(pixel / 255 - mean) / std` per channel, as
/// [`Batch::normalised`] computes it on the host), and labels.
pub fn batch_tensors(batch: &Batch, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let channels = batch.shape[1];
    let x = device_bytes(&batch.pixels, device)
        .reshape(batch.shape)
        .float();
    let stat =
        |values: &[f32]| Tensor::<1>::from_floats(values, device).reshape([1, channels, 1, 1]);
    let x = (x / 255.0 - stat(&batch.normalize.mean)) / stat(&batch.normalize.std);
    let y = Tensor::<1, Int>::from_ints(batch.labels.as_slice(), device);
    (x, y)
}

/// A batch split in order into one shard per device (as even as possible; see
/// [`shard_ranges`]), each shard's tensors made on its own device by [`batch_tensors`]. Devices
/// beyond the batch's size get no shard. One device: the batch's tensors on it.
pub fn batch_shards(batch: &Batch, devices: &[Device]) -> Vec<Shard> {
    if let [device] = devices {
        return vec![batch_tensors(batch, device)];
    }
    let images = batch.shape[0];
    let per_image = batch.pixels.len() / images.max(1);
    shard_ranges(images, devices.len())
        .into_iter()
        .zip(devices)
        .filter(|(range, _)| !range.is_empty())
        .map(|(range, device)| {
            let shard = Batch {
                pixels: batch.pixels[range.start * per_image..range.end * per_image].to_vec(),
                labels: batch.labels[range.clone()].to_vec(),
                shape: [range.len(), batch.shape[1], batch.shape[2], batch.shape[3]],
                normalize: batch.normalize.clone(),
            };
            batch_tensors(&shard, device)
        })
        .collect()
}

/// Reads the loss and accuracy of the `pending` steps into `totals`, in order, in one transfer
/// ([`read_stats`]), emptying `pending`. Each step comes with what names it (its step number, its
/// learning rate); the first whose loss is not finite is returned with its name instead, for the
/// caller's error.
pub fn read_pending<P>(
    pending: &mut Vec<(PendingStats, P)>,
    totals: &mut EpochTotals,
) -> std::result::Result<(), (f64, P)> {
    let (stats, names): (Vec<PendingStats>, Vec<P>) = pending.drain(..).unzip();
    for (stats, name) in read_stats(stats).into_iter().zip(names) {
        if !stats.loss.is_finite() {
            return Err((stats.loss, name));
        }
        totals.add(stats.loss, stats.correct, stats.total);
    }
    Ok(())
}

/// `bytes` as an integer tensor on `device`, copied at one byte per value: as a `u8` tensor
/// where the device has them, else (WGSL, wgpu's default shading language, has no 8-bit
/// integers) four to an `i32`, taken apart there by shifts and masks.
pub fn device_bytes(bytes: &[u8], device: &Device) -> Tensor<1, Int> {
    let n = bytes.len();
    if device.supports_dtype(DType::U8) {
        return Tensor::from_data(TensorData::new(bytes.to_vec(), [n]), (device, DType::U8));
    }
    bytes_packed_in_words(bytes, device)
}

/// `bytes` copied to `device` four to an `i32` and taken apart there: for devices without
/// `u8` tensors.
fn bytes_packed_in_words(bytes: &[u8], device: &Device) -> Tensor<1, Int> {
    let n = bytes.len();
    let words: Vec<i32> = bytes
        .chunks(4)
        .map(|chunk| {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            i32::from_le_bytes(word)
        })
        .collect();
    let packed = Tensor::<1, Int>::from_data(
        TensorData::new(words, [n.div_ceil(4)]),
        (device, DType::I32),
    );
    // Byte k of each word (little-endian: the k-th of its four values); the mask also clears
    // the copies of the sign bit that shifting a negative word brings in.
    let lanes = (0..4)
        .map(|k| {
            packed
                .clone()
                .bitwise_right_shift_scalar(8 * k)
                .bitwise_and_scalar(0xFF)
        })
        .collect();
    Tensor::stack::<2>(lanes, 1)
        .reshape([4 * n.div_ceil(4)])
        .slice(0..n)
}

/// One training step of `net`: forward, label-smoothed cross-entropy, backward, and an
/// optimiser step at `lr`, on one shard per device (data parallel when there are several:
/// [`descend_sharded`]).
pub fn train_step(
    net: Network,
    optim: &mut ModuleOptimizer,
    lr: f64,
    shards: Vec<Shard>,
    label_smoothing: f32,
) -> (Network, PendingStats) {
    descend_sharded(net, optim, lr, shards, label_smoothing, |net, x| {
        net.forward(x)
    })
}

/// Evaluates `net` in inference mode (BatchNorm on its running statistics, no dropout) on
/// every batch of `loader`, on `device` (an autodiff device is stripped). `on_batch` is
/// called after each batch, for progress. An image that cannot be read is an error.
pub fn evaluate(
    net: &Network,
    loader: &Loader,
    device: &Device,
    classes: usize,
    mut on_batch: impl FnMut(),
) -> Result<Evaluation, proxyless_data::Error> {
    let net = if device.is_autodiff() {
        net.valid()
    } else {
        net.clone()
    };
    let device = device.clone().without_autodiff();
    let mut evaluation = Evaluation::new(classes);
    for batch in loader.epoch(0) {
        let batch = batch?;
        let (x, _) = batch_tensors(&batch, &device);
        let logits = net.forward(x);
        let values = logits
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("logits convert to f32");
        evaluation.add(&values, &batch.labels);
        on_batch();
    }
    Ok(evaluation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_packed_in_words_come_back_as_they_were() {
        let device = Device::flex();
        // Every byte value, high bits set included, and a length that is no multiple of 4.
        let bytes: Vec<u8> = (0..=255u8).chain([255, 0, 129]).rev().collect();
        let unpacked = bytes_packed_in_words(&bytes, &device);
        let values: Vec<i64> = unpacked.into_data().iter::<i64>().collect();
        let expected: Vec<i64> = bytes.iter().map(|&b| b as i64).collect();
        assert_eq!(values, expected);
        let direct: Vec<i64> = device_bytes(&bytes, &device)
            .into_data()
            .iter::<i64>()
            .collect();
        assert_eq!(direct, expected);
    }
}
