//! The Burn backend, picked at run time among those compiled into this binary.

use anyhow::{Result, bail};
use burn::tensor::Device;
#[cfg(any(feature = "wgpu", feature = "vulkan"))]
use burn::tensor::DeviceKind;
use clap::ValueEnum;

/// A Burn backend; each is a Cargo feature of this binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// Burn's portable CPU backend (the default).
    Flex,
    /// The ndarray CPU backend.
    Ndarray,
    /// WebGPU through wgpu: Vulkan, Metal, DirectX 12 or a software Vulkan driver.
    Wgpu,
    /// Vulkan through CubeCL's SPIR-V compiler.
    Vulkan,
    /// NVIDIA CUDA.
    Cuda,
    /// LibTorch through tch, on the CPU.
    Tch,
    /// LibTorch through tch, on the first CUDA GPU (the same `tch` feature; needs a CUDA build
    /// of LibTorch at run time).
    #[value(name = "tch-cuda")]
    TchCuda,
}

impl Backend {
    /// The Cargo feature that compiles this backend in.
    pub fn feature(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Vulkan => "vulkan",
            Backend::Cuda => "cuda",
            Backend::Tch | Backend::TchCuda => "tch",
        }
    }

    /// The name `--backend` takes, also written into latency tables and reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::TchCuda => "tch-cuda",
            other => other.feature(),
        }
    }

    /// Whether the backend runs on a GPU (its PyTorch reference then runs on CUDA).
    pub fn is_gpu(self) -> bool {
        !matches!(self, Backend::Flex | Backend::Ndarray | Backend::Tch)
    }

    /// Whether this binary was built with the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Vulkan => cfg!(feature = "vulkan"),
            Backend::Cuda => cfg!(feature = "cuda"),
            Backend::Tch | Backend::TchCuda => cfg!(feature = "tch"),
        }
    }

    /// The backends compiled into this binary, in order of preference.
    pub fn compiled() -> Vec<Backend> {
        Backend::value_variants()
            .iter()
            .copied()
            .filter(|b| b.is_compiled())
            .collect()
    }

    /// The first compiled backend in order of preference (flex, ndarray, wgpu, ...).
    pub fn default_compiled() -> Result<Backend> {
        match Self::compiled().first() {
            Some(b) => Ok(*b),
            None => bail!(
                "this binary was built without any backend; enable one of the features flex, ndarray, wgpu, vulkan, cuda, tch"
            ),
        }
    }

    /// The inference device of this backend (no autodiff).
    pub fn device(self) -> Result<Device> {
        if !self.is_compiled() {
            let compiled: Vec<&str> = Self::compiled().iter().map(|b| b.name()).collect();
            bail!(
                "backend '{0}' is not compiled into this binary (it has: {1}); rebuild with \
                 `--features {2}`, or run `cargo xtask <command> --backend {0}`",
                self.name(),
                compiled.join(", "),
                self.feature()
            );
        }
        Ok(self.device_unchecked())
    }

    #[allow(unreachable_code)]
    fn device_unchecked(self) -> Device {
        match self {
            #[cfg(feature = "flex")]
            Backend::Flex => Device::flex(),
            // Deprecated upstream, kept because this project promises it to its users.
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Backend::Ndarray => Device::ndarray(),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Device::wgpu(DeviceKind::DefaultDevice),
            #[cfg(feature = "vulkan")]
            Backend::Vulkan => Device::vulkan(DeviceKind::DefaultDevice),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Device::cuda(0),
            // Deprecated upstream; this project keeps LibTorch as one of its backends.
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            Backend::Tch => Device::libtorch(),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            Backend::TchCuda => Device::libtorch_cuda(0),
            #[allow(unreachable_patterns)]
            other => unreachable!("{other:?} is checked to be compiled in"),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
