//! Turning a (question, response) pair into the PRM's input, exactly as the reference does.

use anyhow::{Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::tokenizer::{ChatMessage, Tokenizer};

/// System prompt the reference gives the PRM.
pub const PRM_SYSTEM_PROMPT: &str =
    "Please reason step by step, and put your final answer within \\boxed{}.";

/// The step-separator token of Qwen2.5-Math-PRM (its id is looked up in the PRM's tokenizer).
pub const STEP_TOKEN: &str = "<extra_0>";

/// Splits a response into steps: on `"\n\n"`, each piece stripped, empty pieces dropped.
/// A response without `"\n\n"` is one step; an empty (or blank) response has zero steps.
pub fn split_steps(response: &str) -> Vec<String> {
    response
        .split("\n\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The chat messages the reference scores: system prompt, the bare problem as the user turn, and
/// the steps joined by `<extra_0>` plus a trailing `<extra_0>` as the assistant turn.
pub fn prm_messages(question: &str, steps: &[String]) -> Vec<ChatMessage> {
    let mut content = steps.join(STEP_TOKEN);
    content.push_str(STEP_TOKEN);
    vec![
        ChatMessage::system(PRM_SYSTEM_PROMPT),
        ChatMessage::user(question),
        ChatMessage::assistant(content),
    ]
}

/// The PRM input text for a response: the messages of [`prm_messages`] rendered with the PRM's
/// chat template, `add_generation_prompt = false` — byte-identical to the reference's
/// `tokenizer.apply_chat_template(messages, tokenize=False)`.
pub fn format_prm_input(tokenizer: &Tokenizer, question: &str, steps: &[String]) -> Result<String> {
    tokenizer.apply_chat_template(&prm_messages(question, steps), false)
}

/// What to do with an input longer than the PRM's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Truncation {
    /// Drop whole steps from the start of the response until it fits (never cut a step).
    #[default]
    Left,
    /// Refuse: the completion gets no step scores.
    Reject,
}

/// A response ready for scoring.
#[derive(Debug, Clone, PartialEq)]
pub struct PrmInput {
    /// Token ids of the rendered input.
    pub ids: Vec<u32>,
    /// Steps of the response.
    pub num_steps: usize,
    /// Leading steps dropped to fit the length limit (their scores are absent).
    pub dropped_steps: usize,
}

/// Tokenises a response for the PRM, applying the length limit.
///
/// An empty response gives `Ok(None)`: zero steps and nothing to score (the reference would
/// render a lone `<extra_0>` and score it as if it were a step; an answer with no steps has no
/// process to judge, so no probability is reported for it).
pub fn prepare_prm_input(
    tokenizer: &Tokenizer,
    question: &str,
    response: &str,
    max_length: usize,
    truncation: Truncation,
) -> Result<Option<PrmInput>> {
    let steps = split_steps(response);
    if steps.is_empty() {
        return Ok(None);
    }
    for dropped in 0..steps.len() {
        let kept = &steps[dropped..];
        let ids = tokenizer.encode(&format_prm_input(tokenizer, question, kept)?)?;
        if max_length == 0 || ids.len() <= max_length {
            return Ok(Some(PrmInput {
                ids,
                num_steps: steps.len(),
                dropped_steps: dropped,
            }));
        }
        if truncation == Truncation::Reject {
            bail!(
                "PRM input of {} tokens exceeds prm.max_length = {max_length} (truncation = reject)",
                ids.len()
            );
        }
    }
    Err(anyhow!(
        "PRM input exceeds prm.max_length = {max_length} even with only the last step kept"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_the_reference() {
        assert_eq!(split_steps("a\n\n b \n\n\n\nc"), vec!["a", "b", "c"]);
        assert_eq!(
            split_steps("one step\nwith a newline"),
            vec!["one step\nwith a newline"]
        );
        assert!(split_steps("").is_empty());
        assert!(split_steps(" \n\n \n\n").is_empty());
    }

    #[test]
    fn content_is_steps_joined_with_a_trailing_separator() {
        let m = prm_messages("Q", &["a".into(), "b".into()]);
        assert_eq!(m[2].content, "a<extra_0>b<extra_0>");
        assert_eq!(m[1].content, "Q");
        assert_eq!(m[0].content, PRM_SYSTEM_PROMPT);
    }
}
