//! The training BatchNorm (optionally with ReLU6) as a Flex backend extension: batch
//! statistics and normalisation by [`super::batch_norm_kernels`], with a hand-written autodiff
//! step.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::prelude::*;

pub use super::batch_norm_kernels::Activation;
use super::batch_norm_kernels::{self as kernels, Affine, Shape3};
use super::{F32View, flex_tensor};

/// The batch statistics of `x` (`[batch, channels, ...]`, no autodiff): `[2, channels]`, the
/// means then the biased variances.
pub fn statistics(x: Tensor<4>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as BatchNormStatistics>::batch_norm_statistics(
        x.into_dispatch(),
    ))
}

/// `activation(γ·(x − μ)/√(var + ε) + β)` with `stats` from [`statistics`] of the same `x`,
/// differentiable in `x`, `γ` and `β` as the training BatchNorm (the statistics' own
/// dependence on `x` is in the gradient).
pub fn normalize(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    stats: Tensor<2>,
    epsilon: f64,
    activation: Activation,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as BatchNormTrain>::batch_norm_normalize(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        stats.into_dispatch(),
        epsilon,
        activation,
    ))
}

/// Per-channel batch statistics.
#[backend_extension(Flex)]
pub trait BatchNormStatistics: Backend {
    /// `[2, channels]`: means, then biased variances.
    fn batch_norm_statistics(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl BatchNormStatistics for Flex {
    fn batch_norm_statistics(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = shape3(&x);
        let stats = kernels::statistics(&shape, F32View::new(&x).values());
        flex_tensor(stats, vec![2, shape.channels])
    }
}

/// The normalisation of the training BatchNorm, and the activation after it.
#[backend_extension(Flex, Autodiff)]
pub trait BatchNormTrain: Backend {
    /// `activation(γ·(x − μ)/√(var + ε) + β)` with `stats = [means; variances]` of `x`.
    fn batch_norm_normalize(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> FloatTensor<Self>;
}

impl BatchNormTrain for Flex {
    fn batch_norm_normalize(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> FloatTensor<Self> {
        let shape = shape3(&x);
        let y = with_affine([&gamma, &beta, &stats], epsilon, |affine| {
            kernels::normalize(&shape, F32View::new(&x).values(), affine, activation)
        });
        flex_tensor(y, x.layout().shape().to_vec())
    }
}

impl<C: CheckpointStrategy> BatchNormTrain for Autodiff<Flex, C> {
    fn batch_norm_normalize(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> FloatTensor<Self> {
        let stats = stats.into_primitive();
        let forward = |x, gamma, beta, stats| {
            Flex::batch_norm_normalize(x, gamma, beta, stats, epsilon, activation)
        };
        let prepared = NormalizeBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        match prepared {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let beta_state = prep.checkpoint(&beta);
                let out = forward(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    stats.clone(),
                );
                let state = NormalizeState {
                    x: x_state,
                    gamma: gamma_state,
                    beta: beta_state,
                    stats,
                    epsilon,
                    activation,
                };
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
                stats,
            )),
        }
    }
}

/// The backward step of the normalisation.
#[derive(Debug)]
struct NormalizeBackward;

/// What the backward step needs: the checkpointed inputs (the output is recomputed where the
/// activation needs it), the statistics and the settings.
#[derive(Debug, Clone)]
struct NormalizeState {
    x: NodeId,
    gamma: NodeId,
    beta: NodeId,
    stats: FlexTensor,
    epsilon: f64,
    activation: Activation,
}

impl Backward<Flex, 3> for NormalizeBackward {
    type State = NormalizeState;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let output_grad = grads.consume::<Flex>(&ops.node);
        let state = ops.state;
        let x: FlexTensor = checkpointer.retrieve_node_output(state.x);
        let gamma: FlexTensor = checkpointer.retrieve_node_output(state.gamma);
        let beta: FlexTensor = checkpointer.retrieve_node_output(state.beta);
        let shape = shape3(&x);
        let parameters = [&gamma, &beta, &state.stats];
        let (x_grad, gamma_grad, beta_grad) = with_affine(parameters, state.epsilon, |affine| {
            kernels::gradients(
                &shape,
                F32View::new(&x).values(),
                affine,
                state.activation,
                F32View::new(&output_grad).values(),
            )
        });
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex_tensor(x_grad, x.layout().shape().to_vec()));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, flex_tensor(gamma_grad, vec![shape.channels]));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, flex_tensor(beta_grad, vec![shape.channels]));
        }
    }
}

/// Runs `f` on the [`Affine`] view of `[γ, β, stats]`.
fn with_affine<R>(
    [gamma, beta, stats]: [&FlexTensor; 3],
    epsilon: f64,
    f: impl FnOnce(Affine) -> R,
) -> R {
    let [gamma, beta, stats] = [gamma, beta, stats].map(F32View::new);
    f(Affine {
        gamma: gamma.values(),
        beta: beta.values(),
        stats: stats.values(),
        epsilon,
    })
}

fn shape3(x: &FlexTensor) -> Shape3 {
    let dims = x.layout().shape().to_vec();
    assert!(
        dims.len() >= 2,
        "BatchNorm expects [batch, channels, ...], got {dims:?}"
    );
    Shape3 {
        batch: dims[0],
        channels: dims[1],
        plane: dims[2..].iter().product(),
    }
}
