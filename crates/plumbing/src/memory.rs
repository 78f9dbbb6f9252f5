//! The process's resident memory (Linux `/proc/self/status`): its peak since a reset, for
//! the benches' peak per step and the search's peak per epoch (`memory.jsonl`).

/// Resets the process's peak resident memory (Linux: `/proc/self/clear_refs`); false where
/// that is not possible.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The process's peak resident memory since the last reset, in MiB (Linux: `VmHWM`).
pub fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

/// The process's resident memory now, in MiB (Linux: `VmRSS`).
pub fn rss_mib() -> Option<f64> {
    status_mib("VmRSS:")
}

fn status_mib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_peak_follows_an_allocation_and_falls_back_after_a_reset() {
        assert!(reset_peak_rss());
        let before = peak_rss_mib().unwrap();
        // 64 MiB touched page by page: resident, so the peak rises by about that much.
        let block = vec![1u8; 64 << 20];
        let during = peak_rss_mib().unwrap();
        assert!(during >= before + 60.0, "{before} -> {during}");
        drop(block);
        assert!(reset_peak_rss());
        let after = peak_rss_mib().unwrap();
        assert!(after < during - 60.0, "{during} -> {after}");
        assert!(rss_mib().unwrap() <= after + 1.0);
    }
}
