//! Token entropies of the policy, for the entropy bonus and the `entropy` metric.
//!
//! `H_t = −Σ_v p_v log p_v` with `p = softmax(z_t)` over the vocabulary.

use burn::tensor::{Tensor, activation::log_softmax, backend::Backend};

/// Entropy `[B, T]` of each position's next-token distribution given logits `[B, T, V]`.
pub fn token_entropy<B: Backend>(logits: Tensor<B, 3>) -> Tensor<B, 2> {
    let log_p = log_softmax(logits, 2);
    let p = log_p.clone().exp();
    (p * log_p).sum_dim(2).squeeze_dim::<2>(2).neg()
}
