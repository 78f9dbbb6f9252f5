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
