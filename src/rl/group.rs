//! Completions as the filters see them, and their grouping by prompt.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// One sampled completion, reduced to what filtering and shaping need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// Prompt group: the n completions sampled for one prompt share this id.
    pub group: usize,
    /// Outcome reward from the verifier: `true` is reward 1 (right), `false` reward 0 (wrong).
    pub correct: bool,
    /// PRM probability that each reasoning step is right, in step order (may be empty).
    pub step_probs: Vec<f32>,
    /// Generation stopped at the length limit (counted in the group statistics only).
    pub truncated: bool,
}

impl Completion {
    /// The 0/1 outcome reward.
    pub fn reward(&self) -> f32 {
        if self.correct { 1.0 } else { 0.0 }
    }

    /// Mean step probability `mean_t p_t`, 0 when there are no steps.
    pub fn mean_step_prob(&self) -> f32 {
        if self.step_probs.is_empty() {
            return 0.0;
        }
        let sum: f64 = self.step_probs.iter().map(|&p| f64::from(p)).sum();
        (sum / self.step_probs.len() as f64) as f32
    }
}

/// The members of one prompt group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The shared group id.
    pub id: usize,
    /// Batch indices of the members, in batch order; a member's position in this list is its
    /// index within the group (used to break ties: lower index first).
    pub members: Vec<usize>,
}

/// Splits a batch into groups by id, groups in order of first appearance, members in batch order.
pub fn group_by_id(ids: impl IntoIterator<Item = usize>) -> Vec<Group> {
    let mut position: HashMap<usize, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for (index, id) in ids.into_iter().enumerate() {
        let slot = *position.entry(id).or_insert_with(|| {
            groups.push(Group {
                id,
                members: Vec::new(),
            });
            groups.len() - 1
        });
        groups[slot].members.push(index);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_first_appearance_order() {
        let groups = group_by_id([7, 3, 7, 3, 9]);
        assert_eq!(
            groups,
            vec![
                Group {
                    id: 7,
                    members: vec![0, 2]
                },
                Group {
                    id: 3,
                    members: vec![1, 3]
                },
                Group {
                    id: 9,
                    members: vec![4]
                },
            ]
        );
    }

    #[test]
    fn mean_step_prob_of_no_steps_is_zero() {
        let c = Completion {
            group: 0,
            correct: true,
            step_probs: vec![],
            truncated: false,
        };
        assert_eq!(c.mean_step_prob(), 0.0);
        let c = Completion {
            step_probs: vec![0.5, 1.0],
            ..c
        };
        assert!((c.mean_step_prob() - 0.75).abs() < 1e-7);
        assert_eq!(c.reward(), 1.0);
    }
}
