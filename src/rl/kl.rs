//! Per-token KL penalty to the frozen reference policy (Schulman's estimators).
//!
//! With `x = logπ − logπ_ref` per sampled token:
//! - `k1 = x` (unbiased, high variance, can be negative);
//! - `k2 = ½ x²`;
//! - `k3 = exp(−x) + x − 1` (unbiased, low variance, ≥ 0; "low_var_kl"), computed with `−x`
//!   clamped to [−20, 20] and the result clamped to [−10, 10] for numerical safety.

use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

/// KL estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlEstimator {
    /// `logπ − logπ_ref`.
    K1,
    /// `½ (logπ − logπ_ref)²`.
    K2,
    /// `exp(logπ_ref − logπ) − (logπ_ref − logπ) − 1`, clamped to [−10, 10]. Default.
    #[default]
    K3,
}

/// Per-token KL estimate `[B, T]` from the policy's and the reference's log-probabilities.
pub fn kl_penalty<B: Backend>(
    log_probs: Tensor<B, 2>,
    ref_log_probs: Tensor<B, 2>,
    estimator: KlEstimator,
) -> Tensor<B, 2> {
    match estimator {
        KlEstimator::K1 => log_probs - ref_log_probs,
        KlEstimator::K2 => (log_probs - ref_log_probs).square().mul_scalar(0.5),
        KlEstimator::K3 => {
            let d = (ref_log_probs - log_probs).clamp(-20.0, 20.0);
            (d.clone().exp() - d).sub_scalar(1.0).clamp(-10.0, 10.0)
        }
    }
}
