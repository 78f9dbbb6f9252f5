//! The 1x1 convolution (stride 1, no padding, one group) as a Flex backend extension: Flex's
//! own forward, and a backward of two matrix products.
//!
//! With `x[b]` as a `[in, h·w]` matrix and the weight as `[out, in]`, the input gradient is
//! `wᵀ · dy[b]` (one batched product) and the weight gradient `Σ_b dy[b] · x[b]ᵀ`, computed
//! as one product of `dy` laid out as `[out, batch·h·w]` with `x` as `[batch·h·w, in]`. Burn's
//! generic backward computes both as convolutions, 2 to 5 times slower on these shapes.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{FloatTensorOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::prelude::*;
use burn::tensor::Shape;

use crate::pointwise::options;

/// [`crate::pointwise_conv2d`] on a Flex device.
pub fn pointwise_conv2d(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as PointwiseConv>::pointwise_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
    ))
}

/// A 1x1 convolution with a hand-written backward pass.
#[backend_extension(Flex, Autodiff)]
pub trait PointwiseConv: Backend {
    /// `conv2d(x, weight)` for a `[out, in, 1, 1]` weight, stride 1, no padding, one group.
    fn pointwise_conv2d(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl PointwiseConv for Flex {
    fn pointwise_conv2d(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        Flex::conv2d(x, weight, None, options())
    }
}

impl<C: CheckpointStrategy> PointwiseConv for Autodiff<Flex, C> {
    fn pointwise_conv2d(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        super::convolution_op::<C, _, _>(PointwiseBackward, x, weight, (), |x, w| {
            Flex::conv2d(x, w, None, options())
        })
    }
}

/// The backward step of the 1x1 convolution.
#[derive(Debug)]
struct PointwiseBackward;

impl Backward<Flex, 2> for PointwiseBackward {
    type State = (NodeId, NodeId, ());

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let output_grad = grads.consume::<Flex>(&ops.node);
        let (x_state, weight_state, ()) = ops.state;
        let x: FlexTensor = checkpointer.retrieve_node_output(x_state);
        let weight: FlexTensor = checkpointer.retrieve_node_output(weight_state);
        let [batch, in_channels, height, width] = super::dims4(&x);
        let [out_channels, _, _, _] = super::dims4(&weight);
        let plane = height * width;
        let dy = Flex::float_reshape(output_grad, Shape::new([batch, out_channels, plane]));

        if let Some(node) = node_x {
            // [1, in, out] · [batch, out, plane] -> [batch, in, plane]
            let weight_t = Flex::float_swap_dims(
                Flex::float_reshape(weight, Shape::new([1, out_channels, in_channels])),
                1,
                2,
            );
            let grad = Flex::float_matmul(weight_t, dy.clone());
            let grad = Flex::float_reshape(grad, Shape::new([batch, in_channels, height, width]));
            grads.register::<Flex>(node.id, grad);
        }
        if let Some(node) = node_weight {
            // [out, batch·plane] · [batch·plane, in] -> [out, in]
            let dy_rows = Flex::float_reshape(
                Flex::float_swap_dims(dy, 0, 1),
                Shape::new([out_channels, batch * plane]),
            );
            let x_rows = Flex::float_reshape(
                Flex::float_swap_dims(
                    Flex::float_reshape(x, Shape::new([batch, in_channels, plane])),
                    1,
                    2,
                ),
                Shape::new([batch * plane, in_channels]),
            );
            let grad = Flex::float_matmul(dy_rows, x_rows);
            let grad = Flex::float_reshape(grad, Shape::new([out_channels, in_channels, 1, 1]));
            grads.register::<Flex>(node.id, grad);
        }
    }
}
