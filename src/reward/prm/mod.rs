//! The process reward model (Qwen2.5-Math-PRM architecture) and step scoring.

pub mod aggregation;
pub mod model;
pub mod scoring;

pub use aggregation::Aggregation;
pub use model::ProcessRewardModel;
pub use scoring::{Padding, StepScores, score_ids};
