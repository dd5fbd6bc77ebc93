//! A problem as evaluation sees it: already-encoded prompt ids and the gold answer.

/// One problem to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalProblem {
    /// Dataset name (`math500`, ...).
    pub dataset: String,
    /// Id, unique within the dataset.
    pub id: String,
    /// The prompt, tokenized (chat template applied).
    pub prompt_ids: Vec<u32>,
    /// The gold answer.
    pub gold: String,
}

/// Turns completion ids back into text (skipping special tokens); a tokenizer, or anything
/// simpler in tests.
pub trait Decode {
    /// The text of `ids`.
    fn decode(&self, ids: &[u32]) -> anyhow::Result<String>;
}

impl<F: Fn(&[u32]) -> anyhow::Result<String>> Decode for F {
    fn decode(&self, ids: &[u32]) -> anyhow::Result<String> {
        self(ids)
    }
}
