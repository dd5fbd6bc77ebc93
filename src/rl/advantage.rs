//! Step 6: group-relative advantages of the kept completions.
//!
//! `A_i = (r_i − mean_g) / (std + ε)` with `mean_g` the mean reward of the completion's group
//! and `std` the unbiased (n − 1) standard deviation chosen by [`ScaleRewards`]. The advantage is
//! the same for every token of the completion.
//!
//! A group of one gets advantage 0: with a single completion there is no baseline to compare it
//! with (its own reward is the mean, and the unbiased std is undefined), so it carries no
//! group-relative signal.

use serde::{Deserialize, Serialize};

use super::group::group_by_id;

/// What the centred rewards are divided by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleRewards {
    /// The std of the completion's own group (original GRPO). Default.
    #[default]
    Group,
    /// The std of all rewards passed in (the kept batch), as TRL's `scale_rewards = "batch"`.
    Batch,
    /// No scaling, only centring (Dr. GRPO).
    None,
}

/// Advantage settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdvantageConfig {
    /// Std used for scaling. Default `group`.
    pub scale_rewards: ScaleRewards,
    /// ε added to the std. Default 1e-6.
    pub epsilon: f32,
}

impl Default for AdvantageConfig {
    fn default() -> Self {
        Self {
            scale_rewards: ScaleRewards::Group,
            epsilon: 1e-6,
        }
    }
}

/// Unbiased standard deviation; 0 for fewer than two values.
pub fn unbiased_std(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (ss / (values.len() - 1) as f64).sqrt()
}

/// Advantage of each completion from its group id and reward (pass only the kept ones).
///
/// # Panics
/// When `groups` and `rewards` differ in length.
pub fn group_advantages(groups: &[usize], rewards: &[f32], config: &AdvantageConfig) -> Vec<f32> {
    assert_eq!(
        groups.len(),
        rewards.len(),
        "one group id per reward is needed"
    );
    let all: Vec<f64> = rewards.iter().map(|&r| f64::from(r)).collect();
    let batch_std = unbiased_std(&all);
    let eps = f64::from(config.epsilon);
    let mut advantages = vec![0.0f32; rewards.len()];
    for group in group_by_id(groups.iter().copied()) {
        if group.members.len() < 2 {
            continue;
        }
        let values: Vec<f64> = group.members.iter().map(|&i| all[i]).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let scale = match config.scale_rewards {
            ScaleRewards::Group => unbiased_std(&values) + eps,
            ScaleRewards::Batch => batch_std + eps,
            ScaleRewards::None => 1.0,
        };
        for &i in &group.members {
            let centred = all[i] - mean;
            // A zero scale (ε = 0 and equal rewards) only meets zero centred rewards: keep 0.
            advantages[i] = if scale > 0.0 {
                centred / scale
            } else {
                centred
            } as f32;
        }
    }
    advantages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((f64::from(*x) - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn group_scaling_hand_computed() {
        // Group 0: rewards 1,0,0,0 → mean 0.25, unbiased std sqrt(0.75/3) = 0.5.
        // Group 1: rewards 1,1 → std 0 → advantages 0.
        let cfg = AdvantageConfig {
            epsilon: 0.0,
            ..Default::default()
        };
        let adv = group_advantages(&[0, 0, 1, 0, 0, 1], &[1.0, 0.0, 1.0, 0.0, 0.0, 1.0], &cfg);
        close(&adv, &[1.5, -0.5, 0.0, -0.5, -0.5, 0.0]);
    }

    #[test]
    fn epsilon_is_added_to_std() {
        // rewards 1,0 → mean 0.5, std sqrt(0.5) ≈ 0.70711; ε = 0.1.
        let cfg = AdvantageConfig {
            epsilon: 0.1,
            ..Default::default()
        };
        let adv = group_advantages(&[3, 3], &[1.0, 0.0], &cfg);
        let s = 0.5f64.sqrt() + 0.1;
        close(&adv, &[0.5 / s, -0.5 / s]);
    }

    #[test]
    fn batch_and_none_scaling() {
        // Rewards 1,0 | 1,1 → batch mean 0.75, unbiased batch std sqrt(0.75/3) = 0.5.
        let groups = [0, 0, 1, 1];
        let rewards = [1.0, 0.0, 1.0, 1.0];
        let batch = AdvantageConfig {
            scale_rewards: ScaleRewards::Batch,
            epsilon: 0.0,
        };
        close(
            &group_advantages(&groups, &rewards, &batch),
            &[1.0, -1.0, 0.0, 0.0],
        );
        let none = AdvantageConfig {
            scale_rewards: ScaleRewards::None,
            epsilon: 0.0,
        };
        close(
            &group_advantages(&groups, &rewards, &none),
            &[0.5, -0.5, 0.0, 0.0],
        );
    }

    #[test]
    fn group_of_one_gets_zero() {
        for scale_rewards in [ScaleRewards::Group, ScaleRewards::Batch, ScaleRewards::None] {
            let cfg = AdvantageConfig {
                scale_rewards,
                epsilon: 1e-6,
            };
            let adv = group_advantages(&[0, 1, 1], &[1.0, 0.0, 1.0], &cfg);
            assert_eq!(adv[0], 0.0, "{scale_rewards:?}");
            assert!(adv[1] < 0.0 && adv[2] > 0.0);
        }
    }

    #[test]
    fn blended_rewards_are_centred() {
        // 1.6, 0.4, 1.0 → mean 1.0, deviations 0.6, −0.6, 0 → unbiased std sqrt(0.72/2) = 0.6.
        let cfg = AdvantageConfig {
            epsilon: 0.0,
            ..Default::default()
        };
        close(
            &group_advantages(&[5, 5, 5], &[1.6, 0.4, 1.0], &cfg),
            &[1.0, -1.0, 0.0],
        );
    }

    #[test]
    fn deserializes_snake_case() {
        let cfg: AdvantageConfig = toml::from_str("scale_rewards = \"none\"").unwrap();
        assert_eq!(cfg.scale_rewards, ScaleRewards::None);
        assert_eq!(cfg.epsilon, 1e-6);
    }
}
