//! The micro-batch objective of the policy update and its diagnostics.
//!
//! `loss = agg(ℓ_policy) + β_KL · agg(KL(π ‖ π_ref)) − β_H · agg(H)` with one aggregation mode
//! for all three terms (see [`super::aggregation`]), [`super::policy_loss`] for `ℓ_policy`,
//! [`super::kl`] for the per-token KL and [`super::entropy`] for the token entropies `H`.

use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use super::aggregation::{AggregationNorm, LossAggregation, aggregate, masked_mean};
use super::kl::{KlEstimator, kl_penalty};
use super::policy_loss::{ClipConfig, policy_loss};
use crate::model::launch_limits::sum_all;

/// Loss settings, as the trainer configuration embeds them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossConfig {
    /// ε_low of the ratio clip. Default 0.2.
    pub clip_low: f32,
    /// ε_high of the ratio clip (0.28 for DAPO's clip-higher). Default 0.2.
    pub clip_high: f32,
    /// Dual-clip constant `c > 1` for negative advantages (`inf` disables). Default 3.0.
    pub dual_clip_c: f32,
    /// KL coefficient; 0 means no reference model is needed. Default 0.001.
    pub kl_coef: f32,
    /// KL estimator. Default `k3`.
    pub kl_estimator: KlEstimator,
    /// Entropy bonus coefficient (subtracted from the loss); 0 disables. Default 0.001.
    pub entropy_coef: f32,
    /// Loss aggregation mode. Default `token_mean`.
    pub aggregation: LossAggregation,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            clip_low: 0.2,
            clip_high: 0.2,
            dual_clip_c: 3.0,
            kl_coef: 0.001,
            kl_estimator: KlEstimator::K3,
            entropy_coef: 0.001,
            aggregation: LossAggregation::TokenMean,
        }
    }
}

impl LossConfig {
    /// The clip bounds for [`policy_loss`].
    pub fn clip(&self) -> ClipConfig {
        ClipConfig {
            clip_low: self.clip_low,
            clip_high: self.clip_high,
            dual_clip_c: self.dual_clip_c,
        }
    }

    /// Checks the values: finite non-negative clip ranges with `clip_low < 1`, `c > 1`,
    /// finite coefficients.
    pub fn validate(&self) -> Result<(), LossError> {
        let bad = |field: &'static str, value: f32, why: &'static str| {
            Err(LossError::Setting { field, value, why })
        };
        if !(self.clip_low.is_finite() && (0.0..1.0).contains(&self.clip_low)) {
            return bad("clip_low", self.clip_low, "must be in [0, 1)");
        }
        if !(self.clip_high.is_finite() && self.clip_high >= 0.0) {
            return bad("clip_high", self.clip_high, "must be a finite number ≥ 0");
        }
        if self.dual_clip_c.is_nan() || self.dual_clip_c <= 1.0 {
            return bad(
                "dual_clip_c",
                self.dual_clip_c,
                "must be > 1 (inf disables it)",
            );
        }
        if !self.kl_coef.is_finite() {
            return bad("kl_coef", self.kl_coef, "must be a finite number");
        }
        if !self.entropy_coef.is_finite() {
            return bad("entropy_coef", self.entropy_coef, "must be a finite number");
        }
        Ok(())
    }
}

/// Invalid loss input or configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LossError {
    /// A setting is out of range.
    #[error("loss config: {field} = {value} {why}")]
    Setting {
        /// Field name.
        field: &'static str,
        /// The offending value.
        value: f32,
        /// What is expected.
        why: &'static str,
    },
    /// `kl_coef ≠ 0` but no reference log-probs were given.
    #[error(
        "kl_coef is {0} but no reference log-probs were given (set kl_coef = 0 to train without a reference model)"
    )]
    MissingReference(f32),
    /// `entropy_coef ≠ 0` but no token entropies were given.
    #[error("entropy_coef is {0} but no token entropies were given")]
    MissingEntropies(f32),
    /// Tensor shapes disagree.
    #[error("{name} has shape {got:?}, expected {expected:?}")]
    Shape {
        /// Which input.
        name: &'static str,
        /// Its shape.
        got: Vec<usize>,
        /// The expected shape.
        expected: Vec<usize>,
    },
}

/// One micro-batch of `B` completions padded to `T` response tokens.
#[derive(Debug, Clone)]
pub struct LossInput<B: Backend> {
    /// Log-probs of the sampled tokens under the policy being trained `[B, T]` (with gradient).
    pub log_probs: Tensor<B, 2>,
    /// Log-probs under the policy that sampled them `[B, T]`.
    pub old_log_probs: Tensor<B, 2>,
    /// Log-probs under the frozen reference `[B, T]`; needed when `kl_coef ≠ 0`.
    pub ref_log_probs: Option<Tensor<B, 2>>,
    /// Sequence advantages `[B]`, broadcast over tokens.
    pub advantages: Tensor<B, 1>,
    /// Response mask `[B, T]`, f32 1 for tokens in the loss, 0 for padding / masked ones.
    pub mask: Tensor<B, 2>,
    /// Token entropies of the policy `[B, T]` (with gradient for the bonus); needed when
    /// `entropy_coef ≠ 0`, optional otherwise (then only reported).
    pub entropies: Option<Tensor<B, 2>>,
}

/// Scalar diagnostics of one micro-batch (token means over its valid tokens).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LossDiagnostics {
    /// Aggregated clipped policy loss.
    pub policy_loss: f32,
    /// Aggregated KL term before its coefficient (0 without reference).
    pub kl_loss: f32,
    /// Aggregated entropy before its coefficient (0 without entropies).
    pub entropy_loss: f32,
    /// Fraction of tokens with `ρ < 1 − ε_low` and `A < 0` (`clip_ratio/low_mean`).
    pub clip_ratio_low: f32,
    /// Fraction of tokens with `ρ > 1 + ε_high` and `A > 0` (`clip_ratio/high_mean`).
    pub clip_ratio_high: f32,
    /// Fraction clipped low or high, dual clip not counted (`clip_ratio/region_mean`).
    pub clip_ratio_region: f32,
    /// Fraction of tokens where the dual clip is active (`clip_ratio/dual_mean`).
    pub dual_clip_ratio: f32,
    /// Fraction of tokens where the clipped term wins, verl's `pg_clipfrac`.
    pub pg_clipfrac: f32,
    /// Mean per-token KL estimate to the reference (`kl`; 0 without reference).
    pub kl_mean: f32,
    /// Mean token entropy (`entropy`; 0 without entropies).
    pub entropy_mean: f32,
    /// Mean `logπ_old − logπ`, the approximate KL to the sampling policy (`approx_kl`).
    pub approx_kl: f32,
    /// Valid tokens of the micro-batch (weight for combining micro-batches).
    pub valid_tokens: f32,
}

impl LossDiagnostics {
    /// How many values [`Self::from_values`] takes.
    pub const COUNT: usize = 12;

    /// The diagnostics from their packed values: policy, KL and entropy losses, the clip
    /// ratios (low, high, region, dual), `pg_clipfrac`, KL and entropy means, approximate KL and
    /// valid tokens.
    pub fn from_values(v: &[f32]) -> Self {
        assert_eq!(v.len(), Self::COUNT, "packed loss diagnostics");
        Self {
            policy_loss: v[0],
            kl_loss: v[1],
            entropy_loss: v[2],
            clip_ratio_low: v[3],
            clip_ratio_high: v[4],
            clip_ratio_region: v[5],
            dual_clip_ratio: v[6],
            pg_clipfrac: v[7],
            kl_mean: v[8],
            entropy_mean: v[9],
            approx_kl: v[10],
            valid_tokens: v[11],
        }
    }

    /// Metric names (TRL / verl style) and values.
    pub fn metrics(&self) -> [(&'static str, f32); 11] {
        [
            ("policy_loss", self.policy_loss),
            ("kl_loss", self.kl_loss),
            ("clip_ratio/low_mean", self.clip_ratio_low),
            ("clip_ratio/high_mean", self.clip_ratio_high),
            ("clip_ratio/region_mean", self.clip_ratio_region),
            ("clip_ratio/dual_mean", self.dual_clip_ratio),
            ("pg_clipfrac", self.pg_clipfrac),
            ("kl", self.kl_mean),
            ("entropy", self.entropy_mean),
            ("approx_kl", self.approx_kl),
            ("valid_tokens", self.valid_tokens),
        ]
    }
}

/// The scalar loss to back-propagate and its diagnostics.
#[derive(Debug, Clone)]
pub struct LossOutput<B: Backend> {
    /// One-element loss tensor carrying the gradient.
    pub loss: Tensor<B, 1>,
    /// The diagnostics, still on the device: reading them waits for the device, so a trainer
    /// reads them after queueing the backward pass, or many micro-batches' at once.
    pub diagnostics: PendingDiagnostics<B>,
}

/// [`LossDiagnostics`] not yet read back: one detached `[LossDiagnostics::COUNT]` tensor.
#[derive(Debug, Clone)]
pub struct PendingDiagnostics<B: Backend> {
    values: Tensor<B, 1>,
}

impl<B: Backend> PendingDiagnostics<B> {
    /// The packed values, in [`LossDiagnostics::from_values`]'s order.
    pub fn values(&self) -> Tensor<B, 1> {
        self.values.clone()
    }

    /// Reads the values back (waits for the device).
    pub fn read(self) -> LossDiagnostics {
        let v: Vec<f32> = self.values.into_data().iter::<f32>().collect();
        LossDiagnostics::from_values(&v)
    }
}

fn check_shape(name: &'static str, got: &[usize], expected: &[usize]) -> Result<(), LossError> {
    if got == expected {
        Ok(())
    } else {
        Err(LossError::Shape {
            name,
            got: got.to_vec(),
            expected: expected.to_vec(),
        })
    }
}

/// Computes the micro-batch loss `agg(ℓ_policy) + β_KL·agg(KL) − β_H·agg(H)` and diagnostics.
pub fn compute_loss<B: Backend>(
    input: LossInput<B>,
    config: &LossConfig,
    norm: &AggregationNorm,
) -> Result<LossOutput<B>, LossError> {
    config.validate()?;
    let dims = input.log_probs.dims();
    check_shape("old_log_probs", &input.old_log_probs.dims(), &dims)?;
    check_shape("mask", &input.mask.dims(), &dims)?;
    check_shape("advantages", &input.advantages.dims(), &dims[..1])?;
    if let Some(r) = &input.ref_log_probs {
        check_shape("ref_log_probs", &r.dims(), &dims)?;
    } else if config.kl_coef != 0.0 {
        return Err(LossError::MissingReference(config.kl_coef));
    }
    if let Some(e) = &input.entropies {
        check_shape("entropies", &e.dims(), &dims)?;
    } else if config.entropy_coef != 0.0 {
        return Err(LossError::MissingEntropies(config.entropy_coef));
    }

    let mask = input.mask;
    let mode = config.aggregation;
    let pg = policy_loss(
        input.log_probs.clone(),
        input.old_log_probs,
        input.advantages,
        &config.clip(),
    );
    let policy = aggregate(pg.per_token, mask.clone(), mode, norm);
    let mut loss = policy.clone();
    let zero = || Tensor::<B, 1>::zeros([1], &mask.device());

    let (kl_loss, kl_mean) = match input.ref_log_probs {
        Some(ref_lp) => {
            let kl = kl_penalty(input.log_probs, ref_lp, config.kl_estimator);
            let kl_mean = masked_mean(kl.clone().detach(), mask.clone());
            let kl_loss = aggregate(kl, mask.clone(), mode, norm);
            if config.kl_coef != 0.0 {
                loss = loss + kl_loss.clone().mul_scalar(config.kl_coef);
            }
            (kl_loss, kl_mean)
        }
        None => (zero(), zero()),
    };
    let (entropy_loss, entropy_mean) = match input.entropies {
        Some(h) => {
            let entropy_mean = masked_mean(h.clone().detach(), mask.clone());
            let entropy_loss = aggregate(h, mask.clone(), mode, norm);
            if config.entropy_coef != 0.0 {
                loss = loss - entropy_loss.clone().mul_scalar(config.entropy_coef);
            }
            (entropy_loss, entropy_mean)
        }
        None => (zero(), zero()),
    };

    let region = pg.low_clipped.clone() + pg.high_clipped.clone();
    let packed = Tensor::cat(
        vec![
            policy.detach(),
            kl_loss.detach(),
            entropy_loss.detach(),
            masked_mean(pg.low_clipped, mask.clone()),
            masked_mean(pg.high_clipped, mask.clone()),
            masked_mean(region, mask.clone()),
            masked_mean(pg.dual_clipped, mask.clone()),
            masked_mean(pg.clipped, mask.clone()),
            kl_mean,
            entropy_mean,
            masked_mean(pg.log_ratio.neg(), mask.clone()),
            sum_all(mask).detach(),
        ],
        0,
    );
    let diagnostics = PendingDiagnostics {
        values: packed.detach(),
    };
    Ok(LossOutput { loss, diagnostics })
}
