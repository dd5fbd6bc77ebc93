//! Prompt building: the reference's system prompt and step-by-step suffix, rendered through the
//! model's chat template (or as raw text).

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::problem::Problem;
use crate::tokenizer::{ChatMessage, Tokenizer};

/// The reference's system prompt (also Qwen2.5-Math's default one).
pub const DEFAULT_SYSTEM_PROMPT: &str =
    "Please reason step by step, and put your final answer within \\boxed{}.";

/// The reference's instruction appended to every problem (note the leading space).
pub const DEFAULT_USER_SUFFIX: &str =
    " Let's think step by step and output the final answer within \\boxed{}.";

/// How a problem becomes a prompt. Every field has a serde default, so `[prompt]` in a config
/// may set only what differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromptTemplate {
    /// System message; `None` or empty (`system = ""` in toml) sends none (the Qwen2.5-Math
    /// template then inserts its own default).
    pub system: Option<String>,
    /// Text appended to the problem in the user message.
    pub suffix: String,
    /// Render through the tokenizer's chat template (with the generation prompt); otherwise
    /// the message contents joined by a blank line.
    pub use_chat_template: bool,
}

impl Default for PromptTemplate {
    fn default() -> Self {
        Self {
            system: Some(DEFAULT_SYSTEM_PROMPT.to_string()),
            suffix: DEFAULT_USER_SUFFIX.to_string(),
            use_chat_template: true,
        }
    }
}

impl PromptTemplate {
    /// The user message text for a problem statement.
    pub fn user_text(&self, problem: &str) -> String {
        format!("{problem}{}", self.suffix)
    }

    /// Messages for building a prompt from a problem statement alone (system, then user).
    pub fn messages_for_text(&self, problem: &str) -> Vec<ChatMessage> {
        let mut messages = Vec::with_capacity(2);
        if let Some(system) = self.system.as_ref().filter(|s| !s.is_empty()) {
            messages.push(ChatMessage::system(system.clone()));
        }
        messages.push(ChatMessage::user(self.user_text(problem)));
        messages
    }

    /// Messages of a problem: its stored prompt when it has one (verl files), otherwise
    /// [`PromptTemplate::messages_for_text`] of its statement.
    pub fn messages(&self, problem: &Problem) -> Vec<ChatMessage> {
        match &problem.messages {
            Some(m) => m.clone(),
            None => self.messages_for_text(&problem.problem),
        }
    }

    /// Renders messages into prompt text.
    pub fn render_messages(
        &self,
        messages: &[ChatMessage],
        tokenizer: &Tokenizer,
    ) -> Result<String> {
        if self.use_chat_template {
            tokenizer.apply_chat_template(messages, true)
        } else {
            Ok(messages
                .iter()
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>()
                .join("\n\n"))
        }
    }

    /// The prompt text of a problem.
    pub fn render(&self, problem: &Problem, tokenizer: &Tokenizer) -> Result<String> {
        self.render_messages(&self.messages(problem), tokenizer)
    }

    /// The prompt token ids of a problem.
    pub fn encode(&self, problem: &Problem, tokenizer: &Tokenizer) -> Result<Vec<u32>> {
        tokenizer.encode(&self.render(problem, tokenizer)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(messages: Option<Vec<ChatMessage>>) -> Problem {
        Problem {
            id: "0".into(),
            source: "t".into(),
            problem: "What is 1+1?".into(),
            gold: "2".into(),
            solution: None,
            messages,
        }
    }

    #[test]
    fn default_prompt_is_the_reference_one() {
        let t = PromptTemplate::default();
        let m = t.messages(&problem(None));
        assert_eq!(m.len(), 2);
        assert_eq!(m[0], ChatMessage::system(DEFAULT_SYSTEM_PROMPT));
        assert_eq!(
            m[1].content,
            "What is 1+1? Let's think step by step and output the final answer within \\boxed{}."
        );
        let tok = Tokenizer::builtin_toy();
        let text = t.render(&problem(None), &tok).unwrap();
        assert_eq!(
            text,
            format!(
                "<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n",
                m[1].content
            )
        );
    }

    #[test]
    fn stored_messages_win_and_raw_mode_joins_contents() {
        let stored = vec![ChatMessage::user("Stored")];
        let t = PromptTemplate {
            system: None,
            suffix: "!".into(),
            use_chat_template: false,
        };
        let tok = Tokenizer::builtin_toy();
        assert_eq!(t.render(&problem(Some(stored)), &tok).unwrap(), "Stored");
        assert_eq!(t.render(&problem(None), &tok).unwrap(), "What is 1+1?!");
        let with_system = PromptTemplate {
            system: Some("S".into()),
            ..t
        };
        assert_eq!(
            with_system.render(&problem(None), &tok).unwrap(),
            "S\n\nWhat is 1+1?!"
        );
    }

    #[test]
    fn serde_defaults_fill_missing_fields() {
        let t: PromptTemplate = toml::from_str("use_chat_template = false").unwrap();
        assert_eq!(t.suffix, DEFAULT_USER_SUFFIX);
        assert_eq!(t.system.as_deref(), Some(DEFAULT_SYSTEM_PROMPT));
        assert!(!t.use_chat_template);
        let t: PromptTemplate = toml::from_str("system = \"\"").unwrap();
        assert_eq!(
            t.messages_for_text("x"),
            vec![ChatMessage::user(format!("x{DEFAULT_USER_SUFFIX}"))]
        );
    }
}
