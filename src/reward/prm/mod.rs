//! The process reward model (Qwen2.5-Math-PRM architecture) and step scoring.

pub mod aggregation;
pub mod format;
pub mod model;
pub mod scorer;
pub mod scoring;

pub use aggregation::Aggregation;
pub use format::{PrmInput, Truncation, prepare_prm_input, split_steps};
pub use model::ProcessRewardModel;
pub use scorer::{CompletionSteps, PrmScorer, PrmSettings, StepScorer};
pub use scoring::{Padding, StepScores, score_ids};
