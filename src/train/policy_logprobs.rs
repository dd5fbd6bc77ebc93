//! The policy's response log-probs and entropies for the update, differentiable without a
//! `[tokens, vocab]` buffer. The transformer runs under autodiff as usual; the LM head is computed
//! in vocabulary chunks outside the graph, and its outputs enter the loss as fresh leaves. The
//! backward pass then goes in two stages: the loss's gradient with respect to those leaves, the
//! head's gradient by recomputing the chunks ([`head_grads`]), and finally the transformer's
//! backward through `Σ hidden ⊙ ∂L/∂hidden`, whose gradient is exactly that. The embedding lookup
//! also happens outside the graph, its output entering the layers as a leaf. The gradients of the
//! two `[vocab, hidden]` matrices are then set directly: the output matrix's `∂L/∂W`, plus, for the
//! embedding, the lookup's rows ([`add_lookup_grad`]), with no pass over either matrix through
//! the graph. With gradient checkpointing the layers run outside the graph as well and are
//! recomputed one at a time in the backward pass ([`CheckpointedLayers`]).

use burn::tensor::{Int, Tensor, backend::AutodiffBackend};

use super::checkpointed_layers::CheckpointedLayers;
use super::lookup_grad::add_lookup_grad;
use crate::generation::vocab_chunks::{HeadStats, chunk_columns, head_grads, head_stats};
use crate::generation::{ResponseBatch, pick_response_positions};
use crate::model::{Batch, Qwen2ForCausalLm};

/// Response log-probs and entropies of one micro-batch, ready for the loss.
pub struct PolicyLogprobs<B: AutodiffBackend> {
    /// `[batch, max_response]` log-probs (a leaf: use it in the loss, then call [`Self::backward`]).
    pub log_probs: Tensor<B, 2>,
    /// `[batch, max_response]` entropies (a leaf, like `log_probs`).
    pub entropies: Tensor<B, 2>,
    /// Hidden states at the response positions, inside the policy's graph.
    hidden: Tensor<B, 2>,
    /// The decoder layers' part of the graph.
    layers: Layers<B>,
    /// The looked-up token ids, flattened.
    ids: Tensor<B::InnerBackend, 1, Int>,
    /// The embedding matrix parameter.
    embedding: Tensor<B, 2>,
    /// The `[hidden, vocab]` output matrix, outside the graph.
    matrix: Tensor<B::InnerBackend, 2>,
    /// The parameter behind `matrix`.
    parameter: Tensor<B, 2>,
    /// Whether the output matrix is `parameter`'s transpose (a tied head).
    transposed: bool,
    targets: Tensor<B::InnerBackend, 1, Int>,
    stats: HeadStats<B::InnerBackend>,
    temperature: f32,
    columns: usize,
}

/// How the decoder layers' gradients are found in the backward pass.
enum Layers<B: AutodiffBackend> {
    /// Recorded in the graph, which starts from this leaf: the looked-up embeddings
    /// `[batch, seq, hidden]`.
    Recorded(Tensor<B, 3>),
    /// Recomputed one layer at a time.
    Checkpointed(CheckpointedLayers<B>),
}

impl<B: AutodiffBackend> PolicyLogprobs<B> {
    /// Runs the policy on `batch` (teacher-forced) and the head in vocabulary chunks; with
    /// `checkpointing`, the decoder layers keep only their inputs for the backward pass.
    pub fn forward(
        policy: &Qwen2ForCausalLm<B>,
        batch: &ResponseBatch,
        temperature: f32,
        pad_id: u32,
        checkpointing: bool,
    ) -> Self {
        let b = batch.rows.len();
        let r = batch.max_response.max(1);
        let embedding = policy.model.embed_tokens.weight.val();
        let input = Batch::<B>::right_padded(&batch.rows, pad_id, &embedding.device());
        let ids = input.ids.clone().inner();
        let embedded = burn::tensor::module::embedding(embedding.clone().inner(), ids.clone());
        let (layers, hidden) = if checkpointing {
            let layers = CheckpointedLayers::forward(&policy.model, embedded, &input);
            let hidden = policy.model.norm.forward(layers.top());
            (Layers::Checkpointed(layers), hidden)
        } else {
            let embedded = Tensor::from_inner(embedded).require_grad();
            let hidden = policy
                .model
                .forward_embedded(embedded.clone(), &input, None);
            (Layers::Recorded(embedded), hidden)
        };
        let (hidden, targets) = pick_response_positions(hidden, batch, pad_id);
        let matrix = policy.output_matrix().inner();
        let (parameter, transposed) = policy.output_parameter();
        let targets = targets.inner();
        let columns = chunk_columns(b * r, matrix.dims()[1]);
        let stats = head_stats(
            &hidden.clone().inner(),
            &matrix,
            &targets,
            temperature,
            columns,
        );
        let leaf =
            |t: Tensor<B::InnerBackend, 1>| Tensor::from_inner(t.reshape([b, r])).require_grad();
        Self {
            log_probs: leaf(stats.logp.clone()),
            entropies: leaf(stats.entropy.clone()),
            hidden,
            ids: ids.reshape([-1]),
            layers,
            embedding,
            matrix,
            parameter,
            transposed,
            targets,
            stats,
            temperature,
            columns,
        }
    }

    /// Back-propagates `loss` (built from `log_probs` and `entropies`) into the policy.
    pub fn backward(self, loss: Tensor<B, 1>) -> B::Gradients {
        let leaf_grads = loss.backward();
        let n = self.targets.dims()[0];
        let device = self.targets.device();
        let d_logp = self
            .log_probs
            .grad(&leaf_grads)
            .map(|g| g.reshape([n]))
            .unwrap_or_else(|| Tensor::zeros([n], &device));
        let d_entropy = self.entropies.grad(&leaf_grads).map(|g| g.reshape([n]));
        let (d_hidden, d_matrix) = head_grads(
            &self.hidden.clone().inner(),
            &self.matrix,
            &self.targets,
            self.temperature,
            self.columns,
            &self.stats,
            d_logp,
            d_entropy,
        );
        let surrogate = (self.hidden * Tensor::from_inner(d_hidden)).sum();
        let mut grads = surrogate.backward();
        let d_lookup = match self.layers {
            Layers::Recorded(embedded) => embedded.grad_remove(&mut grads),
            Layers::Checkpointed(layers) => layers.backward(&mut grads),
        };
        let d_lookup = d_lookup.map(|d| {
            let width = d.dims()[2];
            d.reshape([-1, width as i32])
        });
        let with_lookup = |base: Tensor<B::InnerBackend, 2>| match d_lookup.clone() {
            Some(rows) => add_lookup_grad(base, self.ids.clone(), rows),
            None => base,
        };
        if self.transposed {
            self.parameter
                .grad_replace(&mut grads, with_lookup(d_matrix.transpose()));
        } else {
            self.parameter.grad_replace(&mut grads, d_matrix);
            let zeros = self.embedding.clone().inner().zeros_like();
            self.embedding.grad_replace(&mut grads, with_lookup(zeros));
        }
        grads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generation::response_hidden;
    use crate::model::Qwen2Config;
    use crate::model::init::RandomInit;
    use crate::model::loader::random_causal_lm;
    use burn::backend::{Autodiff, Flex};
    use burn::module::Param;
    use burn::tensor::{DType, TensorData, activation::log_softmax};

    type B = Autodiff<Flex>;

    fn grad_of(param: &Param<Tensor<B, 2>>, grads: &<B as AutodiffBackend>::Gradients) -> Vec<f32> {
        param
            .val()
            .grad(grads)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap()
    }

    /// Gradients through the chunked head equal autodiff through full logits and `log_softmax`,
    /// for the embedding (which is also the tied LM head) and a layer's weights, on a loss that
    /// uses both log-probs and entropies.
    #[test]
    fn the_chunked_head_back_propagates_like_full_logits() {
        for tied in [true, false] {
            let config = Qwen2Config::from_json(&format!(
                r#"{{"vocab_size": 40, "hidden_size": 16, "intermediate_size": 24,
                    "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
                    "max_position_embeddings": 32, "tie_word_embeddings": {tied}}}"#
            ))
            .unwrap();
            let device = Default::default();
            let init = RandomInit { seed: 5, std: 0.3 };
            let policy = random_causal_lm::<B>(&config, &init, DType::F32, &device).unwrap();
            let prompts: [&[u32]; 2] = [&[1, 2, 3], &[4, 5]];
            let responses: [&[u32]; 2] = [&[6, 7], &[8, 9, 10, 11]];
            let layout = ResponseBatch::new(&prompts, &responses);
            let weights = Tensor::<B, 2>::from_data(
                TensorData::new(vec![0.5f32, -1.0, 0.0, 0.0, 2.0, 1.0, -0.5, 0.25], [2, 4]),
                &device,
            );
            let temperature = 0.8;

            // Full logits through autodiff.
            let (hidden, targets) = response_hidden(&policy, &layout, 0);
            let logits = policy
                .logits(hidden.unsqueeze_dim::<3>(0))
                .squeeze_dim::<2>(0)
                / temperature;
            let logp = log_softmax(logits, 1);
            let token_logp = logp
                .clone()
                .gather(1, targets.reshape([8, 1]))
                .reshape([2, 4]);
            let entropy = (logp.clone().exp() * logp).sum_dim(1).reshape([2, 4]).neg();
            let loss = (token_logp * weights.clone() + entropy * weights.clone() * 0.1).sum();
            let want = loss.backward();

            // The chunked head.
            let head = PolicyLogprobs::forward(&policy, &layout, temperature, 0, false);
            let loss = (head.log_probs.clone() * weights.clone()
                + head.entropies.clone() * weights.clone() * 0.1)
                .sum();
            let got = head.backward(loss);

            let embed = &policy.model.embed_tokens.weight;
            let q = &policy.model.layers[1].self_attn.q_proj.weight;
            for (name, param) in [("embedding", embed), ("q_proj", q)] {
                let (a, b) = (grad_of(param, &got), grad_of(param, &want));
                let scale = b.iter().fold(0f32, |m, x| m.max(x.abs()));
                let diff = a
                    .iter()
                    .zip(&b)
                    .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
                assert!(
                    scale > 1e-4,
                    "tied {tied} {name}: a zero gradient proves nothing"
                );
                assert!(
                    diff <= 1e-5 * scale.max(1.0),
                    "tied {tied} {name}: diff {diff} (scale {scale})"
                );
            }
            if let Some(head) = &policy.lm_head {
                let (a, b) = (grad_of(&head.weight, &got), grad_of(&head.weight, &want));
                let diff = a
                    .iter()
                    .zip(&b)
                    .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
                assert!(diff <= 1e-5, "lm_head: diff {diff}");
            }
        }
    }
}
