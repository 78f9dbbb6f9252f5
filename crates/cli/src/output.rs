//! Writing results: files replaced atomically, numbers people can read.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `contents` to `path` atomically (a temporary file, then a rename), naming the file
/// on error.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    proxyless_plumbing::files::write_atomic(path, contents)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Prints `text` to standard output; a closed pipe (`proxyless info ... | head`) is not an error.
pub fn print_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")
        }
        _ => Ok(()),
    }
}

pub use proxyless_profiler::utc_stamp;

/// `12345678` -> `12.35M`, `4321` -> `4.32K`.
pub fn human(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2}G", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.2}K", n / 1e3)
    } else {
        format!("{n}")
    }
}

/// `[c, h, w]` -> `cxhxw`.
pub fn shape(s: [usize; 3]) -> String {
    format!("{}x{}x{}", s[0], s[1], s[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(human(7_119_848), "7.12M");
        assert_eq!(human(999), "999");
        assert_eq!(shape([3, 224, 224]), "3x224x224");
    }
}
