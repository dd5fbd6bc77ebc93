//! Rewards: the outcome verifier (answer extraction and equivalence) and the process reward model.

pub mod prm;
pub mod verifier;
