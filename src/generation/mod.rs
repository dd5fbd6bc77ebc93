//! Batched sampling with a KV cache, stop rules and log-probs of sampled tokens.
