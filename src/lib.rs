//! prof-grpo: GRPO and PROF (PRocess cOnsistency Filter) reinforcement learning of
//! language models on maths with verifiable rewards, on the Burn deep-learning framework.
//!
//! Data flows one way through a training step:
//! prompts ([`data`]) → rollout ([`generation`]) → outcome reward ([`reward`]) →
//! PRM step scores ([`reward`]) → filter ([`rl`]) → advantages ([`rl`]) → update ([`train`]).

pub mod backend;
pub mod cli;
pub mod data;
pub mod eval;
pub mod generation;
pub mod host;
pub mod model;
pub mod reward;
pub mod rl;
pub mod tokenizer;
pub mod train;
