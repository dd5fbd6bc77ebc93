//! Rollout: `n` completions per prompt from the current policy, on the inference backend.

use anyhow::Result;
use burn::tensor::backend::Backend;
use rand::Rng;

use crate::generation::{FinishReason, GenerationConfig, generate};
use crate::model::Qwen2ForCausalLm;
use crate::tokenizer::Tokenizer;

/// One sampled completion.
#[derive(Debug, Clone)]
pub struct Rollout {
    /// Index of its prompt in the step's batch (its GRPO group).
    pub group: usize,
    /// Prompt token ids.
    pub prompt_ids: Vec<u32>,
    /// Completion token ids (the stop id included when it stopped).
    pub ids: Vec<u32>,
    /// Log-probs of `ids` under the sampling policy.
    pub logprobs: Vec<f32>,
    /// Whether it hit the length limit.
    pub truncated: bool,
    /// Decoded text (special tokens removed).
    pub text: String,
}

#[allow(clippy::too_many_arguments)]
/// Samples `n` completions for each prompt, `max_batch` sequences per generation call (0 = all
/// at once); `on_done(k)` reports finished sequences.
pub fn sample_groups<B: Backend, R: Rng + ?Sized>(
    policy: &Qwen2ForCausalLm<B>,
    tokenizer: &Tokenizer,
    prompts: &[Vec<u32>],
    n: usize,
    config: &GenerationConfig,
    max_batch: usize,
    rng: &mut R,
    mut on_done: impl FnMut(usize),
) -> Result<Vec<Rollout>> {
    let mut jobs: Vec<(usize, &Vec<u32>)> = Vec::with_capacity(prompts.len() * n);
    for (g, p) in prompts.iter().enumerate() {
        for _ in 0..n {
            jobs.push((g, p));
        }
    }
    let chunk = if max_batch == 0 {
        jobs.len().max(1)
    } else {
        max_batch
    };
    let mut out = Vec::with_capacity(jobs.len());
    for part in jobs.chunks(chunk) {
        let batch: Vec<Vec<u32>> = part.iter().map(|(_, p)| (*p).clone()).collect();
        let mut running = batch.len();
        let completions = generate(policy, &batch, config, rng, |still| {
            if still < running {
                on_done(running - still);
                running = still;
            }
        });
        for ((g, p), c) in part.iter().zip(completions) {
            let text = tokenizer.decode(&c.ids, true)?;
            out.push(Rollout {
                group: *g,
                prompt_ids: (*p).clone(),
                truncated: c.finish == FinishReason::Length,
                ids: c.ids,
                logprobs: c.logprobs,
                text,
            });
        }
    }
    Ok(out)
}
