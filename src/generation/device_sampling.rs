//! Token choice on the device, for GPU backends: greedy, or a draw from `softmax(logits / T)`
//! without top-k/top-p truncation (the rollout default). Only each row's token and its log-prob
//! come back to the host, instead of the `[rows, vocab]` logits (39 MB a step for 64 rows of a
//! 151,936-token vocabulary) and a host pass over them.
//!
//! The draw is the host sampler's inverse CDF with the same uniform `u` per row: the first token
//! whose cumulative probability exceeds `u`. The cumulative sum goes in two levels (block sums,
//! then within the chosen block), as Burn's `cumsum` costs the square of the row length. Tokens
//! equal the host's except where f32 rounding moves a cumulative sum across `u`.

use burn::tensor::{DType, Int, Tensor, TensorData, backend::Backend};

use super::sampling::{Sampled, SamplingParams};

/// Vocabulary entries per block of the two-level cumulative sum.
const BLOCK: usize = 512;

/// Whether [`sample`] implements `params` (no truncation) for this vocabulary size.
pub fn handles(params: &SamplingParams, vocab: usize) -> bool {
    let truncates_k = params.top_k > 0 && params.top_k < vocab;
    params.is_greedy() || (!truncates_k && params.top_p >= 1.0)
}

/// Picks each row's token from `logits` (`[rows, vocab]`): `draws[i]` is row `i`'s uniform draw
/// in `[0, 1)` (unused when greedy). Log-probs are under `softmax(logits / T)` (T = 1 when
/// greedy), as [`super::sampling::sample_with_draw`] gives them. One read from the device.
pub fn sample<B: Backend>(
    logits: Tensor<B, 2>,
    params: &SamplingParams,
    draws: &[f64],
) -> Vec<Sampled> {
    let [rows, vocab] = logits.dims();
    assert!(handles(params, vocab), "device sampling without truncation");
    assert_eq!(draws.len(), rows, "one draw per row");
    let device = logits.device();
    let mut scaled = logits.cast(DType::F32);
    if !params.is_greedy() && params.temperature != 1.0 {
        scaled = scaled / params.temperature;
    }
    // Every reduction runs over a block or over the blocks, never over a whole row: Burn 0.21's
    // reductions miscompute rows of ~100,000 entries on some drivers (Mesa's software Vulkan).
    let blocked = in_blocks(scaled.clone(), f32::NEG_INFINITY);
    let max = blocked.clone().max_dim(2).max_dim(1);
    let exp = (blocked.clone() - max.clone()).exp();
    let block_sums = exp.clone().sum_dim(2).squeeze_dim::<2>(2);
    let total = block_sums.clone().sum_dim(1);
    let max = max.reshape([rows, 1]);
    let lse = max.clone() + total.clone().log();
    let token = if params.is_greedy() {
        first_maximum(blocked, max)
    } else {
        let u: Vec<f32> = draws.iter().map(|&u| u as f32).collect();
        let u = Tensor::<B, 2>::from_data(TensorData::new(u, [rows, 1]), &device);
        inverse_cdf(exp, block_sums, total * u).clamp_max(vocab as i64 - 1)
    };
    let logprob = scaled.gather(1, token.clone()) - lse;
    let picked = Tensor::cat(vec![token.float(), logprob], 1);
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

/// `values` (`[rows, vocab]`) as `[rows, blocks, BLOCK]`, the last block padded with `fill`.
fn in_blocks<B: Backend>(values: Tensor<B, 2>, fill: f32) -> Tensor<B, 3> {
    let [rows, vocab] = values.dims();
    let blocks = vocab.div_ceil(BLOCK);
    let padded = if blocks * BLOCK == vocab {
        values
    } else {
        let pad = Tensor::full([rows, blocks * BLOCK - vocab], fill, &values.device());
        Tensor::cat(vec![values, pad], 1)
    };
    padded.reshape([rows, blocks, BLOCK])
}

/// `[rows, 1]` index of each row's largest value (`values` in blocks, `max` `[rows, 1]`), the
/// lowest on ties.
fn first_maximum<B: Backend>(values: Tensor<B, 3>, max: Tensor<B, 2>) -> Tensor<B, 2, Int> {
    let [rows, blocks, _] = values.dims();
    let width = blocks * BLOCK;
    let positions = Tensor::<B, 1, Int>::arange(0..width as i64, &values.device())
        .float()
        .reshape([1, blocks, BLOCK]);
    // Positions off the maximum move past the padded row, so the smallest is the first maximum.
    let elsewhere = values.not_equal(max.unsqueeze_dim::<3>(2)).float() * width as f32;
    (elsewhere + positions)
        .min_dim(2)
        .min_dim(1)
        .reshape([rows, 1])
        .int()
}

/// `[rows, 1]` index of each row's first entry whose running sum of `weights` (`[rows, blocks,
/// BLOCK]`, non-negative, with per-block sums `block_sums` `[rows, blocks]`) exceeds
/// `threshold` (`[rows, 1]`); past the last entry when none does.
fn inverse_cdf<B: Backend>(
    weights: Tensor<B, 3>,
    block_sums: Tensor<B, 2>,
    threshold: Tensor<B, 2>,
) -> Tensor<B, 2, Int> {
    let [rows, blocks, _] = weights.dims();
    let device = weights.device();
    // Which block: the number of blocks whose cumulative sum stays at or below the threshold.
    let block_cdf = block_sums.cumsum(1);
    let block = block_cdf
        .clone()
        .lower_equal(threshold.clone())
        .int()
        .sum_dim(1)
        .clamp_max(blocks as i64 - 1);
    let before =
        Tensor::cat(vec![Tensor::zeros([rows, 1], &device), block_cdf], 1).gather(1, block.clone());
    // Where in it: the same count over the block's own running sum.
    let offsets = Tensor::<B, 1, Int>::arange(0..BLOCK as i64, &device).unsqueeze_dim::<2>(0);
    let columns = block.clone().mul_scalar(BLOCK as i64) + offsets;
    let within = weights
        .reshape([rows, blocks * BLOCK])
        .gather(1, columns)
        .cumsum(1)
        .lower_equal(threshold - before)
        .int()
        .sum_dim(1);
    block.mul_scalar(BLOCK as i64) + within
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

    /// Over a vocabulary of several blocks (not a multiple of the block size) with random
    /// logits, temperatures and draws, the device picks the host sampler's tokens, with its
    /// log-probs.
    #[test]
    fn it_matches_the_host_sampler_across_blocks() {
        let (rows, vocab) = (48, 3 * BLOCK + 77);
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
                let host = sample_with_draw(&values[r * vocab..(r + 1) * vocab], &params, draws[r]);
                assert_eq!(s.token, host.token, "row {r} at T = {temperature}");
                assert!((s.logprob - host.logprob).abs() < 1e-4, "{s:?} vs {host:?}");
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
