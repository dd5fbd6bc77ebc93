//! Step 5 of a training step: filter / shape each prompt group by the configured [`Algorithm`].
//!
//! Every algorithm works per prompt group on plain data ([`Completion`]) and returns, per
//! completion, whether it is kept, its consistency score, the reward to use for advantages and a
//! human-readable reason; and per group, the counts the metrics need. Ties in score drop the
//! completion with the lower index within its group first.

mod blend;
mod config;
mod dynamic_sampling;
mod prof;
mod prof_joint;
mod random;
mod rank;

use rand::Rng;

pub use blend::blend_reward;
pub use config::{Algorithm, FilterConfig};
pub use dynamic_sampling::zero_variance;
pub use prof::prof_removal_counts;

use super::consistency::{batch_mean_step_prob, penalized_score, step_count_out_of_range};
use super::group::{Completion, group_by_id};
use prof::IncorrectChoice;
use rank::{Member, Verdict};

/// Invalid filter input or configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilterError {
    /// A step probability is NaN or infinite.
    #[error("completion {completion}: step probability {step} is {value}, not a finite number")]
    NonFiniteStepProb {
        /// Batch index of the completion.
        completion: usize,
        /// Index of the step.
        step: usize,
        /// The offending value.
        value: f32,
    },
    /// `min_steps > max_steps`.
    #[error("filter config: min_steps ({min}) is greater than max_steps ({max})")]
    StepRange {
        /// Configured `min_steps`.
        min: usize,
        /// Configured `max_steps`.
        max: usize,
    },
    /// A numeric setting is NaN or infinite.
    #[error("filter config: {field} must be a finite number, got {value}")]
    NonFiniteSetting {
        /// Field name.
        field: &'static str,
        /// The offending value.
        value: f32,
    },
}

/// The filter's verdict on one completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Kept for the policy update.
    pub kept: bool,
    /// Outcome of the completion (reward 1 when true).
    pub correct: bool,
    /// Penalised consistency score (computed for every algorithm; only PROF variants rank by it).
    pub score: f32,
    /// Reward to compute advantages from: the 0/1 outcome, or the blended reward for `blend`.
    pub reward: f32,
    /// Its step count was outside `[min_steps, max_steps]`, so the score carries the penalty.
    pub penalized: bool,
    /// Why it was kept or dropped, e.g. "dropped: correct with 2nd lowest score of 5 correct".
    pub reason: String,
}

/// Per prompt group counts for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupStats {
    /// Group id.
    pub group: usize,
    /// Completions in the group.
    pub size: usize,
    /// Right completions before filtering.
    pub correct: usize,
    /// Wrong completions before filtering.
    pub incorrect: usize,
    /// Truncated completions before filtering.
    pub truncated: usize,
    /// Right completions kept.
    pub kept_correct: usize,
    /// Wrong completions kept.
    pub kept_incorrect: usize,
    /// Dynamic sampling removed what the filter had kept (zero reward variance).
    pub dropped_zero_variance: bool,
}

/// Result of filtering one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterResult {
    /// Batch mean step probability μ used by the scores.
    pub mu: f32,
    /// One decision per completion, in batch order.
    pub decisions: Vec<Decision>,
    /// One entry per group, in order of first appearance.
    pub groups: Vec<GroupStats>,
}

impl FilterResult {
    /// Batch indices of the kept completions, in batch order.
    pub fn kept_indices(&self) -> Vec<usize> {
        (0..self.decisions.len())
            .filter(|&i| self.decisions[i].kept)
            .collect()
    }

    /// Right completions kept over the batch (`prof/kept_correct`).
    pub fn kept_correct(&self) -> usize {
        self.groups.iter().map(|g| g.kept_correct).sum()
    }

    /// Wrong completions kept over the batch (`prof/kept_incorrect`).
    pub fn kept_incorrect(&self) -> usize {
        self.groups.iter().map(|g| g.kept_incorrect).sum()
    }

    /// Mean score of all right (`correct = true`) or all wrong completions before filtering
    /// (`prof/score_mean_correct`, `prof/score_mean_incorrect`); `None` when there are none.
    pub fn score_mean(&self, correct: bool) -> Option<f32> {
        let scores: Vec<f64> = self
            .decisions
            .iter()
            .filter(|d| d.correct == correct)
            .map(|d| f64::from(d.score))
            .collect();
        (!scores.is_empty()).then(|| (scores.iter().sum::<f64>() / scores.len() as f64) as f32)
    }
}

/// Filters / shapes a batch of completions (any number of groups, any group sizes).
///
/// `rng` is only drawn from by `prof_correct` and `random_filter`, group by group in order of
/// first appearance, so a seeded generator gives a reproducible result.
pub fn filter_batch<R: Rng + ?Sized>(
    algorithm: Algorithm,
    config: &FilterConfig,
    completions: &[Completion],
    rng: &mut R,
) -> Result<FilterResult, FilterError> {
    config.validate()?;
    for (completion, c) in completions.iter().enumerate() {
        if let Some((step, &value)) = c
            .step_probs
            .iter()
            .enumerate()
            .find(|(_, p)| !p.is_finite())
        {
            return Err(FilterError::NonFiniteStepProb {
                completion,
                step,
                value,
            });
        }
    }

    let mu = batch_mean_step_prob(completions);
    let mut decisions: Vec<Decision> = completions
        .iter()
        .map(|c| Decision {
            kept: true,
            correct: c.correct,
            score: penalized_score(c, mu, config),
            reward: match algorithm {
                Algorithm::Blend => blend_reward(c, config.blend_beta),
                _ => c.reward(),
            },
            penalized: step_count_out_of_range(c.step_probs.len(), config),
            reason: String::new(),
        })
        .collect();

    let groups = group_by_id(completions.iter().map(|c| c.group));
    let mut stats = Vec::with_capacity(groups.len());
    for group in &groups {
        let members: Vec<Member> = group
            .members
            .iter()
            .enumerate()
            .map(|(position, &i)| Member {
                position,
                correct: completions[i].correct,
                score: decisions[i].score,
            })
            .collect();
        let k = config.remove_k;
        let verdicts = match algorithm {
            Algorithm::Grpo => vec![Verdict::keep("no filter (grpo)"); members.len()],
            Algorithm::Blend => group
                .members
                .iter()
                .map(|&i| Verdict::keep(blend::explain(&completions[i], config.blend_beta)))
                .collect(),
            Algorithm::Prof => prof::decide(&members, k, IncorrectChoice::LowestScore, rng),
            Algorithm::ProfCorrect => prof::decide(&members, k, IncorrectChoice::Random, rng),
            Algorithm::ProfJoint => prof_joint::decide(&members, k),
            Algorithm::RandomFilter => random::decide(&members, k, rng),
        };
        for (&i, verdict) in group.members.iter().zip(verdicts) {
            let d = &mut decisions[i];
            d.kept = verdict.kept;
            d.reason = verdict.reason;
            if d.penalized {
                let n = completions[i].step_probs.len();
                d.reason.push_str(&format!(
                    "; {n} step{} outside [{}, {}], score −{}",
                    if n == 1 { "" } else { "s" },
                    config.min_steps,
                    config.max_steps,
                    config.step_penalty
                ));
            }
        }

        let kept_rewards: Vec<f32> = group
            .members
            .iter()
            .filter(|&&i| decisions[i].kept)
            .map(|&i| decisions[i].reward)
            .collect();
        let dropped_zero_variance = config.dynamic_sampling && zero_variance(&kept_rewards);
        if dropped_zero_variance {
            for &i in &group.members {
                let d = &mut decisions[i];
                if d.kept {
                    d.kept = false;
                    d.reason = format!(
                        "dropped: dynamic sampling, every kept completion of the group has reward {} (was {})",
                        kept_rewards[0], d.reason
                    );
                }
            }
        }

        let count =
            |pred: &dyn Fn(usize) -> bool| group.members.iter().filter(|&&i| pred(i)).count();
        stats.push(GroupStats {
            group: group.id,
            size: group.members.len(),
            correct: count(&|i| completions[i].correct),
            incorrect: count(&|i| !completions[i].correct),
            truncated: count(&|i| completions[i].truncated),
            kept_correct: count(&|i| decisions[i].kept && completions[i].correct),
            kept_incorrect: count(&|i| decisions[i].kept && !completions[i].correct),
            dropped_zero_variance,
        });
    }

    Ok(FilterResult {
        mu,
        decisions,
        groups: stats,
    })
}
