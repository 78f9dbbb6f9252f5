//! CIFAR-10, binary version: `data_batch_{1..5}.bin` and `test_batch.bin`, records of one
//! label byte and 3072 pixel bytes (red, green, blue planes of 32x32).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::{ImageSet, Split};

const RECORD: usize = 1 + 3 * 32 * 32;

/// Reads one split of CIFAR-10 from `dir` (or its `cifar-10-batches-bin` sub-folder).
pub fn load(dir: &Path, split: Split) -> Result<ImageSet> {
    let dir = if dir.join("cifar-10-batches-bin").is_dir() {
        dir.join("cifar-10-batches-bin")
    } else {
        dir.to_path_buf()
    };
    let files: Vec<PathBuf> = match split {
        Split::Train => (1..=5)
            .map(|i| dir.join(format!("data_batch_{i}.bin")))
            .collect(),
        Split::Test => vec![dir.join("test_batch.bin")],
    };
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for file in files {
        if !file.is_file() {
            return Err(Error::Missing {
                path: file,
                hint: "expected the CIFAR-10 binary version (data_batch_1.bin ... data_batch_5.bin, test_batch.bin)".into(),
            });
        }
        let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
        if bytes.is_empty() || bytes.len() % RECORD != 0 {
            return Err(Error::format(
                &file,
                format!(
                    "{} bytes is not a whole number of {RECORD}-byte records",
                    bytes.len()
                ),
            ));
        }
        for record in bytes.chunks(RECORD) {
            if record[0] > 9 {
                return Err(Error::format(
                    &file,
                    format!("label {} is not a CIFAR-10 class (0-9)", record[0]),
                ));
            }
            labels.push(record[0] as u16);
            pixels.extend_from_slice(&record[1..]);
        }
    }
    let name = if split == Split::Train {
        "cifar10 train"
    } else {
        "cifar10 test"
    };
    ImageSet::new(name, [3, 32, 32], 10, pixels, labels)
}

/// Writes a set of 3x32x32 images as one CIFAR-10 batch file: for tests.
pub fn write_batch(path: &Path, set: &ImageSet) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(set.len() * RECORD);
    for i in 0..set.len() {
        bytes.push(set.label(i) as u8);
        bytes.extend_from_slice(set.image(i));
    }
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{SyntheticConfig, generate};

    #[test]
    fn reads_the_binary_layout() {
        let config = SyntheticConfig {
            channels: 3,
            size: 32,
            per_class: 2,
            ..SyntheticConfig::default()
        };
        let set = generate(&config, 9);
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("cifar-10-batches-bin");
        std::fs::create_dir(&sub).unwrap();
        write_batch(&sub.join("test_batch.bin"), &set).unwrap();
        let back = load(dir.path(), Split::Test).unwrap();
        assert_eq!(back.len(), set.len());
        assert_eq!(back.image(3), set.image(3));
        let err = load(dir.path(), Split::Train).unwrap_err().to_string();
        assert!(err.contains("data_batch_1.bin: not found"), "{err}");
        std::fs::write(sub.join("test_batch.bin"), [1u8; 100]).unwrap();
        let err = load(dir.path(), Split::Test).unwrap_err().to_string();
        assert!(err.contains("whole number"), "{err}");
    }
}
