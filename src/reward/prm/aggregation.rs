//! Reducing a completion's step probabilities to one number.

use serde::{Deserialize, Serialize};

/// How step probabilities are combined (PROF uses the mean; the others serve ablations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Mean over steps.
    #[default]
    Mean,
    /// Smallest step probability.
    Min,
    /// Sum over steps.
    Sum,
    /// The last step's probability.
    Last,
}

impl Aggregation {
    /// Combines `probs`; `None` when there are no steps.
    pub fn apply(self, probs: &[f32]) -> Option<f32> {
        if probs.is_empty() {
            return None;
        }
        Some(match self {
            Self::Mean => probs.iter().sum::<f32>() / probs.len() as f32,
            Self::Min => probs.iter().copied().fold(f32::INFINITY, f32::min),
            Self::Sum => probs.iter().sum(),
            Self::Last => *probs.last().expect("non-empty"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_values() {
        let p = [0.2, 0.9, 0.4];
        assert!((Aggregation::Mean.apply(&p).unwrap() - 0.5).abs() < 1e-6);
        assert_eq!(Aggregation::Min.apply(&p), Some(0.2));
        assert!((Aggregation::Sum.apply(&p).unwrap() - 1.5).abs() < 1e-6);
        assert_eq!(Aggregation::Last.apply(&p), Some(0.4));
        assert_eq!(Aggregation::Mean.apply(&[]), None);
    }
}
