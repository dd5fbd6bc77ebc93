//! [`Problem`]: one maths problem with its gold answer.

use serde::{Deserialize, Serialize};

use crate::tokenizer::ChatMessage;

/// One maths problem with a verifiable gold answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Stable id within its dataset (the dataset's own id field, or the row number).
    pub id: String,
    /// Where it comes from (dataset name or verl `data_source`).
    pub source: String,
    /// The problem statement, without any prompt instructions.
    pub problem: String,
    /// The gold answer, as given by the dataset (LaTeX or plain text).
    pub gold: String,
    /// A worked reference solution, when the dataset has one.
    pub solution: Option<String>,
    /// A ready-made prompt (verl files store one); when set, prompt building uses it as is.
    pub messages: Option<Vec<ChatMessage>>,
}
