//! Files that are never half-written: a temporary name then a rename, lines appended whole,
//! run directories that are never reused, checkpoint folders listed only when complete; where
//! proxyless caches what it can measure or scan again.

use std::io::Write;
use std::path::Path;

/// Writes `contents` to `path` through a temporary file in the same directory and a rename,
/// so an interrupted write never leaves a partial file and an old file survives a failure;
/// the file and then the directory's rename are flushed to disk before it returns.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        crate::checkpoints::sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Appends `value` as one line of JSON to `path` (created when missing): metrics and
/// histories that a killed run leaves whole up to its last line.
pub fn append_json_line(path: &Path, value: &serde_json::Value) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(file, "{value}")
}

/// Creates the directory of a new run (with `subdir` inside), refusing an existing non-empty
/// one so that no run overwrites another; the error says to choose another `--out` or to
/// `--resume` it.
pub fn create_run_dir(dir: &Path, subdir: &str) -> std::io::Result<()> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "already exists and is not empty; choose another --out or --resume it",
        ));
    }
    std::fs::create_dir_all(dir.join(subdir))
}

/// Copies the folder `from` with everything in it to `to` (created): a run directory copied
/// to resume it elsewhere, or, in tests, to resume one run from several of its checkpoints.
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        let target = to.join(path.file_name().expect("a directory entry has a name"));
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target)?;
        }
    }
    Ok(())
}

/// The `epoch-N` checkpoint folders of `dir` that hold `marker` (the file written last into
/// a complete checkpoint), oldest first; none when `dir` does not exist. Temporary folders
/// (`.epoch-N.tmp`) of interrupted writes are not listed.
pub fn epoch_checkpoints(dir: &Path, marker: &str) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<std::path::PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("epoch-"))
                && p.join(marker).is_file()
        })
        .collect();
    found.sort();
    found
}

/// Where proxyless caches what it can measure or scan again (latency tables, image-folder
/// indexes): `$PROXYLESS_CACHE_DIR`, else `$XDG_CACHE_HOME/proxyless`, else
/// `~/.cache/proxyless`.
pub fn cache_dir() -> std::path::PathBuf {
    use std::path::PathBuf;
    if let Some(dir) = std::env::var_os("PROXYLESS_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("proxyless");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache").join("proxyless")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn json_lines_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        append_json_line(&path, &serde_json::json!({"epoch": 0})).unwrap();
        append_json_line(&path, &serde_json::json!({"epoch": 1})).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"epoch\":0}\n{\"epoch\":1}\n"
        );
    }

    #[test]
    fn folders_copy_with_their_sub_folders() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("run");
        std::fs::create_dir_all(from.join("checkpoints/epoch-0001")).unwrap();
        std::fs::write(from.join("checkpoints/epoch-0001/state.json"), "{}").unwrap();
        std::fs::write(from.join("metrics.jsonl"), "x\n").unwrap();
        copy_dir(&from, &dir.path().join("copy")).unwrap();
        let copy = dir.path().join("copy");
        assert_eq!(
            std::fs::read_to_string(copy.join("metrics.jsonl")).unwrap(),
            "x\n"
        );
        assert!(copy.join("checkpoints/epoch-0001/state.json").is_file());
    }

    #[test]
    fn a_run_directory_is_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        create_run_dir(&run, "checkpoints").unwrap();
        assert!(run.join("checkpoints").is_dir());
        // A second run into the same directory is refused.
        let err = create_run_dir(&run, "checkpoints").unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
    }
}
