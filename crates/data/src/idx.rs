//! The idx format of MNIST and Fashion-MNIST (`train-images-idx3-ubyte[.gz]`, ...).

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::{Error, Result};
use crate::{ImageSet, Split};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Reads one split of an idx data set from `dir`, accepting gzipped (`.gz`) or plain files.
/// `name` is used in messages (`fashion-mnist`).
pub fn load(dir: &Path, split: Split, name: &str) -> Result<ImageSet> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let images_path = find(dir, &format!("{prefix}-images-idx3-ubyte"), name)?;
    let labels_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"), name)?;
    let images = read_all(&images_path)?;
    let labels = read_all(&labels_path)?;
    let (count, height, width, pixels) = parse_images(&images, &images_path)?;
    let labels = parse_labels(&labels, &labels_path)?;
    if labels.len() != count {
        return Err(Error::format(
            &labels_path,
            format!(
                "{} labels for {count} images in {}",
                labels.len(),
                images_path.display()
            ),
        ));
    }
    let classes = labels
        .iter()
        .copied()
        .max()
        .map_or(0, |m| m as usize + 1)
        .max(10);
    let split_name = if split == Split::Train {
        "train"
    } else {
        "test"
    };
    ImageSet::new(
        format!("{name} {split_name}"),
        [1, height, width],
        classes,
        pixels,
        labels,
    )
}

fn find(dir: &Path, stem: &str, name: &str) -> Result<PathBuf> {
    for candidate in [dir.join(format!("{stem}.gz")), dir.join(stem)] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let mut hint = format!("expected {stem}.gz or {stem} ({name} in idx format)");
    if name == "fashion-mnist" {
        hint.push_str("; on Debian: apt-get install dataset-fashion-mnist");
    }
    Err(Error::Missing {
        path: dir.join(stem),
        hint,
    })
}

fn read_all(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| Error::format(path, format!("corrupt gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn parse_images(bytes: &[u8], path: &Path) -> Result<(usize, usize, usize, Vec<u8>)> {
    if bytes.len() < 16 || be_u32(bytes, 0) != IMAGES_MAGIC {
        return Err(Error::format(
            path,
            "not an idx image file (expected magic number 0x00000803: unsigned bytes, 3 dimensions)",
        ));
    }
    let count = be_u32(bytes, 4) as usize;
    let height = be_u32(bytes, 8) as usize;
    let width = be_u32(bytes, 12) as usize;
    let expected = count.checked_mul(height).and_then(|n| n.checked_mul(width));
    if expected != Some(bytes.len() - 16) {
        let expected = expected.map_or_else(|| "more than 2^64".into(), |e| e.to_string());
        return Err(Error::format(
            path,
            format!(
                "header promises {count} images of {height}x{width} ({expected} bytes), the file holds {}",
                bytes.len() - 16
            ),
        ));
    }
    Ok((count, height, width, bytes[16..].to_vec()))
}

fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u16>> {
    if bytes.len() < 8 || be_u32(bytes, 0) != LABELS_MAGIC {
        return Err(Error::format(
            path,
            "not an idx label file (expected magic number 0x00000801)",
        ));
    }
    let count = be_u32(bytes, 4) as usize;
    if bytes.len() - 8 != count {
        return Err(Error::format(
            path,
            format!(
                "header promises {count} labels, the file holds {}",
                bytes.len() - 8
            ),
        ));
    }
    Ok(bytes[8..].iter().map(|&b| b as u16).collect())
}

/// Writes an idx pair (images and labels) to `dir`: used to make small data sets in tests.
pub fn write(dir: &Path, split: Split, set: &ImageSet, gzip: bool) -> std::io::Result<()> {
    use std::io::Write;
    let prefix = if split == Split::Train {
        "train"
    } else {
        "t10k"
    };
    let mut images = Vec::new();
    images.extend(IMAGES_MAGIC.to_be_bytes());
    images.extend((set.len() as u32).to_be_bytes());
    images.extend((set.height as u32).to_be_bytes());
    images.extend((set.width as u32).to_be_bytes());
    let mut labels = Vec::new();
    labels.extend(LABELS_MAGIC.to_be_bytes());
    labels.extend((set.len() as u32).to_be_bytes());
    for i in 0..set.len() {
        images.extend_from_slice(set.image(i));
        labels.push(set.label(i) as u8);
    }
    for (stem, bytes) in [
        (format!("{prefix}-images-idx3-ubyte"), images),
        (format!("{prefix}-labels-idx1-ubyte"), labels),
    ] {
        if gzip {
            let file = std::fs::File::create(dir.join(format!("{stem}.gz")))?;
            let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            enc.write_all(&bytes)?;
            enc.finish()?;
        } else {
            std::fs::write(dir.join(stem), bytes)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{SyntheticConfig, generate};

    fn small() -> ImageSet {
        let config = SyntheticConfig {
            channels: 1,
            size: 8,
            per_class: 3,
            ..SyntheticConfig::default()
        };
        generate(&config, 5)
    }

    #[test]
    fn round_trips_gzipped_and_plain() {
        let set = small();
        for gzip in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), Split::Test, &set, gzip).unwrap();
            let back = load(dir.path(), Split::Test, "mnist").unwrap();
            assert_eq!(back.len(), set.len());
            assert_eq!(back.image(7), set.image(7));
            assert_eq!(back.label(7), set.label(7));
        }
    }

    #[test]
    fn truncated_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), Split::Train, &small(), false).unwrap();
        let images = dir.path().join("train-images-idx3-ubyte");
        let bytes = std::fs::read(&images).unwrap();
        std::fs::write(&images, &bytes[..bytes.len() - 5]).unwrap();
        let err = load(dir.path(), Split::Train, "mnist")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("train-images-idx3-ubyte: header promises"),
            "{err}"
        );
        let err = load(dir.path(), Split::Test, "fashion-mnist")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t10k-images-idx3-ubyte") && err.contains("apt-get install"),
            "{err}"
        );
        std::fs::write(&images, b"garbage").unwrap();
        let err = load(dir.path(), Split::Train, "mnist")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an idx image file"), "{err}");
    }
}
