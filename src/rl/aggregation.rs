//! Reduction of a per-token loss matrix `[B, T]` to a scalar, with a 0/1 response mask.
//!
//! Write `v` for the values, `m` for the mask, `L_i = Σ_t m_it` for sequence lengths.
//! Denominators that count tokens are clamped to at least 1, so an all-masked input gives 0.
//!
//! With gradient accumulation, the first three modes are per micro-batch means: average the
//! micro-batch losses (divide by their number). `dapo_global_token_mean` already divides by the
//! whole mini-batch's token count: sum the micro-batch losses, do not divide again.

use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::model::launch_limits::sum_all;

/// Loss aggregation mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossAggregation {
    /// `Σ_it v·m / Σ_it m`: every token of the micro-batch weighs the same. Default.
    #[default]
    TokenMean,
    /// `mean_i (Σ_t v·m / L_i)`: every sequence weighs the same (original GRPO).
    SeqMeanTokenMean,
    /// Dr. GRPO: `mean_i (Σ_t v·m / T_max)` with `T_max` a constant (the maximum response length).
    SeqMeanTokenSumNorm,
    /// DAPO token-level loss: `Σ_it v·m / N_global`, `N_global` the valid tokens of the whole
    /// mini-batch across its micro-batches.
    DapoGlobalTokenMean,
}

/// Constants some aggregation modes need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AggregationNorm {
    /// `T_max` of `seq_mean_token_sum_norm`: the configured maximum response length in tokens.
    pub max_response_length: usize,
    /// `N_global` of `dapo_global_token_mean`: valid (mask = 1) tokens of the whole mini-batch.
    pub global_valid_tokens: f32,
}

/// Aggregates `values` `[B, T]` under `mask` `[B, T]` (f32 0/1) into a one-element tensor (sums
/// over all tokens split as GPU kernels need: [`sum_all`]).
pub fn aggregate<B: Backend>(
    values: Tensor<B, 2>,
    mask: Tensor<B, 2>,
    mode: LossAggregation,
    norm: &AggregationNorm,
) -> Tensor<B, 1> {
    let [batch, _] = values.dims();
    let masked = values * mask.clone();
    match mode {
        LossAggregation::TokenMean => sum_all(masked) / sum_all(mask).clamp_min(1.0),
        LossAggregation::SeqMeanTokenMean => {
            let per_seq = masked.sum_dim(1) / mask.sum_dim(1).clamp_min(1.0);
            per_seq.mean().reshape([1])
        }
        LossAggregation::SeqMeanTokenSumNorm => {
            let denom = (batch.max(1) * norm.max_response_length.max(1)) as f32;
            sum_all(masked).div_scalar(denom)
        }
        LossAggregation::DapoGlobalTokenMean => {
            sum_all(masked).div_scalar(norm.global_valid_tokens.max(1.0))
        }
    }
}

/// Token mean under a mask, `Σ v·m / max(Σ m, 1)`, for diagnostics.
pub fn masked_mean<B: Backend>(values: Tensor<B, 2>, mask: Tensor<B, 2>) -> Tensor<B, 1> {
    aggregate(
        values,
        mask,
        LossAggregation::TokenMean,
        &AggregationNorm {
            max_response_length: 1,
            global_valid_tokens: 1.0,
        },
    )
}
