//! The integration tests, linked into one test binary (one link of the whole dependency tree
//! instead of one per file). Each module is one area; `cargo test --test integration <module>`
//! runs one of them.

mod common;

mod checkpoint;
mod cli_model;
#[cfg(feature = "cuda")]
mod cuda_checks;
mod data_gold_verify;
mod data_prepare;
mod data_shared;
mod eval_curves;
mod eval_metrics;
mod eval_tiny_model;
mod export_roundtrip;
mod model_parity;
#[cfg(feature = "wgpu")]
mod model_parity_wgpu;
mod prm_cli;
mod prm_format;
mod prm_parity;
mod report_chromium;
mod rl_curate;
mod rl_filter;
mod rl_loss;
mod tokenizer_qwen;
mod tokenizer_toy;
mod train_config;
mod train_smoke;
mod verifier_budget;
mod verifier_cli;
mod verifier_mathverify;
mod verifier_table;
