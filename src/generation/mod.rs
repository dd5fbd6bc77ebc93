//! Batched sampling with a KV cache, stop rules and log-probs of sampled tokens.

mod cpu_head;
pub mod device_sampling;
pub mod generate;
pub mod logprobs;
pub mod sampling;
pub mod vocab_chunks;

pub use generate::{
    Completion, FinishReason, GenerationConfig, generate, generate_per_row, last_position_logits,
};
pub use logprobs::{ResponseBatch, pick_response_positions, response_hidden, response_logprobs};
pub use sampling::{SamplingParams, sample_token};
