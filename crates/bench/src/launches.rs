//! Kernel launches counted on CubeCL devices (wgpu, vulkan, cuda): how many kernels a step
//! issues, a number the CPU measures the same on a software driver as on a GPU.
//!
//! CubeCL 0.11 calls an installed [`LaunchObserver`](burn::cubecl::logging::LaunchObserver)
//! for every launch before it is submitted (a fused kernel of Burn's fusion counts once; an
//! autotune measurement counts as the launches it makes). The count is process-wide, every
//! thread's launches included (with fusion, kernels are issued by the device's own thread, not
//! by the caller's): count one thing at a time in a process, as `bench` does with its process
//! per case.
//!
//! Without the `launches` feature (CPU-only builds) nothing is counted and every count is
//! `None`; with it, a count of zero is also `None`, since a step on a CubeCL device always
//! launches kernels and zero means the work ran on another backend.

/// Runs `work` and returns what it returned with the number of kernels CubeCL launched while
/// it ran, or `None` where nothing was counted (see the module's documentation).
pub fn count_launches<R>(work: impl FnOnce() -> R) -> (R, Option<u64>) {
    imp::count_launches(work)
}

#[cfg(feature = "launches")]
mod imp {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use burn::cubecl::logging::{LaunchObservation, LaunchObserver};

    /// Counts every launch it is told of.
    #[derive(Default)]
    struct Counter(AtomicU64);

    impl LaunchObserver for Counter {
        fn launched(&self, _kernel: &'static str) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn count_launches<R>(work: impl FnOnce() -> R) -> (R, Option<u64>) {
        let counter = Arc::new(Counter::default());
        let observation = LaunchObservation::new(counter.clone());
        let out = work();
        drop(observation);
        let launches = counter.0.load(Ordering::Relaxed);
        (out, (launches > 0).then_some(launches))
    }
}

#[cfg(not(feature = "launches"))]
mod imp {
    pub(super) fn count_launches<R>(work: impl FnOnce() -> R) -> (R, Option<u64>) {
        (work(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::prelude::*;

    #[test]
    fn work_on_a_cpu_backend_counts_no_launches() {
        let device = Device::flex();
        let (sum, launches) = count_launches(|| {
            let x = Tensor::<2>::ones([4, 4], &device);
            (x.clone() * 2.0 + x).sum().into_scalar::<f32>()
        });
        assert_eq!(sum, 48.0);
        assert_eq!(launches, None);
    }
}
