//! Clipped surrogate policy loss per token (PPO clip, asymmetric bounds, dual clip).
//!
//! With `ρ = exp(clamp(logπ − logπ_old, −20, 20))` and the sequence advantage `A` on each token:
//! - `ℓ₁ = −A·ρ`, `ℓ₂ = −A·clamp(ρ, 1 − ε_low, 1 + ε_high)`, `ℓ_clip = max(ℓ₁, ℓ₂)`;
//! - dual clip for `A < 0`: `ℓ = min(ℓ_clip, −A·c)` caps the loss of a negative-advantage token
//!   whose ratio exploded (`ρ > c`); for `A ≥ 0`, `ℓ = ℓ_clip`.
//!
//! The gradient with respect to `logπ` is zero where the bound is active: `ρ < 1 − ε_low` with
//! `A < 0`, `ρ > 1 + ε_high` with `A > 0`, and `ρ > c` with `A < 0`.

use burn::tensor::{Tensor, backend::Backend};

/// Clip bounds of the surrogate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipConfig {
    /// ε_low: the ratio is clipped below at `1 − ε_low`. Default 0.2.
    pub clip_low: f32,
    /// ε_high: the ratio is clipped above at `1 + ε_high` (0.28 is DAPO's clip-higher). Default 0.2.
    pub clip_high: f32,
    /// Dual-clip constant `c > 1` for negative advantages; `f32::INFINITY` disables it. Default 3.
    pub dual_clip_c: f32,
}

impl Default for ClipConfig {
    fn default() -> Self {
        Self {
            clip_low: 0.2,
            clip_high: 0.2,
            dual_clip_c: 3.0,
        }
    }
}

/// Per-token loss and clipping indicators of [`policy_loss`].
#[derive(Debug, Clone)]
pub struct PolicyLoss<B: Backend> {
    /// Loss per token `[B, T]`, unmasked; carries the gradient.
    pub per_token: Tensor<B, 2>,
    /// `logπ − logπ_old` `[B, T]` (clamped to ±20), detached.
    pub log_ratio: Tensor<B, 2>,
    /// 1 where `ρ < 1 − ε_low` and `A < 0` (TRL `clip_ratio/low_mean`), detached.
    pub low_clipped: Tensor<B, 2>,
    /// 1 where `ρ > 1 + ε_high` and `A > 0` (TRL `clip_ratio/high_mean`), detached.
    pub high_clipped: Tensor<B, 2>,
    /// 1 where the dual clip is active: `A < 0` and `ℓ_clip > −A·c`, detached.
    pub dual_clipped: Tensor<B, 2>,
    /// 1 where `ℓ₂ > ℓ₁` (verl `pg_clipfrac`), detached.
    pub clipped: Tensor<B, 2>,
}

/// Clipped surrogate loss per token from new and old log-probs `[B, T]` and advantages `[B]`.
pub fn policy_loss<B: Backend>(
    log_probs: Tensor<B, 2>,
    old_log_probs: Tensor<B, 2>,
    advantages: Tensor<B, 1>,
    clip: &ClipConfig,
) -> PolicyLoss<B> {
    let [batch, tokens] = log_probs.dims();
    let adv = advantages.reshape([batch, 1]).expand([batch, tokens]);
    let log_ratio = (log_probs - old_log_probs).clamp(-20.0, 20.0);
    let ratio = log_ratio.clone().exp();

    let neg_adv = adv.clone().neg();
    let loss_unclipped = neg_adv.clone() * ratio.clone();
    let loss_clipped = neg_adv.clone()
        * ratio
            .clone()
            .clamp(1.0 - clip.clip_low, 1.0 + clip.clip_high);
    let clipped = loss_clipped
        .clone()
        .detach()
        .greater(loss_unclipped.clone().detach())
        .float();
    let loss_clip = loss_unclipped.max_pair(loss_clipped);

    let negative = adv.clone().lower_elem(0.0);
    let (per_token, dual_clipped) = if clip.dual_clip_c.is_finite() {
        let cap = neg_adv.mul_scalar(clip.dual_clip_c);
        let dual = loss_clip
            .clone()
            .detach()
            .greater(cap.clone())
            .bool_and(negative.clone());
        let capped = loss_clip.clone().min_pair(cap);
        (loss_clip.mask_where(negative.clone(), capped), dual.float())
    } else {
        let zeros = loss_clip.zeros_like().detach();
        (loss_clip, zeros)
    };

    let ratio = ratio.detach();
    let low_clipped = ratio
        .clone()
        .lower_elem(1.0 - clip.clip_low)
        .bool_and(negative)
        .float();
    let high_clipped = ratio
        .greater_elem(1.0 + clip.clip_high)
        .bool_and(adv.greater_elem(0.0))
        .float();

    PolicyLoss {
        per_token,
        log_ratio: log_ratio.detach(),
        low_clipped,
        high_clipped,
        dual_clipped,
        clipped,
    }
}
