//! Tokenizer and chat-template rendering.
