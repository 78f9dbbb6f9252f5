//! Where a measurement was made: the backend behind a device, and the machine.

use burn::prelude::*;

/// The backend behind `device`, by name (`flex`, `ndarray`, `tch`, `cuda`, `vulkan`, `wgpu`),
/// read from its description; `device` when none is recognised. An autodiff device answers for
/// the device it wraps.
pub fn backend_label(device: &Device) -> &'static str {
    let text = format!("{device:?}");
    [
        ("Flex", "flex"),
        ("NdArray", "ndarray"),
        ("LibTorch", "tch"),
        ("Cuda", "cuda"),
        ("Vulkan", "vulkan"),
        ("Wgpu", "wgpu"),
    ]
    .into_iter()
    .find(|(needle, _)| text.contains(needle))
    .map_or("device", |(_, name)| name)
}

/// The build that measures, as table headers record it: this crate's version, Burn's, and
/// whether it was optimised (a debug build times layers several times slower).
pub fn build_id() -> String {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    format!(
        "proxyless {} (burn 0.22.1, {profile})",
        env!("CARGO_PKG_VERSION")
    )
}

/// The current UTC time as `YYYYMMDD-HHMMSS`.
pub fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The threads the CPU backends of this process use (Rayon's pool: `RAYON_NUM_THREADS`, else
/// one per core); what a peer runtime (PyTorch, ONNX Runtime) is given to be compared alike.
pub fn cpu_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

/// The machine, as table headers record it: `cpu` (the processor's model name), `threads`
/// (the threads this process may use) and `host`.
pub fn machine_meta() -> Vec<(String, String)> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let threads = cpu_threads();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    vec![
        ("cpu".into(), cpu),
        ("threads".into(), threads.to_string()),
        ("host".into(), host),
    ]
}

/// Where this process predicts or measures on `backend`, as a table's header records it:
/// backend, build, CPU and threads (what [`LatencyTable::differences_from`] compares).
///
/// [`LatencyTable::differences_from`]: proxyless_latency::LatencyTable::differences_from
pub fn here(backend: &str) -> Vec<(String, String)> {
    let mut here = vec![
        ("backend".to_string(), backend.to_string()),
        ("build".to_string(), build_id()),
    ];
    here.extend(
        machine_meta()
            .into_iter()
            .filter(|(k, _)| k == "cpu" || k == "threads"),
    );
    here
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_flex_backend_and_the_machine() {
        // Not `Device::default()`: with the workspace's test features that can be wgpu.
        assert_eq!(backend_label(&Device::flex()), "flex");
        assert_eq!(backend_label(&Device::flex().autodiff()), "flex");
        let meta = machine_meta();
        let keys: Vec<&str> = meta.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["cpu", "threads", "host"]);
        assert!(meta[1].1.parse::<usize>().unwrap() >= 1);
    }
}
