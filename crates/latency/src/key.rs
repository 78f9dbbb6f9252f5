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

impl std::str::FromStr for LatencyKey {
    type Err = String;

    /// Parses the official key strings that [`Display`](fmt::Display) writes.
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("'{text}' is not a key in the official format");
        let mut parts = text.split('-');
        let kind = parts.next().ok_or_else(bad)?;
        let mut fields = std::collections::BTreeMap::new();
        for part in parts {
            let (name, value) = part.split_once(':').ok_or_else(bad)?;
            fields.insert(name, value);
        }
        let shape = |name: &str| -> Result<Hwc, String> {
            let dims: Vec<usize> = fields
                .get(name)
                .ok_or_else(bad)?
                .split('x')
                .map(|d| d.parse().map_err(|_| bad()))
                .collect::<Result<_, _>>()?;
            dims.try_into().map_err(|_| bad())
        };
        let number = |name: &str| -> Result<usize, String> {
            fields.get(name).ok_or_else(bad)?.parse().map_err(|_| bad())
        };
        let expected = |n: usize| {
            if fields.len() == n {
                Ok(())
            } else {
                Err(bad())
            }
        };
        let key = match kind {
            "Conv" | "Conv_1" => {
                expected(2)?;
                let (input, output) = (shape("input")?, shape("output")?);
                if kind == "Conv" {
                    LatencyKey::Stem { input, output }
                } else {
                    LatencyKey::FeatureMix { input, output }
                }
            }
            "Logits" => {
                expected(2)?;
                LatencyKey::Logits {
                    input: shape("input")?,
                    classes: number("output")?,
                }
            }
            "expanded_conv" => {
                expected(6)?;
                LatencyKey::Block {
                    input: shape("input")?,
                    output: shape("output")?,
                    expand: number("expand")?,
                    kernel: number("kernel")?,
                    stride: number("stride")?,
                    idskip: match number("idskip")? {
                        0 => false,
                        1 => true,
                        _ => return Err(bad()),
                    },
                }
            }
            _ => return Err(bad()),
        };
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_renders() {
        for text in [
            "expanded_conv-input:112x112x16-output:56x56x24-expand:3-kernel:5-stride:2-idskip:0",
            "expanded_conv-input:7x7x40-output:7x7x40-expand:6-kernel:7-stride:1-idskip:1",
            "Conv-input:224x224x3-output:112x112x32",
            "Conv_1-input:7x7x320-output:7x7x1280",
            "Logits-input:7x7x1280-output:1000",
        ] {
            let key: LatencyKey = text.parse().unwrap();
            assert_eq!(key.to_string(), text);
        }
        for bad in [
            "expanded_conv-input:7x7-output:7x7x40-expand:6-kernel:7-stride:1-idskip:1",
            "expanded_conv-input:7x7x40-output:7x7x40-expand:6-kernel:7-stride:1-idskip:2",
            "Conv-input:224x224x3",
            "Pool-input:7x7x3-output:1x1x3",
        ] {
            assert!(bad.parse::<LatencyKey>().is_err(), "{bad}");
        }
    }

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
