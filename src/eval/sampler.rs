//! The evaluation loop on token ids: sample k completions per problem in batches, each sample
//! with its own seeded generator, decode, judge, and hand each finished batch of records on.

use anyhow::{Context, Result};
use burn::tensor::backend::Backend;
use std::collections::HashSet;

use super::judge::Judge;
use super::problem::{Decode, EvalProblem};
use super::record::{CompletionRecord, SampleKey};
use super::seed::sample_rng;
use super::settings::EvalSettings;
use crate::generation::{FinishReason, generate_per_row};
use crate::model::Qwen2ForCausalLm;

/// Token ids that end a completion, and the id used for padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopTokens {
    /// Ids that end a completion.
    pub stop_ids: Vec<u32>,
    /// Left-padding id.
    pub pad_id: u32,
}

/// The (problem index, sample) pairs still to generate, in problem then sample order.
pub fn pending_samples(
    problems: &[EvalProblem],
    k: usize,
    done: &HashSet<SampleKey>,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (i, p) in problems.iter().enumerate() {
        for s in 0..k {
            if !done.contains(&(p.dataset.clone(), p.id.clone(), s)) {
                out.push((i, s));
            }
        }
    }
    out
}

/// Samples and judges every sample of `problems` not in `done`, `settings.batch_size` sequences
/// at a time; `on_batch` receives each batch's records (in problem then sample order) as soon as
/// they are judged. A completion's text excludes its final stop token.
#[allow(clippy::too_many_arguments)]
pub fn sample_and_judge<B: Backend>(
    model: &Qwen2ForCausalLm<B>,
    problems: &[EvalProblem],
    settings: &EvalSettings,
    stops: &StopTokens,
    decode: &dyn Decode,
    judge: &dyn Judge,
    done: &HashSet<SampleKey>,
    mut on_batch: impl FnMut(&[CompletionRecord]) -> Result<()>,
) -> Result<()> {
    settings.validate()?;
    let config = settings.generation_config(stops.stop_ids.clone(), stops.pad_id);
    let pending = pending_samples(problems, settings.k, done);
    for batch in pending.chunks(settings.batch_size) {
        let prompts: Vec<Vec<u32>> = batch
            .iter()
            .map(|&(i, _)| problems[i].prompt_ids.clone())
            .collect();
        let mut rngs: Vec<_> = batch
            .iter()
            .map(|&(i, s)| sample_rng(settings.seed, &problems[i].dataset, &problems[i].id, s))
            .collect();
        let completions = generate_per_row(model, &prompts, &config, &mut rngs, |_| {});
        let mut records = Vec::with_capacity(batch.len());
        for (&(i, s), c) in batch.iter().zip(completions) {
            let p = &problems[i];
            let text_ids = match (c.finish, c.ids.split_last()) {
                (FinishReason::Stop, Some((_, rest))) => rest,
                _ => &c.ids[..],
            };
            let completion = decode
                .decode(text_ids)
                .with_context(|| format!("decoding a completion of {}/{}", p.dataset, p.id))?;
            let verdict = judge.judge(&p.gold, &completion);
            records.push(CompletionRecord {
                dataset: p.dataset.clone(),
                problem_id: p.id.clone(),
                sample: s,
                gold: p.gold.clone(),
                completion,
                length: c.ids.len(),
                finish: c.finish,
                extracted: verdict.extracted,
                correct: verdict.correct,
            });
        }
        on_batch(&records)?;
    }
    Ok(())
}
