//! `blend`: no filter, the PRM enters the reward directly: `r + β · mean_t p_t`.

use crate::rl::group::Completion;

/// Blended reward `r + β · mean_t p_t` (the mean is 0 for a completion with no steps).
pub fn blend_reward(completion: &Completion, beta: f32) -> f32 {
    completion.reward() + beta * completion.mean_step_prob()
}

/// Human-readable derivation of the blended reward.
pub(super) fn explain(completion: &Completion, beta: f32) -> String {
    format!(
        "no filter (blend); reward {} + {beta} × {:.4} = {:.4}",
        completion.reward(),
        completion.mean_step_prob(),
        blend_reward(completion, beta)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blends_mean_step_probability() {
        let c = Completion {
            group: 0,
            correct: false,
            step_probs: vec![0.5, 1.0],
            truncated: false,
        };
        assert!((blend_reward(&c, 0.8) - 0.6).abs() < 1e-6);
        let c = Completion {
            correct: true,
            step_probs: vec![],
            ..c
        };
        assert_eq!(blend_reward(&c, 0.8), 1.0);
    }
}
