//! What a choice block chooses among: any module with a forward pass of a fixed rank.

use burn::module::ModuleDisplay;
use burn::prelude::*;
use proxyless_nn::MbConv;

/// A candidate operation of a [`ChoiceBlock`](crate::ChoiceBlock).
///
/// Every candidate of a block maps its input to an output of the same shape. A Zero
/// candidate ([`Candidate::is_zero`]) computes nothing: when it is sampled the block passes
/// its input through its shortcut, as in the paper.
pub trait Candidate<const D: usize>: Module + ModuleDisplay {
    /// The candidate's output.
    fn forward(&self, x: Tensor<D>) -> Tensor<D>;

    /// Whether this is the Zero op (its output is all zeros and costs nothing).
    fn is_zero(&self) -> bool {
        false
    }
}

/// The candidates of the paper's spaces: an MBConv, or `None` for Zero.
impl Candidate<4> for Option<MbConv> {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Some(op) => op.forward(x),
            None => x.zeros_like(),
        }
    }

    fn is_zero(&self) -> bool {
        self.is_none()
    }
}
