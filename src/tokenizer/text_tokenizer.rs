//! [`Tokenizer`]: a Hugging Face `tokenizer.json` plus `tokenizer_config.json` (special tokens,
//! chat template).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use super::chat_template::{ChatMessage, ChatTemplate};
use super::config::TokenizerConfig;

/// ChatML end-of-turn token.
pub const IM_END: &str = "<|im_end|>";
/// ChatML start-of-turn token.
pub const IM_START: &str = "<|im_start|>";
/// Qwen's end-of-text token (its eos and pad).
pub const END_OF_TEXT: &str = "<|endoftext|>";
/// The step separator of Qwen2.5-Math-PRM.
pub const STEP_SEPARATOR: &str = "<extra_0>";

/// A text tokenizer with its special tokens and optional chat template.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    config: TokenizerConfig,
    chat_template: Option<ChatTemplate>,
}

impl Tokenizer {
    /// Loads `tokenizer.json` and, when present, `tokenizer_config.json` from a model directory.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let config_path = dir.join("tokenizer_config.json");
        let config = if config_path.exists() {
            Some(config_path)
        } else {
            None
        };
        Self::from_files(&dir.join("tokenizer.json"), config.as_deref())
    }

    /// Loads a tokenizer from a local model directory or, failing that, from a Hugging Face hub
    /// model id (`Qwen/Qwen2.5-Math-1.5B`) through the hf-hub cache (`HF_HOME`; with
    /// `HF_HUB_OFFLINE=1` only the cache is used). `toy` gives [`Tokenizer::builtin_toy`].
    pub fn from_dir_or_hub(name: &str) -> Result<Self> {
        if name == "toy" {
            return Ok(Self::builtin_toy());
        }
        let path = Path::new(name);
        if path.is_dir() {
            return Self::from_dir(path);
        }
        let (tokenizer_json, config) = hub_tokenizer_files(name)
            .with_context(|| format!("{name:?} is not a directory; looking it up on the hub"))?;
        Self::from_files(&tokenizer_json, config.as_deref())
    }

    /// Loads from an explicit `tokenizer.json` and optional `tokenizer_config.json`.
    pub fn from_files(tokenizer_json: &Path, tokenizer_config: Option<&Path>) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_file(tokenizer_json)
            .map_err(|e| anyhow!("{e}"))
            .with_context(|| format!("loading {}", tokenizer_json.display()))?;
        let config = match tokenizer_config {
            Some(p) => TokenizerConfig::from_file(p)?,
            None => TokenizerConfig::default(),
        };
        Self::from_parts(inner, config)
    }

    /// Builds from an in-memory tokenizer and config (compiles the chat template, checks that
    /// the configured special tokens exist in the vocabulary).
    pub fn from_parts(inner: tokenizers::Tokenizer, config: TokenizerConfig) -> Result<Self> {
        for (name, token) in [
            ("bos_token", &config.bos_token),
            ("eos_token", &config.eos_token),
            ("pad_token", &config.pad_token),
        ] {
            if let Some(t) = token
                && inner.token_to_id(t).is_none()
            {
                bail!("{name} {t:?} of tokenizer_config.json is not in the vocabulary");
            }
        }
        let chat_template = match &config.chat_template {
            Some(src) => Some(ChatTemplate::new(src, &config)?),
            None => None,
        };
        Ok(Self {
            inner,
            config,
            chat_template,
        })
    }

    /// Token ids of `text`. Special tokens written in the text (`<|im_start|>`) are recognised;
    /// no bos/eos is added (Qwen adds none either).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| anyhow!("encoding: {e}"))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Token ids of several texts (in parallel where the tokenizers crate can).
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        let encs = self
            .inner
            .encode_batch(texts.to_vec(), false)
            .map_err(|e| anyhow!("encoding: {e}"))?;
        Ok(encs.into_iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Text of `ids`; special tokens are dropped when `skip_special_tokens` is set.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| anyhow!("decoding: {e}"))
    }

    /// Id of a token given by its text (`"<|im_end|>"`, `"<extra_0>"`), if in the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Id of a token that must exist; the error names the token.
    pub fn require_token_id(&self, token: &str) -> Result<u32> {
        self.token_id(token)
            .with_context(|| format!("token {token:?} is not in the vocabulary"))
    }

    /// Text of a token id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Vocabulary size including added tokens (one past the largest id for contiguous vocabs).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The eos id from `tokenizer_config.json`.
    pub fn eos_token_id(&self) -> Option<u32> {
        self.config
            .eos_token
            .as_deref()
            .and_then(|t| self.token_id(t))
    }

    /// The pad id from `tokenizer_config.json`, falling back to eos.
    pub fn pad_token_id(&self) -> Option<u32> {
        self.config
            .pad_token
            .as_deref()
            .and_then(|t| self.token_id(t))
            .or_else(|| self.eos_token_id())
    }

    /// The bos id from `tokenizer_config.json` (none for Qwen2.5).
    pub fn bos_token_id(&self) -> Option<u32> {
        self.config
            .bos_token
            .as_deref()
            .and_then(|t| self.token_id(t))
    }

    /// Ids that end a generated answer: eos, `<|im_end|>` and `<|endoftext|>` (those present,
    /// without duplicates, in that order).
    pub fn stop_token_ids(&self) -> Vec<u32> {
        let mut ids = Vec::new();
        let candidates = [
            self.eos_token_id(),
            self.token_id(IM_END),
            self.token_id(END_OF_TEXT),
        ];
        for id in candidates.into_iter().flatten() {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    /// The parsed `tokenizer_config.json`.
    pub fn config(&self) -> &TokenizerConfig {
        &self.config
    }

    /// Whether a chat template is available.
    pub fn has_chat_template(&self) -> bool {
        self.chat_template.is_some()
    }

    /// Renders `messages` through the chat template (as transformers'
    /// `apply_chat_template(tokenize=False)`).
    pub fn apply_chat_template(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String> {
        self.chat_template
            .as_ref()
            .context("this tokenizer has no chat_template")?
            .render(messages, add_generation_prompt)
    }

    /// The compiled chat template, if any.
    pub fn chat_template(&self) -> Option<&ChatTemplate> {
        self.chat_template.as_ref()
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Writes `tokenizer.json` and `tokenizer_config.json` into `dir` (created if missing), so
    /// [`Tokenizer::from_dir`] loads it back.
    pub fn save_to_dir(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("tokenizer.json");
        self.inner
            .save(&path, true)
            .map_err(|e| anyhow!("{e}"))
            .with_context(|| format!("writing {}", path.display()))?;
        let path = dir.join("tokenizer_config.json");
        let text = serde_json::to_string_pretty(&self.config.to_json())?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// `tokenizer.json` (required) and `tokenizer_config.json` (optional) of a hub model.
fn hub_tokenizer_files(model_id: &str) -> Result<(PathBuf, Option<PathBuf>)> {
    let repo = hf_hub::Repo::model(model_id.to_string());
    if hub_offline() {
        let cache = hf_hub::Cache::from_env().repo(repo);
        let json = cache
            .get("tokenizer.json")
            .with_context(|| format!("HF_HUB_OFFLINE is set and {model_id} is not in the cache"))?;
        return Ok((json, cache.get("tokenizer_config.json")));
    }
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_progress(false)
        .build()
        .context("setting up the hub client")?;
    let repo = api.repo(repo);
    let json = repo
        .get("tokenizer.json")
        .with_context(|| format!("fetching {model_id}"))?;
    Ok((json, repo.get("tokenizer_config.json").ok()))
}

/// Whether `HF_HUB_OFFLINE` asks for cache-only access.
pub fn hub_offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}
