//! State dicts in files: safetensors (read and written) and PyTorch `.pth`/`.pt` checkpoints
//! (read, through Burn's `pytorch-reader`, without PyTorch).

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::error::{Error, Result};
use crate::state_dict::{StateDict, StoredTensor};

/// Reads a state dict from `path`: safetensors for `.safetensors`, otherwise a PyTorch
/// checkpoint (`torch.save` of a state dict, or of a dict holding one under `state_dict`, as
/// the official checkpoints do). A `module.` prefix (`DataParallel`) is dropped.
pub fn read_state_dict(path: &Path) -> Result<StateDict> {
    let is_safetensors = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
    let sd = if is_safetensors {
        read_safetensors(path)?
    } else {
        read_pth(path)?
    };
    Ok(sd.strip_prefix("state_dict.").strip_prefix("module."))
}

/// Writes `sd` as safetensors (float32, names sorted) into `path` atomically: a temporary
/// file beside it, then a rename, so `path` is never half-written.
pub fn write_safetensors(path: &Path, sd: &StateDict) -> Result<()> {
    let bytes: BTreeMap<&str, (Vec<usize>, Vec<u8>)> = sd
        .tensors
        .iter()
        .map(|(name, t)| {
            let raw = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name.as_str(), (t.shape.clone(), raw))
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, (shape, raw))| {
            let view = TensorView::new(Dtype::F32, shape.clone(), raw)
                .map_err(|e| Error::format(path, format!("tensor '{name}': {e}")))?;
            Ok((*name, view))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = [("format".to_string(), "pt".to_string())].into();
    let buffer = safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::format(path, e.to_string()))?;
    write_atomic(path, &buffer)
}

/// Writes `contents` to a temporary file beside `path`, then renames it into place.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    proxyless_plumbing::write_atomic(path, contents).map_err(|e| Error::io(path, e))
}

/// Reads a safetensors file; float tensors of any width are converted to f32.
pub fn read_safetensors(path: &Path) -> Result<StateDict> {
    let buffer = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let file = SafeTensors::deserialize(&buffer)
        .map_err(|e| Error::format(path, format!("not a safetensors file: {e}")))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.tensors() {
        let values = match view.dtype() {
            Dtype::F32 => decode(view.data(), f32::from_le_bytes),
            Dtype::F64 => decode(view.data(), |b| f64::from_le_bytes(b) as f32),
            Dtype::F16 => decode(view.data(), |b| half::f16::from_le_bytes(b).to_f32()),
            Dtype::BF16 => decode(view.data(), |b| half::bf16::from_le_bytes(b).to_f32()),
            Dtype::I64 if name.ends_with("num_batches_tracked") => {
                decode(view.data(), |b| i64::from_le_bytes(b) as f32)
            }
            other => {
                return Err(Error::format(
                    path,
                    format!("tensor '{name}' has element type {other:?}; expected a float type"),
                ));
            }
        };
        let shape = view.shape().to_vec();
        tensors.insert(name, StoredTensor { shape, values });
    }
    Ok(StateDict { tensors })
}

/// Reads a PyTorch checkpoint written by `torch.save`.
pub fn read_pth(path: &Path) -> Result<StateDict> {
    use pytorch_reader::{DType, PytorchReader};
    let reader = PytorchReader::new(path)
        .map_err(|e| Error::format(path, format!("not a PyTorch checkpoint: {e}")))?;
    let mut tensors = BTreeMap::new();
    for (name, tensor) in reader.into_tensors() {
        let bytes = tensor
            .read()
            .map_err(|e| Error::format(path, e.to_string()))?;
        // The reader returns native-endian bytes.
        let values = match tensor.dtype() {
            DType::F32 => decode(&bytes, f32::from_ne_bytes),
            DType::F64 => decode(&bytes, |b| f64::from_ne_bytes(b) as f32),
            DType::F16 => decode(&bytes, |b| half::f16::from_ne_bytes(b).to_f32()),
            DType::BF16 => decode(&bytes, |b| half::bf16::from_ne_bytes(b).to_f32()),
            // Integer buffers (`num_batches_tracked`) and other non-weights are skipped here
            // and reported by name if the network would have needed them.
            _ => continue,
        };
        let shape = tensor.shape().to_vec();
        tensors.insert(name, StoredTensor { shape, values });
    }
    if tensors.is_empty() {
        return Err(Error::format(path, "holds no float tensors"));
    }
    Ok(StateDict { tensors })
}

fn decode<const N: usize>(bytes: &[u8], f: impl Fn([u8; N]) -> f32) -> Vec<f32> {
    bytes
        .chunks_exact(N)
        .map(|c| f(c.try_into().expect("chunks of N bytes")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StateDict {
        let mut sd = StateDict::default();
        sd.tensors.insert(
            "a.weight".into(),
            StoredTensor {
                shape: vec![2, 3],
                values: vec![1.0, -2.0, 3.5, 0.0, 1e-8, -7.25],
            },
        );
        sd.tensors.insert(
            "b.bias".into(),
            StoredTensor {
                shape: vec![1],
                values: vec![0.5],
            },
        );
        sd
    }

    #[test]
    fn safetensors_round_trip_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        write_safetensors(&path, &sample()).unwrap();
        assert_eq!(read_state_dict(&path).unwrap(), sample());
        // Nothing but the file itself is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn bad_files_name_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.safetensors");
        std::fs::write(&bad, b"not a tensor file").unwrap();
        let err = read_state_dict(&bad).unwrap_err().to_string();
        assert!(
            err.contains("bad.safetensors") && err.contains("not a safetensors"),
            "{err}"
        );
        let pth = dir.path().join("bad.pth");
        std::fs::write(&pth, b"garbage").unwrap();
        let err = read_state_dict(&pth).unwrap_err().to_string();
        assert!(
            err.contains("bad.pth") && err.contains("not a PyTorch checkpoint"),
            "{err}"
        );
        let missing = dir.path().join("missing.pth");
        let err = read_state_dict(&missing).unwrap_err().to_string();
        assert!(err.contains("missing.pth"), "{err}");
    }
}
