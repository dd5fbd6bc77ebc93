//! Translating the trainer's configuration into the settings of the RL maths (`crate::rl`).

use anyhow::{Result, anyhow};

use super::config::{TrainConfig, TruncatedCompletions};
use crate::rl::{
    AdvantageConfig, Algorithm, FilterConfig, KlEstimator, LossAggregation, LossConfig,
    ScaleRewards,
};

fn parse<T: serde::de::DeserializeOwned>(what: &str, name: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|e| anyhow!("{what} = {name:?}: {e}"))
}

/// The filter / shaping algorithm.
pub fn algorithm(c: &TrainConfig) -> Result<Algorithm> {
    parse("algorithm.name", c.algorithm.name.as_str())
}

/// Filter knobs.
pub fn filter_config(c: &TrainConfig) -> FilterConfig {
    FilterConfig {
        remove_k: c.algorithm.prof_remove,
        min_steps: c.algorithm.min_steps,
        max_steps: c.algorithm.max_steps,
        step_penalty: c.algorithm.step_penalty as f32,
        blend_beta: c.algorithm.blend_beta as f32,
        dynamic_sampling: c.algorithm.dynamic_sampling,
    }
}

/// Advantage settings.
pub fn advantage_config(c: &TrainConfig) -> Result<AdvantageConfig> {
    Ok(AdvantageConfig {
        scale_rewards: parse::<ScaleRewards>(
            "algorithm.scale_rewards",
            c.algorithm.scale_rewards.as_str(),
        )?,
        epsilon: c.algorithm.adv_epsilon as f32,
    })
}

/// Loss settings; the KL term is off when no reference model is used.
pub fn loss_config(c: &TrainConfig) -> Result<LossConfig> {
    Ok(LossConfig {
        clip_low: c.actor.clip_low as f32,
        clip_high: c.actor.clip_high as f32,
        dual_clip_c: if c.actor.dual_clip > 0.0 {
            c.actor.dual_clip as f32
        } else {
            f32::INFINITY
        },
        kl_coef: c.reference.kl_coef as f32,
        kl_estimator: parse::<KlEstimator>(
            "reference.kl_estimator",
            c.reference.kl_estimator.as_str(),
        )?,
        entropy_coef: c.actor.entropy_coef as f32,
        aggregation: parse::<LossAggregation>("actor.loss_agg", c.actor.loss_agg.as_str())?,
    })
}

/// How completions cut at the length limit are treated.
pub fn truncated_policy(c: &TrainConfig) -> TruncatedCompletions {
    c.rollout.truncated
}
