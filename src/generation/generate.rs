//! Batched generation with a KV cache: the prompts are left-padded and prefilled once, then one
//! token per step is decoded for the rows still running. Rows that finish leave the batch (their
//! cache rows are dropped), so finished sequences stop costing compute.

use burn::tensor::{DType, Int, Tensor, TensorData, backend::Backend};
use rand::Rng;
use serde::{Deserialize, Serialize};

use rayon::prelude::*;

use super::cpu_head;
use super::device_sampling::{self, DeviceSampler};
use super::sampling::{Sampled, SamplingParams, draw, sample_with_draw};
use crate::host::flex::is_flex;
use crate::model::decode_kernels;
use crate::model::qwen2::{Batch, causal_padding_mask, ids_tensor};
use crate::model::{AttentionMask, Qwen2ForCausalLm};

/// Why a sequence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// It produced a stop id (kept as its last token).
    Stop,
    /// It reached the new-token limit.
    Length,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationConfig {
    /// Token choice.
    pub sampling: SamplingParams,
    /// Most new tokens per sequence.
    pub max_new_tokens: usize,
    /// Ids that end a sequence (eos, `<|im_end|>`, `<|endoftext|>`, ...).
    pub stop_ids: Vec<u32>,
    /// Pad id used for left padding (never attended to).
    pub pad_id: u32,
}

/// One generated sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// New token ids (a stop id, when hit, is the last one).
    pub ids: Vec<u32>,
    /// Log-probability of each new token under the sampling distribution (see [`super::sample_token`]).
    pub logprobs: Vec<f32>,
    /// Why it ended.
    pub finish: FinishReason,
}

/// Picks the next token of every row from the hidden states' last position: `draws[i]` is row
/// `i`'s uniform draw (unused when greedy). On the CPU backend the host samples from logits
/// computed by the fused head (or read back), rows in parallel; on other backends, untruncated
/// sampling runs on the device ([`device_sampling`], `sampler` made at the first step) unless
/// [`decode_kernels`] says otherwise, and the rest on the host from logits read back.
fn pick_next<B: Backend>(
    model: &Qwen2ForCausalLm<B>,
    hidden: Tensor<B, 3>,
    sampling: &SamplingParams,
    draws: &[f64],
    sampler: &mut Option<DeviceSampler<B>>,
) -> Vec<Sampled> {
    let last = last_position(hidden);
    let b = last.dims()[0];
    let host_logits = match cpu_head::logits(&last, &model.output_matrix()) {
        Some(logits) => logits,
        None => {
            let logits = model.logits(last.unsqueeze_dim(1)).reshape([b as i32, -1]);
            let vocab = logits.dims()[1];
            let on_device = !is_flex::<B>() && decode_kernels::current().device_sampling;
            if on_device && device_sampling::handles(sampling, vocab) {
                let sampler =
                    sampler.get_or_insert_with(|| DeviceSampler::new(vocab, &logits.device()));
                return sampler.sample(logits, sampling, draws);
            }
            read_back(logits)
        }
    };
    let vocab = host_logits.len() / b;
    host_logits
        .par_chunks(vocab)
        .zip(draws.par_iter())
        .map(|(row, &u)| sample_with_draw(row, sampling, u))
        .collect()
}

/// The logits `[rows, vocab]` (row-major, f32, on the host) of the last position of `hidden
/// [rows, positions, H]`, through the head a decoding step uses: the fused CPU head on the CPU
/// backend, the model's [`Qwen2ForCausalLm::logits`] read back elsewhere.
pub fn last_position_logits<B: Backend>(
    model: &Qwen2ForCausalLm<B>,
    hidden: Tensor<B, 3>,
) -> Vec<f32> {
    let last = last_position(hidden);
    cpu_head::logits(&last, &model.output_matrix())
        .unwrap_or_else(|| read_back(model.logits(last.unsqueeze_dim(1))))
}

/// `hidden [rows, positions, H]`'s last position, `[rows, H]`.
fn last_position<B: Backend>(hidden: Tensor<B, 3>) -> Tensor<B, 2> {
    let [b, s, h] = hidden.dims();
    hidden.slice([0..b, s - 1..s, 0..h]).reshape([b, h])
}

/// A tensor's values as f32 on the host.
fn read_back<B: Backend, const D: usize>(logits: Tensor<B, D>) -> Vec<f32> {
    logits
        .cast(DType::F32)
        .into_data()
        .to_vec()
        .expect("f32 logits")
}

/// Generates one completion per prompt. `on_token` is called after every decoding step with the
/// number of rows still running (for progress bars).
pub fn generate<B: Backend, R: Rng + ?Sized>(
    model: &Qwen2ForCausalLm<B>,
    prompts: &[Vec<u32>],
    config: &GenerationConfig,
    rng: &mut R,
    on_token: impl FnMut(usize),
) -> Vec<Completion> {
    generate_with(
        model,
        prompts,
        config,
        |rows| rows.iter().map(|_| draw(&config.sampling, rng)).collect(),
        on_token,
    )
}

/// As [`generate`], but row `i` draws only from `rngs[i]`: each completion depends on its own
/// generator, not on which other prompts share the batch (evaluation seeds every sample alone).
pub fn generate_per_row<B: Backend, R: Rng>(
    model: &Qwen2ForCausalLm<B>,
    prompts: &[Vec<u32>],
    config: &GenerationConfig,
    rngs: &mut [R],
    on_token: impl FnMut(usize),
) -> Vec<Completion> {
    assert_eq!(rngs.len(), prompts.len(), "one generator per prompt");
    generate_with(
        model,
        prompts,
        config,
        |rows| {
            rows.iter()
                .map(|&row| draw(&config.sampling, &mut rngs[row]))
                .collect()
        },
        on_token,
    )
}

/// The decoding loop; `draws(rows)` gives the uniform draws of the running prompts `rows` for
/// one step (in that order).
fn generate_with<B: Backend>(
    model: &Qwen2ForCausalLm<B>,
    prompts: &[Vec<u32>],
    config: &GenerationConfig,
    mut draws: impl FnMut(&[usize]) -> Vec<f64>,
    mut on_token: impl FnMut(usize),
) -> Vec<Completion> {
    let device = model.model.embed_tokens.weight.val().device();
    let n = prompts.len();
    let mut out: Vec<Completion> = (0..n)
        .map(|_| Completion {
            ids: Vec::new(),
            logprobs: Vec::new(),
            finish: FinishReason::Length,
        })
        .collect();
    if n == 0 || config.max_new_tokens == 0 {
        return out;
    }
    assert!(
        prompts.iter().all(|p| !p.is_empty()),
        "prompts must not be empty"
    );
    let prompt_len = prompts.iter().map(Vec::len).max().unwrap_or(0);
    let mut cache = model.model.new_cache(n, prompt_len + config.max_new_tokens);

    // Prefill: left padding, positions from each row's first real token.
    let prefill = Batch::left_padded(prompts, config.pad_id, &device);
    let mut next_pos: Vec<usize> = prompts.iter().map(Vec::len).collect();
    let mut key_valid: Vec<Vec<bool>> = prompts
        .iter()
        .map(|p| (0..prompt_len).map(|t| t >= prompt_len - p.len()).collect())
        .collect();
    let mut rows: Vec<usize> = (0..n).collect();
    let mut hidden = model.model.forward(&prefill, Some(&mut cache));
    let mut sampler = None;

    loop {
        let mut still: Vec<usize> = Vec::with_capacity(rows.len());
        let mut tokens: Vec<u32> = Vec::with_capacity(rows.len());
        let picked = pick_next(model, hidden, &config.sampling, &draws(&rows), &mut sampler);
        for (slot, (&row, s)) in rows.iter().zip(picked).enumerate() {
            let c = &mut out[row];
            c.ids.push(s.token);
            c.logprobs.push(s.logprob);
            if config.stop_ids.contains(&s.token) {
                c.finish = FinishReason::Stop;
            } else if c.ids.len() >= config.max_new_tokens {
                c.finish = FinishReason::Length;
            } else {
                still.push(slot);
                tokens.push(s.token);
            }
        }
        on_token(still.len());
        if still.is_empty() {
            break;
        }
        if still.len() < rows.len() {
            let keep: Vec<i64> = still.iter().map(|&s| s as i64).collect();
            let keep_len = keep.len();
            cache.retain_rows(Tensor::<B, 1, Int>::from_data(
                TensorData::new(keep, [keep_len]),
                &device,
            ));
            rows = still.iter().map(|&s| rows[s]).collect();
            next_pos = still.iter().map(|&s| next_pos[s]).collect();
            key_valid = still.iter().map(|&s| key_valid[s].clone()).collect();
        }
        let past = cache.len();
        for valid in &mut key_valid {
            valid.push(true);
        }
        let step = Batch {
            ids: ids_tensor(
                &tokens.iter().map(|&t| vec![t]).collect::<Vec<_>>(),
                &device,
            ),
            positions: next_pos.iter().map(|&p| vec![p]).collect(),
            mask: AttentionMask::Explicit(causal_padding_mask(&key_valid, past, 1, &device)),
        };
        for p in &mut next_pos {
            *p += 1;
        }
        hidden = model.model.forward(&step, Some(&mut cache));
    }
    out
}
