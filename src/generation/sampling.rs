//! Choosing the next token from one row of logits: greedy, or temperature → top-k → top-p
//! (in that order, as transformers' logits processors) and a draw from a seeded RNG.

use std::borrow::Cow;

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::host::fast_exp;

/// How to pick each next token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingParams {
    /// Softmax temperature; 0 means greedy (arg-max, lowest id on ties).
    pub temperature: f32,
    /// Nucleus mass in (0, 1]; 1 keeps every token.
    pub top_p: f32,
    /// Keep only the k most likely tokens; 0 keeps every token.
    pub top_k: usize,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
        }
    }
}

impl SamplingParams {
    /// Greedy decoding.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            ..Self::default()
        }
    }

    /// Whether this picks the arg-max.
    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0
    }
}

/// A sampled token and its log-probability under `softmax(logits / T)` (T = 1 when greedy),
/// before top-k/top-p truncation: the sampling policy's log-prob that PPO ratios compare against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampled {
    /// The token id.
    pub token: u32,
    /// Its log-probability.
    pub logprob: f32,
}

/// Picks a token from `logits` (one row, f32), drawing from `rng` unless greedy.
pub fn sample_token<R: Rng + ?Sized>(
    logits: &[f32],
    params: &SamplingParams,
    rng: &mut R,
) -> Sampled {
    sample_with_draw(logits, params, draw(params, rng))
}

/// The one uniform draw in [0, 1) a token choice uses (0, without touching `rng`, when greedy).
pub fn draw<R: Rng + ?Sized>(params: &SamplingParams, rng: &mut R) -> f64 {
    if params.is_greedy() {
        0.0
    } else {
        rng.random()
    }
}

/// [`sample_token`] with its uniform draw `u` given: a pure function, so rows can be sampled in
/// parallel once their draws are taken in order.
pub fn sample_with_draw(logits: &[f32], params: &SamplingParams, u: f64) -> Sampled {
    let scaled: Cow<[f32]> = if params.is_greedy() || params.temperature == 1.0 {
        Cow::Borrowed(logits)
    } else {
        Cow::Owned(logits.iter().map(|&l| l / params.temperature).collect())
    };
    let lse = log_sum_exp(&scaled);
    if params.is_greedy() {
        let token = argmax(&scaled);
        return Sampled {
            token: token as u32,
            logprob: scaled[token] - lse,
        };
    }
    let truncates_k = params.top_k > 0 && params.top_k < scaled.len();
    let token = if !truncates_k && params.top_p >= 1.0 {
        inverse_cdf(&scaled, 0..scaled.len(), lse, u)
    } else {
        let mut candidates: Vec<usize> = (0..scaled.len()).collect();
        let by_logit_desc = |a: &usize, b: &usize| scaled[*b].total_cmp(&scaled[*a]).then(a.cmp(b));
        if truncates_k {
            candidates.select_nth_unstable_by(params.top_k - 1, by_logit_desc);
            candidates.truncate(params.top_k);
        }
        if params.top_p < 1.0 {
            candidates.sort_unstable_by(by_logit_desc);
            let kept_lse = log_sum_exp_of(&scaled, &candidates);
            let mut mass = 0.0f64;
            let mut keep = 0;
            for &i in &candidates {
                mass += ((scaled[i] - kept_lse) as f64).exp();
                keep += 1;
                if mass >= params.top_p as f64 {
                    break;
                }
            }
            candidates.truncate(keep.max(1));
        }
        let kept_lse = log_sum_exp_of(&scaled, &candidates);
        inverse_cdf(&scaled, candidates.iter().copied(), kept_lse, u)
    };
    Sampled {
        token: token as u32,
        logprob: scaled[token] - lse,
    }
}

/// The first of `candidates` at which the cumulative probability `exp(scaled − lse)` exceeds
/// `u` (the last candidate if rounding leaves the total below `u`).
fn inverse_cdf(scaled: &[f32], candidates: impl Iterator<Item = usize>, lse: f32, u: f64) -> usize {
    let mut acc = 0.0f64;
    let mut last = 0;
    for i in candidates {
        acc += ((scaled[i] - lse) as f64).exp();
        if u < acc {
            return i;
        }
        last = i;
    }
    last
}

/// Index of the largest value, the lowest index on ties.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// `log Σ exp(x)`, stable.
pub fn log_sum_exp(values: &[f32]) -> f32 {
    fast_exp::log_sum_exp(values)
}

fn log_sum_exp_of(values: &[f32], indices: &[usize]) -> f32 {
    let picked: Vec<f32> = indices.iter().map(|&i| values[i]).collect();
    log_sum_exp(&picked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn greedy_takes_the_first_maximum_with_its_logprob() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let s = sample_token(&[0.0, 2.0, 2.0, 1.0], &SamplingParams::greedy(), &mut rng);
        assert_eq!(s.token, 1);
        let z = (1.0f32 + 2.0 * 2f32.exp() + 1f32.exp()).ln();
        assert!((s.logprob - (2.0 - z)).abs() < 1e-6);
    }

    #[test]
    fn top_k_one_is_greedy_and_logprob_ignores_truncation() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let params = SamplingParams {
            temperature: 2.0,
            top_p: 1.0,
            top_k: 1,
        };
        for _ in 0..20 {
            let s = sample_token(&[1.0, 3.0, 0.0], &params, &mut rng);
            assert_eq!(s.token, 1);
            let scaled = [0.5f32, 1.5, 0.0];
            let z = scaled.iter().map(|v| v.exp()).sum::<f32>().ln();
            assert!((s.logprob - (1.5 - z)).abs() < 1e-6);
        }
    }

    #[test]
    fn top_p_keeps_the_smallest_nucleus() {
        // probabilities 0.5, 0.3, 0.2: top_p 0.6 keeps {0, 1}, never 2.
        let logits: Vec<f32> = [0.5f32, 0.3, 0.2].iter().map(|p| p.ln()).collect();
        let params = SamplingParams {
            temperature: 1.0,
            top_p: 0.6,
            top_k: 0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut counts = [0usize; 3];
        for _ in 0..2000 {
            counts[sample_token(&logits, &params, &mut rng).token as usize] += 1;
        }
        assert_eq!(counts[2], 0);
        // renormalised 0.625 / 0.375
        let frac = counts[0] as f64 / 2000.0;
        assert!((frac - 0.625).abs() < 0.05, "{counts:?}");
    }

    #[test]
    fn sampling_follows_the_distribution_and_is_seeded() {
        let logits: Vec<f32> = [0.7f32, 0.2, 0.1].iter().map(|p| p.ln()).collect();
        let params = SamplingParams::default();
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..3000)
                .map(|_| sample_token(&logits, &params, &mut rng).token)
                .collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        let frac0 = a.iter().filter(|&&t| t == 0).count() as f64 / 3000.0;
        assert!((frac0 - 0.7).abs() < 0.04, "{frac0}");
    }
}
