//! The training loop, optimizer, schedules, checkpoints, metrics and plots.

pub mod checkpoint;
pub mod checkpointed_layers;
pub mod config;
pub mod config_keys;
pub mod config_load;
pub mod fused_adamw;
pub mod grad_norm;
pub mod lookup_grad;
pub mod lr_schedule;
pub mod metrics;
pub mod nan_guard;
pub mod non_finite;
pub mod plots;
pub mod policy_logprobs;
pub mod progress;
pub mod prompt_sampler;
pub mod rl_settings;
pub mod rollout;
pub mod setup;
pub mod step;
pub mod toy;
pub mod trainer;
pub mod update;
pub mod validation;

pub use config::TrainConfig;
