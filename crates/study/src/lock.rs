//! Advisory file locks (`flock`) that coordinate the processes running one study's tasks:
//! held by an open file, released by the kernel when the process ends, however it ends.

use std::fs::{File, TryLockError};
use std::path::Path;

use crate::error::{Error, Result};

/// Opens (creating) the lock file at `path`.
fn open(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::file(path, e))
}

/// Waits for, then holds, the exclusive lock of `path` until the returned file is dropped.
pub(crate) fn exclusive(path: &Path) -> Result<File> {
    let file = open(path)?;
    file.lock().map_err(|e| Error::file(path, e))?;
    Ok(file)
}

/// Holds the exclusive lock of `path` if no other process holds it (`None` if one does).
pub(crate) fn try_exclusive(path: &Path) -> Result<Option<File>> {
    let file = open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(Error::file(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_refused_to_a_second_holder_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks/a.lock");
        let first = try_exclusive(&path).unwrap().expect("free");
        // flock locks belong to the open file description: a second open, even in this
        // process, is refused while the first is held.
        assert!(try_exclusive(&path).unwrap().is_none());
        drop(first);
        assert!(try_exclusive(&path).unwrap().is_some());
    }
}
