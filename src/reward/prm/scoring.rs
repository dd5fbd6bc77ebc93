//! Batched step scoring: read `P(good)` at every step-separator position.
//!
//! Rows are grouped into micro-batches of similar length and padded; the padding is always
//! masked (left padding gets an explicit attention mask and shifted position ids; right padding
//! is exact under causal masking because real tokens never attend forward), so a row's scores do
//! not depend on what it is batched with.

use burn::tensor::backend::Backend;

use super::model::ProcessRewardModel;
use crate::host::read_back::read_together;
use crate::model::Batch;

/// Which side padding goes on inside a micro-batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// Pad on the left, with an explicit attention mask.
    Left,
    /// Pad on the right (causal masking alone hides the padding).
    #[default]
    Right,
}

/// Step probabilities of one scored sequence.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepScores {
    /// `P(good)` at each separator, in order.
    pub step_probs: Vec<f32>,
}

impl StepScores {
    /// Number of scored steps.
    pub fn num_steps(&self) -> usize {
        self.step_probs.len()
    }
}

/// Scores each id sequence at the positions holding `step_token`.
pub fn score_ids<B: Backend>(
    prm: &ProcessRewardModel<B>,
    rows: &[Vec<u32>],
    step_token: u32,
    micro_batch: usize,
    padding: Padding,
    pad_id: u32,
) -> Vec<StepScores> {
    let device = prm.model.embed_tokens.weight.val().device();
    let mut order: Vec<usize> = (0..rows.len()).filter(|&i| !rows[i].is_empty()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(rows[i].len()));
    let mut out = vec![
        StepScores {
            step_probs: Vec::new()
        };
        rows.len()
    ];
    // Every micro-batch is queued before the one read back.
    let mut pending = Vec::new();
    for chunk in order.chunks(micro_batch.max(1)) {
        let group: Vec<Vec<u32>> = chunk.iter().map(|&i| rows[i].clone()).collect();
        let batch = match padding {
            Padding::Left => Batch::<B>::left_padded(&group, pad_id, &device),
            Padding::Right => Batch::<B>::right_padded(&group, pad_id, &device),
        };
        pending.push((chunk, prm.good_probs(&batch).reshape([-1])));
    }
    for (chunk, probs) in read_together(pending) {
        let seq = probs.len() / chunk.len();
        for (slot, &row) in chunk.iter().enumerate() {
            let ids = &rows[row];
            let offset = match padding {
                Padding::Left => seq - ids.len(),
                Padding::Right => 0,
            };
            let line = &probs[slot * seq..(slot + 1) * seq];
            out[row].step_probs = ids
                .iter()
                .enumerate()
                .filter(|&(_, &t)| t == step_token)
                .map(|(t, _)| line[offset + t])
                .collect();
        }
    }
    out
}
