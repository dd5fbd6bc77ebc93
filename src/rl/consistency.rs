//! PROF consistency score: how well a completion's PRM step probabilities agree with its outcome.
//!
//! `s = mean_t 2·(p_t − μ)·(2r − 1)`, with `μ` the mean of all step probabilities in the batch:
//! a right answer scores high when its steps look better than average, a wrong answer when its
//! steps look worse than average. A completion with no steps scores 0. A step count outside
//! `[min_steps, max_steps]` subtracts `step_penalty`.

use super::filter::FilterConfig;
use super::group::Completion;

/// Mean of every step probability in the batch (`μ`), 0 when the batch has no steps.
pub fn batch_mean_step_prob(completions: &[Completion]) -> f32 {
    let (sum, count) = completions
        .iter()
        .flat_map(|c| c.step_probs.iter())
        .fold((0.0f64, 0usize), |(s, n), &p| (s + f64::from(p), n + 1));
    if count == 0 {
        0.0
    } else {
        (sum / count as f64) as f32
    }
}

/// Unpenalised score `mean_t 2·(p_t − μ)·(2r − 1)`; 0 for no steps.
pub fn consistency_score(step_probs: &[f32], correct: bool, mu: f32) -> f32 {
    if step_probs.is_empty() {
        return 0.0;
    }
    let sign = if correct { 1.0 } else { -1.0 };
    let sum: f64 = step_probs
        .iter()
        .map(|&p| 2.0 * (f64::from(p) - f64::from(mu)) * sign)
        .sum();
    (sum / step_probs.len() as f64) as f32
}

/// Whether `num_steps` lies outside `[min_steps, max_steps]`.
pub fn step_count_out_of_range(num_steps: usize, config: &FilterConfig) -> bool {
    num_steps < config.min_steps || num_steps > config.max_steps
}

/// The amount subtracted from the score for `num_steps` steps: `step_penalty` or 0.
pub fn step_count_penalty(num_steps: usize, config: &FilterConfig) -> f32 {
    if step_count_out_of_range(num_steps, config) {
        config.step_penalty
    } else {
        0.0
    }
}

/// Penalised score of one completion given the batch mean `mu`.
pub fn penalized_score(completion: &Completion, mu: f32, config: &FilterConfig) -> f32 {
    consistency_score(&completion.step_probs, completion.correct, mu)
        - step_count_penalty(completion.step_probs.len(), config)
}

/// Penalised scores of a whole batch, with `μ` taken over that batch.
pub fn batch_scores(completions: &[Completion], config: &FilterConfig) -> Vec<f32> {
    let mu = batch_mean_step_prob(completions);
    completions
        .iter()
        .map(|c| penalized_score(c, mu, config))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(correct: bool, step_probs: &[f32]) -> Completion {
        Completion {
            group: 0,
            correct,
            step_probs: step_probs.to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn mu_is_mean_over_all_steps_not_mean_of_means() {
        // Steps: 0.2, 0.4 | 1.0 | (none) → μ = 1.6 / 3.
        let batch = [
            completion(true, &[0.2, 0.4]),
            completion(false, &[1.0]),
            completion(false, &[]),
        ];
        assert!((batch_mean_step_prob(&batch) - 1.6 / 3.0).abs() < 1e-7);
        assert_eq!(batch_mean_step_prob(&[]), 0.0);
    }

    #[test]
    fn score_signs_follow_outcome() {
        // μ = 0.5; steps 0.9, 0.7 → mean 2·(0.4, 0.2) = 0.6 for right, −0.6 for wrong.
        assert!((consistency_score(&[0.9, 0.7], true, 0.5) - 0.6).abs() < 1e-6);
        assert!((consistency_score(&[0.9, 0.7], false, 0.5) + 0.6).abs() < 1e-6);
        assert_eq!(consistency_score(&[], true, 0.5), 0.0);
    }

    #[test]
    fn penalty_applies_outside_step_range() {
        let cfg = FilterConfig::default();
        assert_eq!(step_count_penalty(0, &cfg), 10.0);
        assert_eq!(step_count_penalty(1, &cfg), 10.0);
        assert_eq!(step_count_penalty(2, &cfg), 0.0);
        assert_eq!(step_count_penalty(30, &cfg), 0.0);
        assert_eq!(step_count_penalty(31, &cfg), 10.0);
    }

    #[test]
    fn batch_scores_combine_score_and_penalty() {
        // μ = (0.9 + 0.7 + 0.2) / 3 = 0.6.
        // a: right, steps 0.9 0.7 → mean 2·(0.3, 0.1) = 0.4.
        // b: wrong, one step 0.2 → −2·(−0.4) = 0.8, minus 10 for a single step = −9.2.
        // c: right, no steps → 0 − 10.
        let batch = [
            completion(true, &[0.9, 0.7]),
            completion(false, &[0.2]),
            completion(true, &[]),
        ];
        let s = batch_scores(&batch, &FilterConfig::default());
        assert!((s[0] - 0.4).abs() < 1e-6, "{s:?}");
        assert!((s[1] + 9.2).abs() < 1e-6, "{s:?}");
        assert_eq!(s[2], -10.0);
    }
}
