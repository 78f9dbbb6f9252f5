//! Counting a module's trainable parameters and BatchNorm buffers, the way PyTorch reports them.
//!
//! [`Module::num_params`] counts every float tensor of a module, BatchNorm running statistics
//! included; PyTorch's `parameters()` leaves those out. Burn visits running statistics like
//! parameters, so they are told apart by their field names.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

/// Field names of the running statistics that Burn's `BatchNorm` keeps.
const BUFFER_FIELDS: [&str; 2] = ["running_mean", "running_var"];

/// Sums tensor sizes, split into buffers and trainable parameters.
#[derive(Default)]
struct Counter {
    path: Vec<String>,
    trainable: u64,
    buffers: u64,
}

impl ModuleVisitor for Counter {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let n = param.lazy_shape().num_elements() as u64;
        match self.path.last() {
            Some(field) if BUFFER_FIELDS.contains(&field.as_str()) => self.buffers += n,
            _ => self.trainable += n,
        }
    }
}

fn count<M: Module>(module: &M) -> Counter {
    let mut counter = Counter::default();
    module.visit(&mut counter);
    counter
}

/// Number of trainable parameters: PyTorch's `sum(p.numel() for p in model.parameters())`.
pub fn count_trainable<M: Module>(module: &M) -> u64 {
    count(module).trainable
}

/// Number of values in BatchNorm running statistics (PyTorch's buffers, less the
/// `num_batches_tracked` counters).
pub fn count_buffers<M: Module>(module: &M) -> u64 {
    count(module).buffers
}

/// Collects every float tensor's values, in the bits of its elements, by module path.
#[derive(Default)]
struct Bits {
    path: Vec<String>,
    tensors: Vec<(String, Vec<u32>)>,
}

impl ModuleVisitor for Bits {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let data = param.val().into_data().convert::<f32>();
        let bits = data
            .as_slice::<f32>()
            .expect("converted to f32")
            .iter()
            .map(|v| v.to_bits())
            .collect();
        self.tensors.push((self.path.join("."), bits));
    }
}

/// Every float tensor of `module` (parameters and running statistics) as the bit patterns of
/// its values, keyed by module path in visiting order: two modules hold bitwise the same
/// values exactly when these are equal. Resume and rerun tests compare weights with it.
pub fn float_bits<M: Module>(module: &M) -> Vec<(String, Vec<u32>)> {
    settle_running_stats(module);
    let mut bits = Bits::default();
    module.visit(&mut bits);
    bits.tensors
}

/// Merges the BatchNorm running statistics' latest updates into the values that saving and
/// visiting a module read. Burn keeps a module's newest running-statistics update aside (per
/// thread) until the next read through `value_sync`, and a record or a visitor reads the value
/// before it: a checkpoint saved without this lacks the last training step's update, and a
/// resumed run diverges from the uninterrupted one. Call it before saving a module.
pub fn settle_running_stats<M: Module>(module: &M) {
    // `valid` synchronises every running state it meets (they are shared with `module`); the
    // validation copy it returns is not needed.
    drop(module.valid());
}

/// A fingerprint of every float tensor's values and module path (64-bit FNV-1a over
/// [`float_bits`], in hex): equal for two modules holding bitwise the same values, and
/// written beside checkpoints so that two runs can be compared without loading either.
/// Not a cryptographic hash.
pub fn weights_fingerprint<M: Module>(module: &M) -> String {
    let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
        }
    };
    for (path, bits) in float_bits(module) {
        eat(path.as_bytes());
        eat(&(bits.len() as u64).to_le_bytes());
        for v in bits {
            eat(&v.to_le_bytes());
        }
    }
    format!("{hash:016x}")
}
