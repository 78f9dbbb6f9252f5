//! Mixed precision: the networks compute in the precision of the images they are given (their
//! f32 weights cast where they are used, so gradients, optimiser state and updates stay f32),
//! with BatchNorm, the pooling and the classifier in f32. Feeding bf16 images is the whole of
//! switching it on.

use burn::prelude::*;
use burn::tensor::FloatDType;
use serde::{Deserialize, Serialize};

/// The precision of a training step's forward and backward passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32 (the default).
    #[default]
    F32,
    /// Convolutions, activations and their gradients in bfloat16; BatchNorm, the classifier,
    /// the loss, the weights and their updates in f32. bf16 has f32's exponent range, so no
    /// loss scaling is needed (f16 would need it, and is not offered).
    Bf16,
}

impl Precision {
    /// `images` as this precision feeds them to a network.
    pub fn images(self, images: Tensor<4>) -> Tensor<4> {
        match self {
            Self::F32 => images,
            Self::Bf16 => images.cast(FloatDType::BF16),
        }
    }

    /// Whether `device` computes in this precision; the reason when it does not.
    pub fn check(self, device: &Device) -> Result<(), String> {
        match self {
            Self::F32 => Ok(()),
            Self::Bf16 if device.supports_dtype(FloatDType::BF16) => Ok(()),
            Self::Bf16 => Err(format!(
                "the device {device:?} has no bf16 tensors (wgpu's WGSL has none; flex, cuda \
                 and vulkan on most GPUs do): use \"f32\""
            )),
        }
    }
}
