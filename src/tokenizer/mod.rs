//! Tokenizer and chat-template rendering.
//!
//! [`Tokenizer`] wraps a Hugging Face `tokenizer.json` (the `tokenizers` crate) with the special
//! tokens and Jinja chat template of `tokenizer_config.json`, rendered by [`ChatTemplate`] exactly
//! as transformers' `apply_chat_template(tokenize=False)` does. [`Tokenizer::builtin_toy`] builds
//! a small tokenizer in code for tiny models trained from scratch.

pub mod chat_template;
pub mod config;
pub mod python_json;
pub mod text_tokenizer;
pub mod toy;

pub use chat_template::{ChatMessage, ChatTemplate};
pub use config::TokenizerConfig;
pub use text_tokenizer::{END_OF_TEXT, IM_END, IM_START, STEP_SEPARATOR, Tokenizer, hub_offline};
