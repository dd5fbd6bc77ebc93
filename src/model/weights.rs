//! Reading named tensors from a Hugging Face checkpoint: one `model.safetensors` or shards
//! listed in `model.safetensors.index.json`; f32, f16 and bf16 on disk.

use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::{DType, Tensor, TensorData, backend::Backend};
use memmap2::Mmap;
use safetensors::{Dtype as StDtype, SafeTensors};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Shape, dtype and raw bytes of a stored tensor.
type StoredTensor<'a> = (Vec<usize>, StDtype, &'a [u8]);

/// Memory-mapped safetensors files of one checkpoint and which file holds each tensor.
pub struct WeightStore {
    files: Vec<(PathBuf, Mmap)>,
    location: BTreeMap<String, usize>,
}

/// Name of the single-file checkpoint.
pub const SINGLE_FILE: &str = "model.safetensors";
/// Name of the shard index.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// Anything that hands out named tensors in checkpoint layout: a checkpoint on disk, or a
/// seeded random initialiser.
pub trait TensorSource {
    /// Tensor `name` with Burn shape `shape` (a stored `[out, in]` matrix is transposed to
    /// `[in, out]` when `transpose`), in `dtype` on `device`.
    fn load<B: Backend, const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        transpose: bool,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Tensor<B, D>>;
}

impl TensorSource for WeightStore {
    fn load<B: Backend, const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        transpose: bool,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Tensor<B, D>> {
        self.load_tensor(name, shape, transpose, dtype, device)
    }
}

impl WeightStore {
    /// Opens the checkpoint in `dir` (single file or sharded).
    pub fn open(dir: &Path) -> Result<Self> {
        let index = dir.join(INDEX_FILE);
        let single = dir.join(SINGLE_FILE);
        if index.exists() {
            let text = std::fs::read_to_string(&index)
                .with_context(|| format!("reading {}", index.display()))?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", index.display()))?;
            let map = json
                .get("weight_map")
                .and_then(|m| m.as_object())
                .ok_or_else(|| anyhow!("{}: missing object field `weight_map`", index.display()))?;
            let shards: BTreeSet<&str> = map.values().filter_map(|v| v.as_str()).collect();
            let paths: Vec<PathBuf> = shards.iter().map(|s| dir.join(s)).collect();
            Self::from_files(&paths)
        } else if single.exists() {
            Self::from_files(&[single])
        } else {
            bail!(
                "{}: no {SINGLE_FILE} or {INDEX_FILE} (is this a Hugging Face model directory?)",
                dir.display()
            )
        }
    }

    /// Maps the given safetensors files.
    pub fn from_files(paths: &[PathBuf]) -> Result<Self> {
        let mut files = Vec::new();
        let mut location = BTreeMap::new();
        for (i, path) in paths.iter().enumerate() {
            let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            // SAFETY: the checkpoint is treated as read-only for the lifetime of the store.
            let map = unsafe { Mmap::map(&file) }
                .with_context(|| format!("mapping {}", path.display()))?;
            let st = SafeTensors::deserialize(&map)
                .map_err(|e| anyhow!("{}: not a valid safetensors file: {e}", path.display()))?;
            for name in st.names() {
                location.insert(name.to_string(), i);
            }
            files.push((path.clone(), map));
        }
        Ok(Self { files, location })
    }

    /// Every tensor name in the checkpoint.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.location.keys().map(String::as_str)
    }

    /// Whether the checkpoint has a tensor of this name.
    pub fn contains(&self, name: &str) -> bool {
        self.location.contains_key(name)
    }

    /// Shape and dtype of a tensor as stored.
    pub fn info(&self, name: &str) -> Result<(Vec<usize>, StDtype)> {
        let (_, view) = self.view(name)?;
        Ok((view.0, view.1))
    }

    fn view(&self, name: &str) -> Result<(&Path, StoredTensor<'_>)> {
        let &i = self
            .location
            .get(name)
            .ok_or_else(|| anyhow!("missing weight tensor `{name}` in the checkpoint"))?;
        let (path, map) = &self.files[i];
        let st = SafeTensors::deserialize(map)
            .map_err(|e| anyhow!("{}: invalid safetensors: {e}", path.display()))?;
        let view = st
            .tensor(name)
            .map_err(|e| anyhow!("{}: tensor `{name}`: {e}", path.display()))?;
        Ok((path, (view.shape().to_vec(), view.dtype(), view.data())))
    }

    /// Loads tensor `name`, checking it has `shape` as stored, converted to `dtype`.
    /// With `transpose`, a stored `[out, in]` matrix becomes Burn's `[in, out]`.
    pub fn load_tensor<B: Backend, const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        transpose: bool,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Tensor<B, D>> {
        let (path, (found, st_dtype, bytes)) = self.view(name)?;
        let expected = stored_shape(shape, transpose);
        if found != expected {
            bail!(
                "weight tensor `{name}` in {} has shape {found:?}, expected {expected:?}",
                path.display()
            );
        }
        let stored = burn_dtype(st_dtype)
            .ok_or_else(|| anyhow!("weight tensor `{name}` has unsupported dtype {st_dtype:?}"))?;
        let elem = stored.size();
        let raw = if transpose && D == 2 {
            transpose_bytes(bytes, found[0], found[1], elem)
        } else {
            bytes.to_vec()
        };
        let data = TensorData::from_bytes_vec(raw, shape, stored).convert_dtype(dtype);
        Ok(Tensor::from_data(data, (device, dtype)))
    }
}

/// The Burn dtype of a safetensors dtype, for the float types checkpoints use.
pub fn burn_dtype(dtype: StDtype) -> Option<DType> {
    match dtype {
        StDtype::F32 => Some(DType::F32),
        StDtype::F16 => Some(DType::F16),
        StDtype::BF16 => Some(DType::BF16),
        StDtype::F64 => Some(DType::F64),
        _ => None,
    }
}

/// The shape a tensor of Burn shape `shape` has on disk: a transposed matrix is stored `[out, in]`.
pub fn stored_shape<const D: usize>(shape: [usize; D], transpose: bool) -> [usize; D] {
    let mut stored = shape;
    if transpose && D == 2 {
        stored.swap(0, 1);
    }
    stored
}

/// Transposes a row-major `[rows, cols]` matrix of `elem`-byte elements.
pub fn transpose_bytes(bytes: &[u8], rows: usize, cols: usize, elem: usize) -> Vec<u8> {
    let mut out = vec![0u8; bytes.len()];
    for r in 0..rows {
        for c in 0..cols {
            let src = (r * cols + c) * elem;
            let dst = (c * rows + r) * elem;
            out[dst..dst + elem].copy_from_slice(&bytes[src..src + elem]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_two_byte_elements() {
        // [[1, 2, 3], [4, 5, 6]] as u16 -> [[1, 4], [2, 5], [3, 6]]
        let src: Vec<u8> = [1u16, 2, 3, 4, 5, 6]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let out = transpose_bytes(&src, 2, 3, 2);
        let vals: Vec<u16> = out
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(vals, vec![1, 4, 2, 5, 3, 6]);
    }
}
