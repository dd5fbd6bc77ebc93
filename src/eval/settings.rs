//! How an evaluation samples: k, temperature, nucleus, token limit, seed, batch size.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::generation::{GenerationConfig, SamplingParams};

/// Sampling settings of an evaluation. Greedy decoding (`temperature` 0, `k` 1) is the
/// validation the trainer runs; `k` 16 at temperature 1 is the paper's avg@16.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSettings {
    /// Samples per problem.
    pub k: usize,
    /// Temperature (0 = greedy), top-p, top-k.
    pub sampling: SamplingParams,
    /// Most new tokens per completion.
    pub max_new_tokens: usize,
    /// Seed every per-sample generator derives from.
    pub seed: u64,
    /// Sequences per generation batch (does not change results).
    pub batch_size: usize,
}

impl EvalSettings {
    /// Greedy decoding, one sample per problem.
    pub fn greedy(max_new_tokens: usize, batch_size: usize) -> Self {
        Self {
            k: 1,
            sampling: SamplingParams::greedy(),
            max_new_tokens,
            seed: 0,
            batch_size,
        }
    }

    /// Checks the values are usable.
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 {
            bail!("k must be at least 1");
        }
        if self.batch_size == 0 {
            bail!("batch size must be at least 1");
        }
        if self.max_new_tokens == 0 {
            bail!("max new tokens must be at least 1");
        }
        let t = self.sampling.temperature;
        if !t.is_finite() || t < 0.0 {
            bail!("temperature must be finite and non-negative, got {t}");
        }
        let p = self.sampling.top_p;
        if !(p > 0.0 && p <= 1.0) {
            bail!("top-p must be in (0, 1], got {p}");
        }
        Ok(())
    }

    /// The generation config with the model's stop and pad ids.
    pub fn generation_config(&self, stop_ids: Vec<u32>, pad_id: u32) -> GenerationConfig {
        GenerationConfig {
            sampling: self.sampling.clone(),
            max_new_tokens: self.max_new_tokens,
            stop_ids,
            pad_id,
        }
    }

    /// The settings that decide the completions (all but the batch size), as JSON: a resumed
    /// evaluation must match them.
    pub fn fingerprint(&self) -> serde_json::Value {
        serde_json::json!({
            "k": self.k,
            "temperature": self.sampling.temperature,
            "top_p": self.sampling.top_p,
            "top_k": self.sampling.top_k,
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
        })
    }

    /// The temperature as the history file name writes it (`1.0`, `0.6`, `0.0`).
    pub fn temperature_label(&self) -> String {
        format!("{:?}", self.sampling.temperature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_and_labels() {
        let mut s = EvalSettings::greedy(16, 4);
        s.validate().unwrap();
        assert_eq!(s.temperature_label(), "0.0");
        s.sampling.temperature = 0.6;
        assert_eq!(s.temperature_label(), "0.6");
        s.sampling.top_p = 0.0;
        assert!(s.validate().is_err());
        s.sampling.top_p = 1.0;
        s.k = 0;
        assert!(s.validate().is_err());
    }
}
