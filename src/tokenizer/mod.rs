//! Tokenizer and chat-template rendering.

use anyhow::{Result, bail};
use std::path::Path;

/// Placeholder until the tokenizer lands: every method reports that tokenizer files are needed.
pub struct Tokenizer;

impl Tokenizer {
    /// Loads `tokenizer.json` and `tokenizer_config.json` from `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        bail!("no tokenizer support yet for {}", dir.display())
    }
    /// Encodes a chat prompt.
    pub fn encode_chat_prompt(&self, _system: Option<&str>, _user: &str) -> Result<Vec<u32>> {
        bail!("no tokenizer")
    }
    /// Stop ids.
    pub fn stop_ids(&self) -> Vec<u32> {
        Vec::new()
    }
    /// Decodes ids.
    pub fn decode(&self, _ids: &[u32], _skip_special: bool) -> Result<String> {
        bail!("no tokenizer")
    }
}
