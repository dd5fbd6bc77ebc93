//! A causal LM loaded from a model directory, preset or hub id, with its generation defaults.

use anyhow::{Context, Result};
use burn::tensor::{DType, backend::Backend};
use std::path::{Path, PathBuf};

use super::config::{Qwen2Config, json_ids};
use super::hub::resolve_model_dir;
use super::loader::load_causal_lm;
use super::qwen2::Qwen2ForCausalLm;

/// Stop and pad ids a model directory declares (`generation_config.json`, then `config.json`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationDefaults {
    /// End-of-sequence ids.
    pub eos_ids: Vec<u32>,
    /// Padding id, if declared.
    pub pad_id: Option<u32>,
}

impl GenerationDefaults {
    /// Reads `generation_config.json` in `dir` when present, falling back to `config`'s eos ids.
    pub fn read(dir: &Path, config: &Qwen2Config) -> Result<Self> {
        let path = dir.join("generation_config.json");
        let mut out = Self {
            eos_ids: config.eos_ids(),
            pad_id: None,
        };
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", path.display()))?;
            let eos = json_ids(json.get("eos_token_id"));
            if !eos.is_empty() {
                out.eos_ids = eos;
            }
            out.pad_id = json_ids(json.get("pad_token_id")).first().copied();
        }
        Ok(out)
    }
}

/// A loaded causal LM and where it came from.
pub struct PretrainedLm<B: Backend> {
    /// The network.
    pub model: Qwen2ForCausalLm<B>,
    /// Its hyper-parameters.
    pub config: Qwen2Config,
    /// The directory the files were read from.
    pub dir: PathBuf,
    /// Declared stop/pad ids.
    pub generation: GenerationDefaults,
}

/// Loads `spec` (directory, preset or hub id) computing in `dtype` on `device`.
pub fn load_pretrained<B: Backend>(
    spec: &str,
    dtype: DType,
    device: &B::Device,
) -> Result<PretrainedLm<B>> {
    let dir = resolve_model_dir(spec)?;
    let config = Qwen2Config::from_file(&dir.join("config.json"))?;
    let model = load_causal_lm(&dir, &config, dtype, device)?;
    let generation = GenerationDefaults::read(&dir, &config)?;
    Ok(PretrainedLm {
        model,
        config,
        dir,
        generation,
    })
}
