//! Qwen2 transformer: config, layers, attention, rotary embeddings, heads, weight loading.
//!
//! All code is generic over the Burn backend `B`; the backend is chosen at the CLI edge.

pub mod attention;
pub mod config;
pub mod contiguous;
pub mod cpu_attention;
pub mod cube_ops;
pub mod decode_kernels;
pub mod decoder_layer;
pub mod dtype;
pub mod exp_activations;
pub mod export;
pub mod flash_attention;
pub mod gemv;
pub mod host_backbone;
pub mod host_weights;
pub mod hub;
pub mod init;
pub mod kv_cache;
pub mod launch_limits;
pub mod loader;
pub mod matmul_kernels;
pub mod matrix_layout;
pub mod mlp;
pub mod preset;
pub mod pretrained;
pub mod qwen2;
pub mod recorded_numerics;
pub mod rms_norm;
pub mod rotary;
pub mod token_linear;
pub mod tracked_attention;
pub mod weights;

pub use attention::AttentionMask;
pub use config::Qwen2Config;
pub use kv_cache::KvCache;
pub use loader::{load_backbone, load_causal_lm};
pub use pretrained::{PretrainedLm, load_pretrained};
pub use qwen2::{Batch, Qwen2ForCausalLm, Qwen2Model};
