//! Command-line commands (the backend is chosen in [`crate::backend`]).

pub mod curate;
pub mod eval;
pub mod export;
pub mod generate;
pub mod logits;
pub mod model_args;
pub mod prepare;
pub mod prm_score;
pub mod report;
pub mod train;
pub mod verify;
