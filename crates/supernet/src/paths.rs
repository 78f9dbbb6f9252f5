//! Which candidate each choice block runs in one forward pass, and what an architecture step
//! records to compute the gate gradients ∂L/∂g_j = ⟨o_j, ∂L/∂y⟩ afterwards.

use std::cell::RefCell;

use burn::prelude::*;
use burn::tensor::Gradients;

use crate::ArchMode;

/// The sampled paths of one choice block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPath {
    /// The candidate whose output the block passes on (and whose weights get gradients).
    pub active: usize,
    /// Candidates whose gate gradients the step needs: the active one alone for single-path
    /// steps, the two sampled ones in mode `two`, all of them in `full` and `full_v2`.
    pub involved: Vec<usize>,
}

/// How the blocks run their involved candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathsKind {
    /// Only the active candidate runs (weight steps, evaluation, REINFORCE).
    Single,
    /// Every involved candidate runs and is weighted by a binary gate `g` (one-hot on the
    /// active candidate) whose gradient autodiff delivers (modes `two` and `full`). Inactive
    /// outputs are detached, as in the paper's code.
    Gated,
    /// Only the active candidate runs; a zero "probe" added to the block's output captures
    /// ∂L/∂y, and the other candidates are recomputed without gradient after the backward
    /// pass (mode `full_v2`: the memory of one path).
    Probed,
}

/// What a gated or probed block left for the gate gradients (one per block and step, so the
/// size difference of the variants does not matter).
#[allow(clippy::large_enum_variant)]
enum Record<const D: usize> {
    Gates { block: usize, gates: Tensor<1> },
    Probe(Box<ProbeRecord<D>>),
}

/// What a probed block keeps: its probe, input and output, and how to rerun a candidate.
struct ProbeRecord<const D: usize> {
    block: usize,
    probe: Tensor<D>,
    input: Tensor<D>,
    output: Tensor<D>,
    recompute: Box<dyn Fn(usize, Tensor<D>) -> Tensor<D>>,
}

/// The gate gradients of one block: `grads[s] = ⟨o_k, ∂L/∂y⟩` for `k = involved[s]`.
#[derive(Debug, Clone, PartialEq)]
pub struct GateGradients {
    /// The choice block.
    pub block: usize,
    /// ∂L/∂g over the block's involved candidates, in their order.
    pub grads: Vec<f64>,
}

/// The paths of every choice block for one forward pass (and, for architecture steps, the
/// records the gate gradients are computed from).
pub struct Paths<const D: usize> {
    kind: PathsKind,
    blocks: Vec<BlockPath>,
    records: RefCell<Vec<Record<D>>>,
}

impl<const D: usize> Paths<D> {
    /// One path per block: block `b` runs candidate `active[b]`.
    pub fn single(active: &[usize]) -> Self {
        let blocks = active
            .iter()
            .map(|&a| BlockPath {
                active: a,
                involved: vec![a],
            })
            .collect();
        Self::new(PathsKind::Single, blocks)
    }

    /// The paths of an architecture step in `mode`.
    pub fn arch(blocks: Vec<BlockPath>, mode: ArchMode) -> Self {
        let kind = match mode {
            ArchMode::Two | ArchMode::Full => PathsKind::Gated,
            ArchMode::FullV2 => PathsKind::Probed,
        };
        Self::new(kind, blocks)
    }

    fn new(kind: PathsKind, blocks: Vec<BlockPath>) -> Self {
        Self {
            kind,
            blocks,
            records: RefCell::new(Vec::new()),
        }
    }

    /// How the blocks run.
    pub fn kind(&self) -> PathsKind {
        self.kind
    }

    /// The paths of block `index`.
    ///
    /// # Panics
    /// If the model has more choice blocks than the paths.
    pub fn block(&self, index: usize) -> &BlockPath {
        &self.blocks[index]
    }

    /// Every block's paths.
    pub fn blocks(&self) -> &[BlockPath] {
        &self.blocks
    }

    /// The active candidate of every block.
    pub fn active(&self) -> Vec<usize> {
        self.blocks.iter().map(|b| b.active).collect()
    }

    pub(crate) fn record_gates(&self, block: usize, gates: Tensor<1>) {
        self.records
            .borrow_mut()
            .push(Record::Gates { block, gates });
    }

    pub(crate) fn record_probe(
        &self,
        block: usize,
        probe: Tensor<D>,
        input: Tensor<D>,
        output: Tensor<D>,
        recompute: Box<dyn Fn(usize, Tensor<D>) -> Tensor<D>>,
    ) {
        self.records
            .borrow_mut()
            .push(Record::Probe(Box::new(ProbeRecord {
                block,
                probe,
                input,
                output,
                recompute,
            })));
    }

    /// After `loss.backward()`, the gate gradients of every block that ran gated or probed
    /// (blocks whose active candidate is Zero were bypassed and have none). Every block's
    /// gradients are gathered into one tensor on the device and read to the host once.
    pub fn gate_gradients(&self, grads: &Gradients) -> Vec<GateGradients> {
        let records = self.records.borrow();
        // Per record: its block, its number of gradients, and their tensor (none: all zero,
        // the loss did not reach the block).
        let parts: Vec<(usize, usize, Option<Tensor<1>>)> = records
            .iter()
            .map(|record| match record {
                Record::Gates { block, gates } => (*block, gates.dims()[0], gates.grad(grads)),
                Record::Probe(record) => {
                    let path = &self.blocks[record.block];
                    let n = path.involved.len();
                    let grads = record.probe.grad(grads).map(|dy| {
                        let products = path
                            .involved
                            .iter()
                            .map(|&k| {
                                let o = if k == path.active {
                                    record.output.clone()
                                } else {
                                    (record.recompute)(k, record.input.clone()).detach()
                                };
                                inner_product(o, dy.clone())
                            })
                            .collect();
                        Tensor::cat(products, 0)
                    });
                    (record.block, n, grads)
                }
            })
            .collect();
        let computed: Vec<Tensor<1>> = parts.iter().filter_map(|(_, _, t)| t.clone()).collect();
        let mut values = if computed.is_empty() {
            Vec::new()
        } else {
            Tensor::cat(computed, 0).into_data().iter::<f64>().collect()
        }
        .into_iter();
        parts
            .into_iter()
            .map(|(block, n, t)| GateGradients {
                block,
                grads: match t {
                    Some(_) => values.by_ref().take(n).collect(),
                    None => vec![0.0; n],
                },
            })
            .collect()
    }
}

/// `⟨a, b⟩`, the sum of the element-wise product, as a one-element tensor on `b`'s device.
fn inner_product<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    let device = b.device();
    (a.to_device(&device) * b).sum()
}
