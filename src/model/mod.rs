//! Qwen2 transformer: config, layers, attention, rotary embeddings, heads, weight loading.
