//! The candidate operations of a choice block and their compact text form (`k5e3`, `zero`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::bounds::{MAX_EXPAND, MAX_KERNEL};

/// An MBConv candidate: depthwise kernel size and expansion ratio (`k5e3` is a 5x5 kernel
/// with 3x expansion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MbConvOp {
    /// Side of the square depthwise kernel (odd).
    pub kernel_size: usize,
    /// Width of the hidden layer as a multiple of the input width; 1 omits the 1x1 expansion.
    pub expand_ratio: usize,
}

impl MbConvOp {
    /// The op with the given kernel size and expansion ratio.
    pub const fn new(kernel_size: usize, expand_ratio: usize) -> Self {
        Self {
            kernel_size,
            expand_ratio,
        }
    }
}

/// What one choice block runs: an MBConv or nothing (a skip through the identity shortcut).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpChoice {
    /// An inverted-residual block.
    MbConv(MbConvOp),
    /// No computation: the block passes its input through (allowed only with an identity
    /// shortcut).
    Zero,
}

impl OpChoice {
    /// The MBConv op, or `None` for [`OpChoice::Zero`].
    pub fn mbconv(&self) -> Option<MbConvOp> {
        match self {
            OpChoice::MbConv(op) => Some(*op),
            OpChoice::Zero => None,
        }
    }

    /// Whether this is [`OpChoice::Zero`].
    pub fn is_zero(&self) -> bool {
        matches!(self, OpChoice::Zero)
    }
}

impl fmt::Display for MbConvOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "k{}e{}", self.kernel_size, self.expand_ratio)
    }
}

impl fmt::Display for OpChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpChoice::MbConv(op) => op.fmt(f),
            OpChoice::Zero => f.write_str("zero"),
        }
    }
}

/// Why a token is not an op; the caller adds where the token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOpError(pub String);

impl fmt::Display for ParseOpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseOpError {}

impl FromStr for MbConvOp {
    type Err = ParseOpError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            ParseOpError(format!(
                "expected an op like 'k5e3' (kernel 5, expand 3), got '{s}'"
            ))
        };
        let rest = s.strip_prefix('k').ok_or_else(bad)?;
        let (kernel, expand) = rest.split_once('e').ok_or_else(bad)?;
        let kernel_size: usize = kernel.parse().map_err(|_| bad())?;
        let expand_ratio: usize = expand.parse().map_err(|_| bad())?;
        if !crate::is_odd_kernel(kernel_size) {
            return Err(ParseOpError(format!(
                "kernel size must be odd and positive, got {kernel_size} in '{s}'"
            )));
        }
        if expand_ratio == 0 {
            return Err(ParseOpError(format!(
                "expansion ratio must be at least 1, got 0 in '{s}'"
            )));
        }
        if kernel_size > MAX_KERNEL || expand_ratio > MAX_EXPAND {
            return Err(ParseOpError(format!(
                "'{s}' is beyond any network this tool builds (kernel at most {MAX_KERNEL}, \
                 expansion at most {MAX_EXPAND})"
            )));
        }
        Ok(Self::new(kernel_size, expand_ratio))
    }
}

impl FromStr for OpChoice {
    type Err = ParseOpError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "zero" {
            return Ok(OpChoice::Zero);
        }
        s.parse::<MbConvOp>().map(OpChoice::MbConv).map_err(|_| {
            ParseOpError(format!(
                "expected 'zero' or an op like 'k5e3' (kernel 5, expand 3), got '{s}'"
            ))
        })
    }
}

macro_rules! serde_as_string {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_as_string!(MbConvOp);
serde_as_string!(OpChoice);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        for text in ["k3e3", "k5e6", "k7e1", "k9e4", "zero"] {
            let op: OpChoice = text.parse().unwrap();
            assert_eq!(op.to_string(), text);
        }
    }

    #[test]
    fn malformed_ops_are_rejected_with_the_token() {
        for bad in [
            "", "k", "k3", "e3", "k4e3", "k3e0", "k3e", "K3E3", "k3e3x", "skip",
        ] {
            let err = bad.parse::<OpChoice>().unwrap_err();
            assert!(err.0.contains(&format!("'{bad}'")), "{bad}: {err}");
        }
    }
}
