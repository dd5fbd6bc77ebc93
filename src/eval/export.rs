//! Exporting a checkpoint as a Hugging Face model directory that transformers loads:
//! `config.json` (the checkpoint's, its dtype field set to the dtype written),
//! `model.safetensors` or shards plus `model.safetensors.index.json` (Hugging Face tensor names,
//! `[out, in]` linear weights), `generation_config.json` (copied, or made from the config's
//! special ids) and the tokenizer files found. The directory is written under a temporary name
//! beside the target and renamed into place, so it exists complete or not at all.

use anyhow::{Context, Result, bail};
use burn::tensor::{DType, backend::Backend};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

use crate::model::config::Qwen2Config;
use crate::model::dtype::parse_dtype;
use crate::model::export::{causal_lm_tensors, write_safetensors};
use crate::model::load_causal_lm;

/// Tokenizer files copied when present.
pub const TOKENIZER_FILES: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "chat_template.jinja",
];

/// Default largest shard, as transformers' `save_pretrained` (5 GB).
pub const DEFAULT_MAX_SHARD_BYTES: usize = 5_000_000_000;

/// What to export and how.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// dtype of the written tensors; `None` keeps the one the checkpoint's config names
    /// (`dtype`/`torch_dtype`), f32 when it names none.
    pub dtype: Option<DType>,
    /// Largest safetensors file; more tensors go to further shards.
    pub max_shard_bytes: usize,
    /// Where tokenizer files come from (default: the checkpoint directory).
    pub tokenizer_dir: Option<PathBuf>,
    /// Replace an existing output directory.
    pub overwrite: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            dtype: None,
            max_shard_bytes: DEFAULT_MAX_SHARD_BYTES,
            tokenizer_dir: None,
            overwrite: false,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    /// The output directory.
    pub dir: PathBuf,
    /// dtype of the tensors written.
    pub dtype: DType,
    /// Every file written, by name.
    pub files: Vec<String>,
    /// Tokenizer files copied.
    pub tokenizer_files: Vec<String>,
}

/// The config's name of a dtype (`float32`, `bfloat16`, `float16`).
pub fn torch_dtype_name(dtype: DType) -> Result<&'static str> {
    Ok(match dtype {
        DType::F32 => "float32",
        DType::BF16 => "bfloat16",
        DType::F16 => "float16",
        other => bail!("cannot export dtype {other:?}"),
    })
}

/// Exports the checkpoint in `checkpoint` to `out` (see the module docs), loading it on `B`.
pub fn export_hf_dir<B: Backend>(
    checkpoint: &Path,
    out: &Path,
    options: &ExportOptions,
    device: &B::Device,
) -> Result<ExportSummary> {
    let config_path = checkpoint.join("config.json");
    let config = Qwen2Config::from_file(&config_path)?;
    let mut raw: Value = serde_json::from_str(
        &std::fs::read_to_string(&config_path)
            .with_context(|| format!("reading {}", config_path.display()))?,
    )
    .with_context(|| format!("parsing {}", config_path.display()))?;
    let dtype = match (options.dtype, config.stored_dtype()) {
        (Some(d), _) => d,
        (None, Some(name)) => parse_dtype(name)
            .with_context(|| format!("{}: field `dtype`", config_path.display()))?,
        (None, None) => DType::F32,
    };
    let dtype_name = torch_dtype_name(dtype)?;
    if out.exists() && !options.overwrite {
        bail!(
            "{} already exists (pass --overwrite to replace it)",
            out.display()
        );
    }
    // Loading in f32 is exact for f32, bf16 and f16 checkpoints alike.
    let model = load_causal_lm::<B>(checkpoint, &config, DType::F32, device)?;

    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("invalid output directory {}", out.display()))?;
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let written = (|| -> Result<Vec<String>> {
        write_safetensors(
            &tmp,
            causal_lm_tensors(&model),
            dtype,
            options.max_shard_bytes,
        )?;
        drop(model);
        set_dtype_field(&mut raw, dtype_name);
        write_json(&tmp.join("config.json"), &raw)?;
        write_generation_config(checkpoint, &raw, &tmp)?;
        let tok_dir = options.tokenizer_dir.as_deref().unwrap_or(checkpoint);
        for file in TOKENIZER_FILES {
            let src = tok_dir.join(file);
            if src.is_file() {
                std::fs::copy(&src, tmp.join(file))
                    .with_context(|| format!("copying {}", src.display()))?;
            }
        }
        let mut files: Vec<String> = std::fs::read_dir(&tmp)?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        files.sort();
        Ok(files)
    })();
    let files = match written {
        Ok(files) => files,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if out.exists() {
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        std::fs::rename(out, &old).with_context(|| format!("moving aside {}", out.display()))?;
        std::fs::rename(&tmp, out)
            .with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
        std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    } else {
        std::fs::rename(&tmp, out)
            .with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
    }
    let tokenizer_files = files
        .iter()
        .filter(|f| TOKENIZER_FILES.contains(&f.as_str()))
        .cloned()
        .collect();
    Ok(ExportSummary {
        dir: out.to_path_buf(),
        dtype,
        files,
        tokenizer_files,
    })
}

/// Sets the config's dtype: in each of `dtype` (transformers 5) and `torch_dtype` (4.x) that the
/// file has, or as `torch_dtype` (read by both) when it has neither.
fn set_dtype_field(raw: &mut Value, name: &str) {
    let Some(obj) = raw.as_object_mut() else {
        return;
    };
    let mut set = false;
    for key in ["dtype", "torch_dtype"] {
        if obj.contains_key(key) {
            obj.insert(key.to_string(), json!(name));
            set = true;
        }
    }
    if !set {
        obj.insert("torch_dtype".into(), json!(name));
    }
}

/// Copies `generation_config.json`, or writes one with the config's bos/eos/pad ids.
fn write_generation_config(checkpoint: &Path, config: &Value, dir: &Path) -> Result<()> {
    let src = checkpoint.join("generation_config.json");
    if src.is_file() {
        std::fs::copy(&src, dir.join("generation_config.json"))
            .with_context(|| format!("copying {}", src.display()))?;
        return Ok(());
    }
    let mut generation = serde_json::Map::new();
    for key in ["bos_token_id", "eos_token_id", "pad_token_id"] {
        if let Some(v) = config.get(key).filter(|v| !v.is_null()) {
            generation.insert(key.into(), v.clone());
        }
    }
    write_json(
        &dir.join("generation_config.json"),
        &Value::Object(generation),
    )
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_field_follows_the_file_layout() {
        let mut v5 = json!({"dtype": "float32"});
        set_dtype_field(&mut v5, "bfloat16");
        assert_eq!(v5, json!({"dtype": "bfloat16"}));
        let mut v4 = json!({"torch_dtype": "float32"});
        set_dtype_field(&mut v4, "float16");
        assert_eq!(v4, json!({"torch_dtype": "float16"}));
        let mut none = json!({});
        set_dtype_field(&mut none, "float32");
        assert_eq!(none, json!({"torch_dtype": "float32"}));
    }
}
