//! Typed keys of latency tables, rendered in the official string form
//! (`expanded_conv-input:112x112x16-output:56x56x24-expand:3-kernel:5-stride:2-idskip:0`).

use std::fmt;

/// Shape `[height, width, channels]` as the official keys write it (`HxWxC`).
pub type Hwc = [usize; 3];

/// One measurable layer of a ProxylessNAS network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LatencyKey {
    /// The stem convolution (`Conv`).
    Stem {
        /// Input shape.
        input: Hwc,
        /// Output shape.
        output: Hwc,
    },
    /// One MBConv block including its residual add (`expanded_conv`).
    Block {
        /// Input shape.
        input: Hwc,
        /// Output shape.
        output: Hwc,
        /// Expansion ratio.
        expand: usize,
        /// Depthwise kernel side.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Whether the block adds its input (identity shortcut).
        idskip: bool,
    },
    /// The 1x1 feature-mix convolution (`Conv_1`).
    FeatureMix {
        /// Input shape.
        input: Hwc,
        /// Output shape.
        output: Hwc,
    },
    /// Pooling and classifier (`Logits`).
    Logits {
        /// Input shape.
        input: Hwc,
        /// Number of classes.
        classes: usize,
    },
}

fn hwc(s: &Hwc) -> String {
    format!("{}x{}x{}", s[0], s[1], s[2])
}

impl fmt::Display for LatencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LatencyKey::Stem { input, output } => {
                write!(f, "Conv-input:{}-output:{}", hwc(input), hwc(output))
            }
            LatencyKey::FeatureMix { input, output } => {
                write!(f, "Conv_1-input:{}-output:{}", hwc(input), hwc(output))
            }
            LatencyKey::Logits { input, classes } => {
                write!(f, "Logits-input:{}-output:{classes}", hwc(input))
            }
            LatencyKey::Block {
                input,
                output,
                expand,
                kernel,
                stride,
                idskip,
            } => write!(
                f,
                "expanded_conv-input:{}-output:{}-expand:{expand}-kernel:{kernel}-stride:{stride}-idskip:{}",
                hwc(input),
                hwc(output),
                u8::from(*idskip)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_official_key_strings() {
        let key = LatencyKey::Block {
            input: [112, 112, 16],
            output: [56, 56, 24],
            expand: 3,
            kernel: 5,
            stride: 2,
            idskip: false,
        };
        assert_eq!(
            key.to_string(),
            "expanded_conv-input:112x112x16-output:56x56x24-expand:3-kernel:5-stride:2-idskip:0"
        );
        let logits = LatencyKey::Logits {
            input: [7, 7, 1280],
            classes: 1000,
        };
        assert_eq!(logits.to_string(), "Logits-input:7x7x1280-output:1000");
    }
}
