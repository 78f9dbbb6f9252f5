//! The Flex backend extensions: Flex's own depthwise forward, with [`depthwise_kernels`] as its
//! backward; the training BatchNorm ([`batch_norm`]); the 1x1 convolution ([`pointwise`]).

pub mod batch_norm;
mod batch_norm_kernels;
mod depthwise_kernels;
pub mod pointwise;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, DispatchDevice, Flex, backend_extension};
use burn::prelude::*;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, TensorData};

use depthwise_kernels::Geometry;

/// Whether the Flex kernels compute this convolution: a Flex device (autodiff or not), `f32`
/// tensors and no dilation.
pub fn applies(x: &Tensor<4>, weight: &Tensor<4>, options: &ConvOptions<2>) -> bool {
    applies_to(x) && weight.dtype() == DType::F32 && options.dilation == [1, 1]
}

/// Whether `x` is an `f32` tensor on a Flex device (autodiff or not).
pub fn applies_to(x: &Tensor<4>) -> bool {
    let on_flex = matches!(
        x.device().as_dispatch().clone().inner(),
        DispatchDevice::Flex(_)
    );
    on_flex && x.dtype() == DType::F32
}

/// [`crate::depthwise_conv2d`] on a Flex device.
pub fn depthwise_conv2d(x: Tensor<4>, weight: Tensor<4>, options: ConvOptions<2>) -> Tensor<4> {
    let out = <Dispatch as DepthwiseConv>::depthwise_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        options,
    );
    Tensor::from_dispatch(out)
}

/// A depthwise convolution with a hand-written backward pass.
#[backend_extension(Flex, Autodiff)]
pub trait DepthwiseConv: Backend {
    /// `conv2d(x, weight, None, options)` for `options.groups` = channels.
    fn depthwise_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
}

impl DepthwiseConv for Flex {
    fn depthwise_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        // Flex's forward already has a depthwise fast path.
        Flex::conv2d(x, weight, None, options)
    }
}

impl<C: CheckpointStrategy> DepthwiseConv for Autodiff<Flex, C> {
    fn depthwise_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        convolution_op::<C, _, _>(DepthwiseBackward, x, weight, options.clone(), |x, w| {
            Flex::conv2d(x, w, None, options)
        })
    }
}

/// Records an operation of an input and a weight on a Flex autodiff device: `forward` of their
/// values, and `backward` with the state `(x, weight, extra)` (both checkpointed) when a
/// gradient is wanted.
pub(crate) fn convolution_op<C, Op, S>(
    backward: Op,
    x: FloatTensor<Autodiff<Flex, C>>,
    weight: FloatTensor<Autodiff<Flex, C>>,
    extra: S,
    forward: impl FnOnce(FlexTensor, FlexTensor) -> FlexTensor,
) -> FloatTensor<Autodiff<Flex, C>>
where
    C: CheckpointStrategy,
    Op: Backward<Flex, 2, State = (NodeId, NodeId, S)>,
    S: Clone + Send + std::fmt::Debug + 'static,
{
    let prepared = backward
        .prepare::<C>([x.node(), weight.node()])
        .compute_bound()
        .stateful();
    match prepared {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let weight_state = prep.checkpoint(&weight);
            let out = forward(x.into_primitive(), weight.into_primitive());
            prep.finish((x_state, weight_state, extra), out)
        }
        OpsKind::UnTracked(prep) => {
            prep.finish(forward(x.into_primitive(), weight.into_primitive()))
        }
    }
}

/// The backward step of the depthwise convolution.
#[derive(Debug)]
struct DepthwiseBackward;

impl Backward<Flex, 2> for DepthwiseBackward {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let output_grad = grads.consume::<Flex>(&ops.node);
        let (x_state, weight_state, options) = ops.state;
        let x: FlexTensor = checkpointer.retrieve_node_output(x_state);
        let weight: FlexTensor = checkpointer.retrieve_node_output(weight_state);
        let geometry = geometry(&x, &weight, &output_grad, &options);
        let output_grad = F32View::new(&output_grad);

        if let Some(node) = node_x {
            let weight_values = F32View::new(&weight);
            let grad = depthwise_kernels::input_gradient(
                &geometry,
                weight_values.values(),
                output_grad.values(),
            );
            grads.register::<Flex>(node.id, flex_tensor(grad, x.layout().shape().to_vec()));
        }
        if let Some(node) = node_weight {
            let x_values = F32View::new(&x);
            let grad = depthwise_kernels::weight_gradient(
                &geometry,
                x_values.values(),
                output_grad.values(),
            );
            grads.register::<Flex>(node.id, flex_tensor(grad, weight.layout().shape().to_vec()));
        }
    }
}

fn geometry(
    x: &FlexTensor,
    weight: &FlexTensor,
    output_grad: &FlexTensor,
    options: &ConvOptions<2>,
) -> Geometry {
    let [batch, channels, in_h, in_w] = dims4(x);
    let [_, _, k_h, k_w] = dims4(weight);
    let [_, _, out_h, out_w] = dims4(output_grad);
    Geometry {
        batch,
        channels,
        input: [in_h, in_w],
        output: [out_h, out_w],
        kernel: [k_h, k_w],
        stride: options.stride,
        padding: options.padding_begin(),
    }
}

/// The dimensions of a convolution's 4-D tensor.
fn dims4(t: &FlexTensor) -> [usize; 4] {
    t.layout()
        .shape()
        .to_vec()
        .try_into()
        .expect("a convolution has 4-D tensors")
}

/// The elements of an `f32` tensor in row-major order, copied only if its layout needs it.
pub(crate) struct F32View {
    tensor: FlexTensor,
    range: std::ops::Range<usize>,
}

impl F32View {
    pub(crate) fn new(tensor: &FlexTensor) -> Self {
        let tensor = tensor.to_contiguous();
        let (start, end) = tensor
            .layout()
            .contiguous_offsets()
            .expect("to_contiguous gives a contiguous layout");
        F32View {
            tensor,
            range: start..end,
        }
    }

    pub(crate) fn values(&self) -> &[f32] {
        &self.tensor.storage::<f32>()[self.range.clone()]
    }
}

pub(crate) fn flex_tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}
