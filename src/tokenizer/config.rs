//! `tokenizer_config.json`: special tokens and the Jinja chat template.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The parts of a Hugging Face `tokenizer_config.json` this crate uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenizerConfig {
    /// Beginning-of-sequence token text (`None` when the config has `null`, as Qwen2.5 does).
    pub bos_token: Option<String>,
    /// End-of-sequence token text.
    pub eos_token: Option<String>,
    /// Padding token text.
    pub pad_token: Option<String>,
    /// Unknown-token text.
    pub unk_token: Option<String>,
    /// `additional_special_tokens`, in file order.
    pub additional_special_tokens: Vec<String>,
    /// The Jinja chat template (the `default` one when the file holds a named list).
    pub chat_template: Option<String>,
}

impl TokenizerConfig {
    /// Reads and parses `tokenizer_config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_json_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Parses the JSON text of a `tokenizer_config.json`.
    pub fn from_json_str(text: &str) -> Result<Self> {
        let root: Value = serde_json::from_str(text).context("invalid JSON")?;
        let Value::Object(map) = &root else {
            bail!("expected a JSON object at the top level");
        };
        let token = |key: &str| -> Result<Option<String>> {
            map.get(key)
                .map_or(Ok(None), |v| token_text(v).context(key.to_string()))
        };
        let additional_special_tokens = match map.get("additional_special_tokens") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    token_text(v)
                        .and_then(|t| t.context("null entry"))
                        .with_context(|| format!("additional_special_tokens[{i}]"))
                })
                .collect::<Result<_>>()?,
            Some(other) => bail!("additional_special_tokens: expected a list, found {other}"),
        };
        Ok(Self {
            bos_token: token("bos_token")?,
            eos_token: token("eos_token")?,
            pad_token: token("pad_token")?,
            unk_token: token("unk_token")?,
            additional_special_tokens,
            chat_template: chat_template(map.get("chat_template")).context("chat_template")?,
        })
    }

    /// Serialises back to a minimal `tokenizer_config.json`.
    pub fn to_json(&self) -> Value {
        let opt = |t: &Option<String>| t.clone().map_or(Value::Null, Value::String);
        serde_json::json!({
            "bos_token": opt(&self.bos_token),
            "eos_token": opt(&self.eos_token),
            "pad_token": opt(&self.pad_token),
            "unk_token": opt(&self.unk_token),
            "additional_special_tokens": self.additional_special_tokens,
            "chat_template": opt(&self.chat_template),
        })
    }
}

/// A token given as a string, as `{"content": ...}` (an AddedToken dict), or `null`.
fn token_text(v: &Value) -> Result<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Object(o) => match o.get("content") {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            _ => bail!("token object without a string \"content\""),
        },
        other => bail!("expected a string, an object or null, found {other}"),
    }
}

/// `chat_template` as one string or a list of `{name, template}` (the `default` entry is used).
fn chat_template(v: Option<&Value>) -> Result<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Array(items)) => {
            for item in items {
                if item.get("name").and_then(Value::as_str) == Some("default") {
                    return match item.get("template") {
                        Some(Value::String(s)) => Ok(Some(s.clone())),
                        _ => bail!("the \"default\" entry has no string \"template\""),
                    };
                }
            }
            bail!("a list of named templates without a \"default\" entry")
        }
        Some(other) => bail!("expected a string or a list, found {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strings_objects_and_nulls() {
        let cfg = TokenizerConfig::from_json_str(
            r#"{"bos_token": null, "eos_token": {"content": "</s>", "lstrip": false},
                "pad_token": "<pad>", "additional_special_tokens": ["<a>", {"content": "<b>"}],
                "chat_template": [{"name": "tool_use", "template": "x"},
                                  {"name": "default", "template": "{{ 1 }}"}]}"#,
        )
        .unwrap();
        assert_eq!(cfg.bos_token, None);
        assert_eq!(cfg.eos_token.as_deref(), Some("</s>"));
        assert_eq!(cfg.pad_token.as_deref(), Some("<pad>"));
        assert_eq!(cfg.unk_token, None);
        assert_eq!(cfg.additional_special_tokens, vec!["<a>", "<b>"]);
        assert_eq!(cfg.chat_template.as_deref(), Some("{{ 1 }}"));
    }

    #[test]
    fn rejects_wrong_types_naming_the_key() {
        let err = TokenizerConfig::from_json_str(r#"{"eos_token": 5}"#).unwrap_err();
        assert!(format!("{err:#}").contains("eos_token"), "{err:#}");
        let round = TokenizerConfig {
            eos_token: Some("e".into()),
            chat_template: Some("t".into()),
            ..Default::default()
        };
        let back = TokenizerConfig::from_json_str(&round.to_json().to_string()).unwrap();
        assert_eq!(back, round);
    }
}
