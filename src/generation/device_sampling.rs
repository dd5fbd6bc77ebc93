//! Token choice on the device, for GPU backends: greedy, or a draw from `softmax(logits / T)`
//! without top-k/top-p truncation (the rollout default). Only each row's token and its log-prob
//! come back to the host, instead of the `[rows, vocab]` logits (39 MB a step for 64 rows of a
//! 151,936-token vocabulary) and a host pass over them.
//!
//! The draw is the host sampler's inverse CDF with the same uniform `u` per row: the first token
//! whose cumulative probability exceeds `u`. The cumulative sum goes in two levels (block sums,
//! then within the chosen block), as Burn's `cumsum` costs the square of the row length. Tokens
//! equal the host's except where f32 rounding moves a cumulative sum across `u`.

use std::cell::Cell;

use burn::tensor::{DType, Int, Tensor, TensorData, backend::Backend};

use super::sampling::{Sampled, SamplingParams};

/// Narrowest and widest block of the two-level sums: a divisor of the vocabulary in this range
/// when there is one (151,936 = 128 · 1,187), else [`PADDED_BLOCK`] with the last block padded.
const BLOCK_RANGE: std::ops::RangeInclusive<usize> = 256..=2048;

/// Block width when no divisor of the vocabulary lies in [`BLOCK_RANGE`].
const PADDED_BLOCK: usize = 512;

thread_local! {
    static STEPS: Cell<usize> = const { Cell::new(0) };
}

/// How many steps (batches of rows) picked their tokens on the device so far on this thread.
pub fn steps() -> usize {
    STEPS.with(Cell::get)
}

/// Whether [`DeviceSampler::sample`] implements `params` (no truncation) for this vocabulary.
pub fn handles(params: &SamplingParams, vocab: usize) -> bool {
    let truncates_k = params.top_k > 0 && params.top_k < vocab;
    params.is_greedy() || (!truncates_k && params.top_p >= 1.0)
}

/// Token choice on the device for one vocabulary size, with its index tensors made once (a
/// generation loop keeps one for all its steps).
#[derive(Debug, Clone)]
pub struct DeviceSampler<B: Backend> {
    vocab: usize,
    /// Entries per block.
    block: usize,
    /// Blocks per row (the last one padded when `block` does not divide `vocab`).
    blocks: usize,
    /// Each entry's position `[1, blocks, block]`, as floats (exact below 2²⁴).
    positions: Tensor<B, 3>,
    /// `0..block` as `[1, block]`.
    offsets: Tensor<B, 2, Int>,
}

impl<B: Backend> DeviceSampler<B> {
    /// A sampler for rows of `vocab` logits on `device`.
    pub fn new(vocab: usize, device: &B::Device) -> Self {
        let block = BLOCK_RANGE
            .rev()
            .find(|&b| vocab.is_multiple_of(b))
            .unwrap_or(PADDED_BLOCK);
        let blocks = vocab.div_ceil(block);
        let positions = Tensor::<B, 1, Int>::arange(0..(blocks * block) as i64, device)
            .float()
            .reshape([1, blocks, block]);
        let offsets = Tensor::<B, 1, Int>::arange(0..block as i64, device).unsqueeze_dim::<2>(0);
        Self {
            vocab,
            block,
            blocks,
            positions,
            offsets,
        }
    }

    /// Picks each row's token from `logits` (`[rows, vocab]`): `draws[i]` is row `i`'s uniform
    /// draw in `[0, 1)` (unused when greedy). Log-probs are under `softmax(logits / T)` (T = 1
    /// when greedy), as [`super::sampling::sample_with_draw`] gives them. One read from the
    /// device.
    pub fn sample(
        &self,
        logits: Tensor<B, 2>,
        params: &SamplingParams,
        draws: &[f64],
    ) -> Vec<Sampled> {
        let [rows, vocab] = logits.dims();
        assert_eq!(vocab, self.vocab, "logits of the sampler's vocabulary");
        assert!(handles(params, vocab), "device sampling without truncation");
        assert_eq!(draws.len(), rows, "one draw per row");
        STEPS.with(|steps| steps.set(steps.get() + 1));
        let device = logits.device();
        let mut scaled = logits.cast(DType::F32);
        if !params.is_greedy() && params.temperature != 1.0 {
            scaled = scaled / params.temperature;
        }
        // Every reduction runs over a block or over the blocks, never over a whole row: Burn
        // 0.21's reductions miscompute rows of ~100,000 entries on some drivers (Mesa's software
        // Vulkan).
        let blocked = self.in_blocks(scaled.clone());
        let max = blocked.clone().max_dim(2).max_dim(1);
        let exp = (blocked.clone() - max.clone()).exp();
        let block_sums = exp.clone().sum_dim(2).squeeze_dim::<2>(2);
        let total = block_sums.clone().sum_dim(1);
        let lse = max.clone().reshape([rows, 1]) + total.clone().log();
        let token = if params.is_greedy() {
            self.first_maximum(blocked, max)
        } else {
            let u: Vec<f32> = draws.iter().map(|&u| u as f32).collect();
            let u = Tensor::<B, 2>::from_data(TensorData::new(u, [rows, 1]), &device);
            self.inverse_cdf(exp, block_sums, total * u)
                .clamp_max(vocab as i64 - 1)
                .float()
        };
        let logprob = scaled.gather(1, token.clone().int()) - lse;
        let picked = Tensor::cat(vec![token, logprob], 1);
        let values: Vec<f32> = picked
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32 tokens and log-probs");
        values
            .chunks_exact(2)
            .map(|v| Sampled {
                token: v[0] as u32,
                logprob: v[1],
            })
            .collect()
    }

    /// `values` (`[rows, vocab]`) as `[rows, blocks, block]`, the last block padded with −∞.
    fn in_blocks(&self, values: Tensor<B, 2>) -> Tensor<B, 3> {
        let [rows, vocab] = values.dims();
        let width = self.blocks * self.block;
        let padded = if width == vocab {
            values
        } else {
            let pad = Tensor::full([rows, width - vocab], f32::NEG_INFINITY, &values.device());
            Tensor::cat(vec![values, pad], 1)
        };
        padded.reshape([rows, self.blocks, self.block])
    }

    /// `[rows, 1]` position (as a float) of each row's largest value (`values` in blocks, `max`
    /// `[rows, 1, 1]`), the lowest on ties.
    fn first_maximum(&self, values: Tensor<B, 3>, max: Tensor<B, 3>) -> Tensor<B, 2> {
        let [rows, ..] = values.dims();
        let width = (self.blocks * self.block) as f32;
        // `max − value` is 0 at a maximum and positive elsewhere (+∞ on padding): positions off
        // the maximum move past the row, so the smallest is the first maximum.
        let elsewhere = (max - values).sign() * width;
        (elsewhere + self.positions.clone())
            .min_dim(2)
            .min_dim(1)
            .reshape([rows, 1])
    }

    /// `[rows, 1]` index of each row's first entry whose running sum of `weights` (`[rows,
    /// blocks, block]`, non-negative, with per-block sums `block_sums` `[rows, blocks]`) exceeds
    /// `threshold` (`[rows, 1]`); past the last entry when none does.
    fn inverse_cdf(
        &self,
        weights: Tensor<B, 3>,
        block_sums: Tensor<B, 2>,
        threshold: Tensor<B, 2>,
    ) -> Tensor<B, 2, Int> {
        let [rows, blocks, block] = weights.dims();
        let device = weights.device();
        // Which block: the number of blocks whose cumulative sum stays at or below the threshold.
        let block_cdf = block_sums.cumsum(1);
        let chosen = block_cdf
            .clone()
            .lower_equal(threshold.clone())
            .int()
            .sum_dim(1)
            .clamp_max(blocks as i64 - 1);
        let before = Tensor::cat(vec![Tensor::zeros([rows, 1], &device), block_cdf], 1)
            .gather(1, chosen.clone());
        // Where in it: the same count over the block's own running sum.
        let columns = chosen.clone().mul_scalar(block as i64) + self.offsets.clone();
        let within = weights
            .reshape([rows, blocks * block])
            .gather(1, columns)
            .cumsum(1)
            .lower_equal(threshold - before)
            .int()
            .sum_dim(1);
        chosen.mul_scalar(block as i64) + within
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generation::sampling::sample_with_draw;
    use burn::backend::Flex;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    type B = Flex;

    fn logits(values: Vec<f32>, rows: usize) -> Tensor<B, 2> {
        let vocab = values.len() / rows;
        Tensor::from_data(TensorData::new(values, [rows, vocab]), &Default::default())
    }

    fn sample(logits: Tensor<B, 2>, params: &SamplingParams, draws: &[f64]) -> Vec<Sampled> {
        DeviceSampler::new(logits.dims()[1], &Default::default()).sample(logits, params, draws)
    }

    fn tokens(s: &[Sampled]) -> Vec<u32> {
        s.iter().map(|s| s.token).collect()
    }

    /// Greedy picks the first of tied maxima, with its log-softmax: row 0 `[0, 2, 2, 1]` takes
    /// token 1, log-prob `2 − ln(1 + 2e² + e)`.
    #[test]
    fn greedy_takes_the_first_maximum_with_its_log_prob() {
        let x = logits(vec![0.0, 2.0, 2.0, 1.0, 3.0, -1.0, 0.0, 3.0], 2);
        let got = sample(x, &SamplingParams::greedy(), &[0.0, 0.0]);
        assert_eq!(tokens(&got), vec![1, 0]);
        let e = std::f32::consts::E;
        let want = 2.0 - (1.0 + 2.0 * e * e + e).ln();
        assert!((got[0].logprob - want).abs() < 1e-6, "{got:?}");
    }

    /// Probabilities `[0.1, 0.2, 0.3, 0.4]` (as logits `ln p`): the draw lands in the token
    /// whose cumulative interval `[0, .1), [.1, .3), [.3, .6), [.6, 1)` holds it, and a draw
    /// rounding pushes past the total takes the last token.
    #[test]
    fn a_draw_takes_the_token_whose_cumulative_interval_holds_it() {
        let p = [0.1f32, 0.2, 0.3, 0.4];
        let row: Vec<f32> = p.iter().map(|p| p.ln()).collect();
        let draws = [0.05, 0.15, 0.29, 0.31, 0.59, 0.61, 0.99, 1.0];
        let x = logits(row.repeat(draws.len()), draws.len());
        let got = sample(x, &SamplingParams::default(), &draws);
        assert_eq!(tokens(&got), vec![0, 1, 1, 2, 2, 3, 3, 3]);
        for s in &got {
            let want = p[s.token as usize].ln();
            assert!((s.logprob - want).abs() < 1e-6, "{s:?}");
        }
    }

    /// Over vocabularies of several blocks with random logits, temperatures and draws, the
    /// device picks the host sampler's tokens, with its log-probs: 2,053 (a prime: five blocks of
    /// 512, the last padded) and 4,124 (four blocks of 1,031).
    #[test]
    fn it_matches_the_host_sampler_across_blocks() {
        for (vocab, blocks) in [(2053, 5), (4124, 4)] {
            let rows = 48;
            assert_eq!(
                DeviceSampler::<B>::new(vocab, &Default::default()).blocks,
                blocks
            );
            let mut rng = ChaCha8Rng::seed_from_u64(11);
            let values: Vec<f32> = (0..rows * vocab)
                .map(|_| rng.random::<f32>() * 6.0 - 3.0)
                .collect();
            let draws: Vec<f64> = (0..rows).map(|_| rng.random()).collect();
            for temperature in [1.0, 0.7, 0.0] {
                let params = SamplingParams {
                    temperature,
                    ..SamplingParams::default()
                };
                let got = sample(logits(values.clone(), rows), &params, &draws);
                for (r, s) in got.iter().enumerate() {
                    let row = &values[r * vocab..(r + 1) * vocab];
                    let host = sample_with_draw(row, &params, draws[r]);
                    let at = format!("vocabulary {vocab}, row {r}, T = {temperature}");
                    assert_eq!(s.token, host.token, "{at}");
                    assert!(
                        (s.logprob - host.logprob).abs() < 1e-4,
                        "{at}: {s:?} vs {host:?}"
                    );
                }
            }
        }
    }

    /// Truncated sampling stays on the host.
    #[test]
    fn top_k_and_top_p_are_left_to_the_host() {
        let top_k = SamplingParams {
            top_k: 5,
            ..SamplingParams::default()
        };
        let top_p = SamplingParams {
            top_p: 0.9,
            ..SamplingParams::default()
        };
        assert!(!handles(&top_k, 100) && !handles(&top_p, 100));
        assert!(handles(&top_k, 5) && handles(&SamplingParams::default(), 100));
        assert!(handles(&SamplingParams::greedy(), 100));
    }
}
