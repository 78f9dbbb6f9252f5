//! A block that runs one of several candidates, chosen per step by the [`Paths`].

use burn::module::ModuleDisplay;
use burn::prelude::*;

use crate::{Candidate, Paths, PathsKind};

/// A choice block over candidates `M` (the paper's `MixedEdge` inside a
/// `MobileInvertedResidualBlock`).
///
/// Forward semantics: if the active candidate is Zero, the block returns its input (a skip);
/// otherwise the candidate's output `y`, plus the input when `shortcut` is set.
#[derive(Module, Debug)]
pub struct ChoiceBlock<M: Module> {
    /// The candidates, in the order of the architecture parameters.
    pub candidates: Vec<M>,
    /// Whether the input is added to the output (identity shortcut).
    pub shortcut: bool,
}

impl<M: Module + ModuleDisplay> ChoiceBlock<M> {
    /// A block over `candidates`.
    pub fn new(candidates: Vec<M>, shortcut: bool) -> Self {
        Self {
            candidates,
            shortcut,
        }
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.candidates.len()
    }

    /// Whether the block has no candidate.
    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }

    /// For every candidate, whether it is Zero.
    pub fn zero_candidates<const D: usize>(&self) -> Vec<bool>
    where
        M: Candidate<D>,
    {
        self.candidates.iter().map(|c| c.is_zero()).collect()
    }

    /// Runs block number `index` of `paths`.
    ///
    /// # Shapes
    /// - input and output: the candidates' (`[batch, channels, height, width]` for MBConv)
    pub fn forward<const D: usize>(&self, x: Tensor<D>, paths: &Paths<D>, index: usize) -> Tensor<D>
    where
        M: Candidate<D> + 'static,
    {
        let path = paths.block(index);
        let active = &self.candidates[path.active];
        if active.is_zero() {
            return x;
        }
        let y = match paths.kind() {
            PathsKind::Single => active.forward(x.clone()),
            PathsKind::Gated => {
                let one_hot: Vec<f32> = path
                    .involved
                    .iter()
                    .map(|&k| if k == path.active { 1.0 } else { 0.0 })
                    .collect();
                let gates =
                    Tensor::<1>::from_floats(one_hot.as_slice(), &x.device()).require_grad();
                let mut sum: Option<Tensor<D>> = None;
                for (slot, &k) in path.involved.iter().enumerate() {
                    // Inactive outputs only weigh their gate: computed without a graph (no
                    // gradient-tracked weights or input), so they hold no activations for a
                    // backward pass that never reaches them.
                    let out = if k == path.active {
                        self.candidates[k].forward(x.clone())
                    } else {
                        self.candidates[k]
                            .clone()
                            .no_grad()
                            .forward(x.clone().detach())
                    };
                    let gate = gates.clone().narrow(0, slot, 1).reshape([1; D]);
                    let term = out * gate;
                    sum = Some(match sum {
                        None => term,
                        Some(acc) => acc + term,
                    });
                }
                paths.record_gates(index, gates);
                sum.expect("a path involves its active candidate")
            }
            PathsKind::Probed => {
                let out = active.forward(x.clone());
                let probe = Tensor::<D>::zeros(out.shape(), &out.device()).require_grad();
                let block: Self = self.clone();
                paths.record_probe(
                    index,
                    probe.clone(),
                    x.clone().detach(),
                    out.clone().detach(),
                    Box::new(move |k, input| {
                        block.candidates[k]
                            .clone()
                            .no_grad()
                            .forward(input.detach())
                    }),
                );
                out + probe
            }
        };
        if self.shortcut { y + x } else { y }
    }
}
