//! The Qwen2 architecture hyper-parameters, read from a Hugging Face `config.json`.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Hyper-parameters of a Qwen2 decoder, as in a Hugging Face `config.json`.
///
/// Both layouts transformers writes are accepted: 4.x (top-level `rope_theta`, `torch_dtype`) and
/// 5.x (`rope_parameters.rope_theta`, `dtype`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qwen2Config {
    /// Vocabulary size (rows of the embedding matrix).
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the SwiGLU MLP's hidden layer.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads (grouped-query attention when smaller than the query heads).
    pub num_key_value_heads: usize,
    /// Per-head width; `hidden_size / num_attention_heads` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<usize>,
    /// Longest position the model was trained for (informational; positions are not capped).
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Epsilon of every RMSNorm.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// Base of the rotary embedding frequencies (4.x layout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_theta: Option<f64>,
    /// Rotary parameters (5.x layout): `{"rope_type": "default", "rope_theta": ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_parameters: Option<RopeParameters>,
    /// Rotary scaling (4.x layout); only `null` or type `default` are supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_scaling: Option<serde_json::Value>,
    /// Whether the LM head shares the embedding matrix.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Storage dtype of the checkpoint (4.x name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torch_dtype: Option<String>,
    /// Storage dtype of the checkpoint (5.x name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<String>,
    /// Sliding-window attention switch; must be false (Qwen2.5 ships with it off).
    #[serde(default)]
    pub use_sliding_window: bool,
    /// End-of-sequence id(s) from the config, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eos_token_id: Option<serde_json::Value>,
    /// Architecture names (`Qwen2ForCausalLM`, `Qwen2ForProcessRewardModel`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architectures: Option<Vec<String>>,
}

/// The 5.x `rope_parameters` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RopeParameters {
    /// Rotary variant; only `default` is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_type: Option<String>,
    /// Base of the rotary frequencies.
    pub rope_theta: f64,
}

fn default_max_position_embeddings() -> usize {
    32768
}

fn default_rms_norm_eps() -> f64 {
    1e-6
}

impl Qwen2Config {
    /// Reads and validates `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading model config {}", path.display()))?;
        Self::from_json(&text).with_context(|| format!("in model config {}", path.display()))
    }

    /// Parses and validates a `config.json` text.
    pub fn from_json(text: &str) -> Result<Self> {
        let config: Self = serde_json::from_str(text).context("parsing config.json")?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the invariants the model code relies on.
    pub fn validate(&self) -> Result<()> {
        if self.num_attention_heads == 0 || self.num_key_value_heads == 0 {
            bail!("field `num_attention_heads`/`num_key_value_heads` must be positive");
        }
        if !self
            .num_attention_heads
            .is_multiple_of(self.num_key_value_heads)
        {
            bail!(
                "field `num_attention_heads` ({}) must be a multiple of `num_key_value_heads` ({})",
                self.num_attention_heads,
                self.num_key_value_heads
            );
        }
        if self.head_dim() == 0 || !self.head_dim().is_multiple_of(2) {
            bail!(
                "field `head_dim` ({}) must be even and positive",
                self.head_dim()
            );
        }
        if self.use_sliding_window {
            bail!("field `use_sliding_window` = true is not supported");
        }
        if let Some(scaling) = &self.rope_scaling {
            let kind = scaling.get("rope_type").or_else(|| scaling.get("type"));
            if !scaling.is_null() && kind.and_then(|k| k.as_str()) != Some("default") {
                bail!("field `rope_scaling` = {scaling} is not supported (only default rotary)");
            }
        }
        if let Some(p) = &self.rope_parameters
            && let Some(kind) = &p.rope_type
            && kind != "default"
        {
            bail!("field `rope_parameters.rope_type` = {kind:?} is not supported (only default)");
        }
        Ok(())
    }

    /// Per-head width.
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// Rotary base, from whichever layout the file used (10000 when absent, as transformers).
    pub fn rope_theta(&self) -> f64 {
        self.rope_parameters
            .as_ref()
            .map(|p| p.rope_theta)
            .or(self.rope_theta)
            .unwrap_or(10000.0)
    }

    /// Storage dtype named by the file (`float32`, `bfloat16`, `float16`), if any.
    pub fn stored_dtype(&self) -> Option<&str> {
        self.dtype.as_deref().or(self.torch_dtype.as_deref())
    }

    /// End-of-sequence ids listed in the config.
    pub fn eos_ids(&self) -> Vec<u32> {
        json_ids(self.eos_token_id.as_ref())
    }

    /// Parameter count of the decoder (embedding included once when tied).
    pub fn num_parameters(&self) -> usize {
        let h = self.hidden_size;
        let kv = self.num_key_value_heads * self.head_dim();
        let q = self.num_attention_heads * self.head_dim();
        let attn = h * q + q + 2 * (h * kv + kv) + q * h;
        let mlp = 3 * h * self.intermediate_size;
        let layer = attn + mlp + 2 * h;
        let embed = self.vocab_size * h;
        let head = if self.tie_word_embeddings { 0 } else { embed };
        embed + head + self.num_hidden_layers * layer + h
    }
}

/// Reads a JSON value that is an id or a list of ids.
pub fn json_ids(value: Option<&serde_json::Value>) -> Vec<u32> {
    match value {
        Some(serde_json::Value::Number(n)) => {
            n.as_u64().map(|v| vec![v as u32]).unwrap_or_default()
        }
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_u64().map(|v| v as u32))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn absent_optional_keys_are_not_written_as_null() {
        // transformers reads `"head_dim": null` as a head size of None and fails to build.
        let c = super::Qwen2Config::from_json(
            r#"{"vocab_size": 8, "hidden_size": 4, "intermediate_size": 8,
                "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1}"#,
        )
        .unwrap();
        let text = serde_json::to_string(&c).unwrap();
        assert!(!text.contains("null"), "{text}");
        assert_eq!(super::Qwen2Config::from_json(&text).unwrap(), c);
    }

    use super::*;

    const V4: &str = r#"{"vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
        "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
        "rope_theta": 1000000.0, "torch_dtype": "bfloat16", "tie_word_embeddings": true,
        "eos_token_id": 3}"#;
    const V5: &str = r#"{"vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
        "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
        "dtype": "bfloat16", "eos_token_id": [3, 4]}"#;

    #[test]
    fn reads_both_transformers_layouts() {
        let a = Qwen2Config::from_json(V4).unwrap();
        let b = Qwen2Config::from_json(V5).unwrap();
        assert_eq!(a.rope_theta(), 1e6);
        assert_eq!(b.rope_theta(), 1e6);
        assert_eq!(a.stored_dtype(), Some("bfloat16"));
        assert_eq!(b.stored_dtype(), Some("bfloat16"));
        assert_eq!(a.head_dim(), 4);
        assert_eq!(a.eos_ids(), vec![3]);
        assert_eq!(b.eos_ids(), vec![3, 4]);
    }

    #[test]
    fn rejects_bad_head_counts() {
        let bad = V4.replace("\"num_key_value_heads\": 1", "\"num_key_value_heads\": 3");
        let err = Qwen2Config::from_json(&bad).unwrap_err();
        assert!(format!("{err:#}").contains("num_key_value_heads"));
    }
}
