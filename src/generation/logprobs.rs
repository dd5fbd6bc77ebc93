//! Log-probabilities (and entropies) of given response tokens under a model: the forward pass of
//! the policy update and of the reference model.
//!
//! Each row is `prompt ++ response`, right-padded (causal masking alone is then exact). Hidden
//! states are gathered at the positions that predict response tokens before the LM head, so the
//! vocabulary projection costs nothing for prompt positions.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use super::vocab_chunks::{chunk_columns, head_stats};

use crate::model::{Batch, Qwen2ForCausalLm};

/// Prompt/response pairs laid out for a teacher-forced forward.
#[derive(Debug, Clone)]
pub struct ResponseBatch {
    /// `prompt ++ response` per row (unpadded).
    pub rows: Vec<Vec<u32>>,
    /// Prompt length per row.
    pub prompt_lens: Vec<usize>,
    /// Response tokens per row (unpadded).
    pub responses: Vec<Vec<u32>>,
    /// Longest response.
    pub max_response: usize,
}

impl ResponseBatch {
    /// Builds the layout from prompts and responses (responses may be empty).
    pub fn new(prompts: &[&[u32]], responses: &[&[u32]]) -> Self {
        assert_eq!(prompts.len(), responses.len());
        let rows = prompts
            .iter()
            .zip(responses)
            .map(|(p, r)| p.iter().chain(r.iter()).copied().collect())
            .collect();
        Self {
            rows,
            prompt_lens: prompts.iter().map(|p| p.len()).collect(),
            responses: responses.iter().map(|r| r.to_vec()).collect(),
            max_response: responses.iter().map(|r| r.len()).max().unwrap_or(0),
        }
    }

    /// `[batch, max_response]` mask: 1 on real response tokens, 0 on padding.
    pub fn response_mask<B: Backend>(&self, device: &B::Device) -> Tensor<B, 2> {
        let r = self.max_response;
        let flat: Vec<f32> = self
            .responses
            .iter()
            .flat_map(|resp| (0..r).map(move |t| if t < resp.len() { 1.0 } else { 0.0 }))
            .collect();
        Tensor::from_data(TensorData::new(flat, [self.rows.len(), r]), device)
    }
}

/// Hidden states `[batch · max_response, hidden]` at the positions that predict the response
/// tokens, and those tokens `[batch · max_response]` (padding positions hold `pad_id`).
pub fn response_hidden<B: Backend>(
    model: &Qwen2ForCausalLm<B>,
    batch: &ResponseBatch,
    pad_id: u32,
) -> (Tensor<B, 2>, Tensor<B, 1, Int>) {
    let device = model.model.embed_tokens.weight.val().device();
    let input = Batch::<B>::right_padded(&batch.rows, pad_id, &device);
    pick_response_positions(model.model.forward(&input, None), batch, pad_id)
}

/// The `[batch · max_response, hidden]` rows of `hidden` (`[batch, seq, hidden]`, the model's
/// output on `batch`'s right-padded rows) that predict the response tokens, and those tokens.
pub fn pick_response_positions<B: Backend>(
    hidden: Tensor<B, 3>,
    batch: &ResponseBatch,
    pad_id: u32,
) -> (Tensor<B, 2>, Tensor<B, 1, Int>) {
    let device = hidden.device();
    let b = batch.rows.len();
    let r = batch.max_response.max(1);
    let [_, seq, h] = hidden.dims();
    // Position p-1 predicts the token at p: response token t of row i sits at prompt_len + t.
    let mut pos = Vec::with_capacity(b * r);
    let mut targets = Vec::with_capacity(b * r);
    for i in 0..b {
        for t in 0..r {
            let p = (batch.prompt_lens[i] + t).saturating_sub(1).min(seq - 1);
            pos.push(p as i64);
            targets.push(*batch.responses[i].get(t).unwrap_or(&pad_id) as i64);
        }
    }
    let pos = Tensor::<B, 2, Int>::from_data(TensorData::new(pos, [b, r]), &device);
    let picked = hidden
        .gather(1, pos.unsqueeze_dim::<3>(2).expand([b, r, h]))
        .reshape([b * r, h]);
    let targets = Tensor::<B, 1, Int>::from_data(TensorData::new(targets, [b * r]), &device);
    (picked, targets)
}

/// Per-token log-probs `[batch, max_response]` of the response tokens under
/// `log_softmax(logits / temperature)`, and optionally the entropy of that distribution at each
/// response position. Padding positions hold arbitrary values; multiply by the response mask.
/// The vocabulary is processed in chunks ([`super::vocab_chunks`]): no `[batch, response, vocab]`
/// logits are held.
pub fn response_logprobs<B: Backend>(
    model: &Qwen2ForCausalLm<B>,
    batch: &ResponseBatch,
    temperature: f32,
    pad_id: u32,
    with_entropy: bool,
) -> (Tensor<B, 2>, Option<Tensor<B, 2>>) {
    let b = batch.rows.len();
    let r = batch.max_response.max(1);
    let (hidden, targets) = response_hidden(model, batch, pad_id);
    let matrix = model.output_matrix();
    let columns = chunk_columns(b * r, matrix.dims()[1]);
    let stats = head_stats(&hidden, &matrix, &targets, temperature, columns);
    let entropy = with_entropy.then(|| stats.entropy.reshape([b, r]));
    (stats.logp.reshape([b, r]), entropy)
}
