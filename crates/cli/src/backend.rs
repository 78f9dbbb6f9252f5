//! The Burn backend, picked at run time among those compiled into this binary.

use std::sync::{Arc, Mutex};

use anyhow::{Result, bail};
#[cfg(any(feature = "wgpu", feature = "vulkan"))]
use burn::tensor::DeviceKind;
use burn::tensor::{Device, Tensor};
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

    /// The backend of Burn's `Device::default()` without `BURN_DEVICE`: the first compiled of
    /// cuda, vulkan, wgpu, tch, flex, ndarray (burn-dispatch's order).
    pub fn burn_default() -> Option<Backend> {
        [
            Backend::Cuda,
            Backend::Vulkan,
            Backend::Wgpu,
            Backend::Tch,
            Backend::Flex,
            Backend::Ndarray,
        ]
        .into_iter()
        .find(|b| b.is_compiled())
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
        let device = self.device_unchecked();
        if self.is_gpu() {
            self.probe(&device)?;
        }
        Ok(device)
    }

    /// Starts a GPU backend's device and reads one small tensor back, once per process, so
    /// that a backend that cannot start here (no driver, no GPU, a LibTorch without CUDA) is an
    /// error naming the backend instead of a panic on one of the backend's threads in the
    /// middle of a command.
    fn probe(self, device: &Device) -> Result<()> {
        static STARTED: Mutex<Vec<Backend>> = Mutex::new(Vec::new());
        let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
        if started.contains(&self) {
            return Ok(());
        }
        self.start_device(device, false)?;
        started.push(self);
        if let Some(name) = software_adapter(device) {
            eprintln!(
                "warning: backend '{}' runs on '{name}', a software driver on the CPU: no GPU \
                 was found. Its steps take seconds (the default search about an hour on 2 \
                 cores); `--config configs/search/fmnist-software-gpu.toml` is the search sized \
                 for it (about 2 minutes), and `--backend flex` runs the CPU faster.",
                self.name()
            );
        }
        Ok(())
    }

    /// Starts `device` of this backend (one of several of a data-parallel run), as
    /// [`device`](Self::device) starts the default one: a device that cannot start is an
    /// error naming it.
    pub fn start(self, device: &Device) -> Result<()> {
        if self.is_gpu() {
            self.start_device(device, true)?;
        }
        Ok(())
    }

    /// Reads one small tensor back from `device`, turning a panic of the backend into an error.
    /// `named`: the error names the device (one of several).
    fn start_device(self, device: &Device, named: bool) -> Result<()> {
        let started_device = device.clone();
        if let Err(cause) = first_panic(move || {
            Tensor::<1>::ones([1], &started_device).into_data();
        }) {
            bail!(
                "backend '{}' could not start on this machine{}: {}{}",
                self.name(),
                if named {
                    format!(" ({device:?})")
                } else {
                    String::new()
                },
                shorten(cause.lines().next().unwrap_or(&cause)),
                self.start_hint()
            );
        }
        Ok(())
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

    /// What a GPU backend needs from the machine, said after it failed to start.
    fn start_hint(self) -> &'static str {
        match self {
            Backend::Cuda => " (it needs an NVIDIA GPU and its driver's libcuda.so.1)",
            Backend::TchCuda => {
                " (it needs an NVIDIA GPU, its driver, and a CUDA build of LibTorch on the \
                 library path)"
            }
            Backend::Wgpu | Backend::Vulkan => {
                " (it needs a Vulkan driver: a GPU's, or Mesa's software one, Debian's \
                 mesa-vulkan-drivers)"
            }
            _ => "",
        }
    }
}

/// Runs `work`; if it panics, returns the message of the first panic of any thread meanwhile
/// (a backend's device thread panics first, the caller's wait on it after), caught through a
/// temporary panic hook instead of printed.
fn first_panic(work: impl FnOnce() + std::panic::UnwindSafe) -> std::result::Result<(), String> {
    let messages = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&messages);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| info.to_string());
        sink.lock().unwrap_or_else(|e| e.into_inner()).push(message);
    }));
    let outcome = std::panic::catch_unwind(work);
    std::panic::set_hook(previous);
    match outcome {
        Ok(()) => Ok(()),
        Err(_) => {
            let messages = messages.lock().unwrap_or_else(|e| e.into_inner());
            Err(messages
                .first()
                .cloned()
                .unwrap_or_else(|| "no message".into()))
        }
    }
}

/// At most 200 characters of a backend's panic message (some list every library name they
/// tried).
fn shorten(message: &str) -> String {
    match message.char_indices().nth(200) {
        Some((end, _)) => format!("{}...", &message[..end]),
        None => message.to_string(),
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The name of `device`'s adapter when it is a software rasterizer on the CPU (Mesa's
/// llvmpipe or lavapipe, SwiftShader) rather than a GPU.
#[cfg(any(feature = "wgpu", feature = "vulkan"))]
fn software_adapter(device: &Device) -> Option<String> {
    let name = device.identity()?.name;
    let lower = name.to_lowercase();
    ["llvmpipe", "lavapipe", "swiftshader", "software"]
        .iter()
        .any(|s| lower.contains(s))
        .then_some(name)
}

/// Without a Vulkan-based backend compiled in, no device is a software adapter.
#[cfg(not(any(feature = "wgpu", feature = "vulkan")))]
fn software_adapter(_device: &Device) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_panic_is_the_cause() {
        // As a backend that cannot start: its device thread panics, then the caller's wait.
        let cause = first_panic(|| {
            let device_thread = std::thread::spawn(|| panic!("no driver library found"));
            device_thread.join().expect("the device thread answers");
        });
        assert_eq!(cause, Err("no driver library found".to_string()));
        assert_eq!(first_panic(|| ()), Ok(()));
        // The hook is restored: a later panic is not collected into the earlier sink.
        assert!(std::panic::catch_unwind(|| panic!("later")).is_err());
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(500);
        assert_eq!(shorten(&long).len(), 203);
        assert_eq!(shorten("short"), "short");
    }
}
