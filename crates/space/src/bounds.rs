//! Bounds on every size a description can claim, far beyond any network this tool builds: what
//! keeps a hostile or mistaken file (a search space, a `net.config`) from asking for billions of
//! blocks, channels or parameters. They are checked before anything is allocated, and the
//! errors name the field, the value and the bound.

use crate::error::{Error, Result};

/// Blocks in one stage of a search space.
pub const MAX_DEPTH: usize = 256;
/// Blocks in one network (the paper's ImageNet networks have 22).
pub const MAX_BLOCKS: usize = 4096;
/// Channels of any layer, the expanded middle of an MBConv included (the paper's widest
/// layer has 1,920).
pub const MAX_CHANNELS: usize = 1 << 16;
/// Input side in pixels.
pub const MAX_RESOLUTION: usize = 1 << 14;
/// Classes.
pub const MAX_CLASSES: usize = 1 << 20;
/// Kernel side.
pub const MAX_KERNEL: usize = 31;
/// Stride of a layer.
pub const MAX_STRIDE: usize = 16;
/// Expansion ratio of an MBConv.
pub const MAX_EXPAND: usize = 64;
/// Trainable parameters of one network or of a supernet: 2^30, 4 GiB of `f32` weights (the
/// paper's ImageNet networks hold 4 to 7 million, a supernet of its space about 60 million).
pub const MAX_PARAMETERS: u64 = 1 << 30;

/// `value` must be positive.
pub(crate) fn check_positive(origin: &str, field: &str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(Error::invalid(
            origin,
            field,
            "expected a positive integer, got 0",
        ));
    }
    Ok(())
}

/// `value` must be at most `most`.
pub(crate) fn check_at_most(origin: &str, field: &str, value: usize, most: usize) -> Result<()> {
    if value > most {
        return Err(Error::invalid(
            origin,
            field,
            format!("{value} is beyond any network this tool builds (at most {most})"),
        ));
    }
    Ok(())
}

/// A network (or supernet) of `params` trainable parameters, `largest` the layer that holds
/// the most (named in the error, and its count where it is not the whole), must hold at most
/// [`MAX_PARAMETERS`].
pub(crate) fn check_parameters(origin: &str, params: u64, largest: (&str, u64)) -> Result<()> {
    if params > MAX_PARAMETERS {
        let (layer, held) = largest;
        let most = if held < params {
            format!(" ({held} in {layer})")
        } else {
            String::new()
        };
        return Err(Error::invalid(
            origin,
            layer,
            format!(
                "the network would hold {params} parameters{most}, beyond any network this \
                 tool builds (at most {MAX_PARAMETERS}, 4 GiB of f32 weights)"
            ),
        ));
    }
    Ok(())
}
