//! Reinforcement-learning maths on plain data: groups, filters (PROF and others), advantages, losses.
//!
//! Steps 5 to 7 of a training step: [`filter`] (keep/drop and reward shaping per prompt group,
//! using [`consistency`] scores), [`advantage`] (group-normalised advantages of the kept
//! completions), then the per-micro-batch objective on Burn tensors: [`policy_loss`] (clipped
//! ratio), [`kl`] (penalty to the reference policy), [`entropy`] (bonus), combined and reduced by
//! [`objective`] with an [`aggregation`] mode.

pub mod advantage;
pub mod aggregation;
pub mod consistency;
pub mod entropy;
pub mod filter;
pub mod group;
pub mod kl;
pub mod objective;
pub mod policy_loss;

pub use advantage::{AdvantageConfig, ScaleRewards, group_advantages};
pub use aggregation::{AggregationNorm, LossAggregation, aggregate};
pub use filter::{
    Algorithm, Decision, FilterConfig, FilterError, FilterResult, GroupStats, filter_batch,
};
pub use group::Completion;
pub use kl::{KlEstimator, kl_penalty};
pub use objective::{
    LossConfig, LossDiagnostics, LossError, LossInput, LossOutput, PendingDiagnostics, compute_loss,
};
pub use policy_loss::{ClipConfig, PolicyLoss, policy_loss};
