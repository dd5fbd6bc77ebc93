//! Command-line commands; the only place that names a concrete backend.

pub mod backend;
pub mod eval;
pub mod export;
pub mod generate;
pub mod logits;
pub mod model_args;
pub mod report;
