//! Latency tables measured on the device the search runs on (`target.cost = "measured"`),
//! profiled on first use and cached per space and device.

use std::path::PathBuf;

use burn::prelude::*;
use proxyless_latency::LatencyTable;
use proxyless_plumbing::cache_dir;
use proxyless_space::SearchSpace;
use tracing::info;

use crate::machine::{backend_label, machine_meta};
use crate::timing::{ProfileSettings, TableOrigin, profile_table};

/// Why a cached table could not be read or a new one written.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cached table is malformed.
    #[error(transparent)]
    Table(#[from] proxyless_latency::Error),
    /// The new table could not be written into the cache.
    #[error("{}: cannot write the measured latency table: {source}", path.display())]
    Write {
        /// The cache file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// FNV-1a of `text`, to tell spaces with the same name apart.
fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The table of `space` measured on `device` (an inference device) at `batch`: read from the
/// cache in `cache` (default [`cache_dir`]), or profiled now (with its whole-network
/// correction) and cached. The cache file is named by the space, the backend, the device, the
/// machine's threads and the build, so a table is never reused across them.
pub fn measured_table(
    space: &SearchSpace,
    device: &Device,
    batch: usize,
    cache: Option<&std::path::Path>,
) -> Result<LatencyTable, CacheError> {
    let origin = TableOrigin::new(backend_label(device));
    let threads = machine_meta()
        .into_iter()
        .find(|(k, _)| k == "threads")
        .map_or_else(String::new, |(_, v)| v);
    let device_key: String = format!("{device:?}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = format!(
        "latency-{}-{:016x}-{}-{}-t{threads}-{:08x}-b{batch}.yaml",
        space.name,
        fingerprint(&space.to_toml_string()),
        origin.backend,
        device_key.trim_matches('-'),
        fingerprint(&origin.build) as u32,
    );
    let path = cache.map_or_else(cache_dir, |c| c.to_path_buf()).join(name);
    if path.is_file() {
        info!(table = %path.display(), "measured latency table from the cache");
        return Ok(LatencyTable::from_yaml_file(&path)?);
    }
    info!(space = %space.name, device = ?device, "profiling the target device");
    let settings = ProfileSettings {
        batch,
        warmup: 10,
        runs: 60,
        group: ProfileSettings::group_for(device),
        calibration: 10,
    };
    let table = profile_table(
        space,
        device,
        &settings,
        &origin,
        &path.display().to_string(),
        |_, _, _| {},
    );
    proxyless_plumbing::write_atomic(&path, table.to_yaml().as_bytes()).map_err(|source| {
        CacheError::Write {
            path: path.clone(),
            source,
        }
    })?;
    Ok(table)
}
