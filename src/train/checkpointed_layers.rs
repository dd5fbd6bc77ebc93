//! Gradient checkpointing of the decoder layers: the forward pass keeps each layer's input and
//! nothing else, and the backward pass runs each layer again under autodiff, from the top layer
//! down, one layer's graph at a time.
//!
//! Burn's autodiff keeps every recorded operation's saved tensors until a backward pass, so a
//! forward through all layers under autodiff holds every layer's activations at once (for long
//! responses mostly the attention probabilities, `[heads, seq, seq]` per row and layer). Here the
//! forward runs on the backend autodiff wraps, with the same rotary tables and mask and computing
//! as the recorded pass does ([`with_recorded_numerics`]), and the layers' output enters the rest
//! of the graph as a leaf.
//! The backward takes that leaf's gradient `g`, recomputes the top layer from its kept input `x`,
//! back-propagates `Σ layer(x) ⊙ g` (whose gradient with respect to the layer's output is `g`),
//! moves the layer's parameter gradients into the step's gradients and carries `∂/∂x` down to the
//! next layer. The cost is one more forward pass of the layers; the gradients are those of the
//! whole graph.

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;

use crate::model::decoder_layer::DecoderLayer;
use crate::model::qwen2::LayerContext;
use crate::model::recorded_numerics::with_recorded_numerics;
use crate::model::{Batch, Qwen2Model};

/// The decoder layers of one forward pass, run without recording.
pub struct CheckpointedLayers<B: AutodiffBackend> {
    /// The layers (sharing the model's parameters).
    layers: Vec<DecoderLayer<B>>,
    /// Each layer's input, outside the graph.
    inputs: Vec<Tensor<B::InnerBackend, 3>>,
    /// The top layer's output: a leaf of the graph the rest of the forward pass builds.
    top: Tensor<B, 3>,
    /// What the layers read besides their input, for the recomputation.
    context: LayerContext<B>,
}

impl<B: AutodiffBackend> CheckpointedLayers<B> {
    /// Runs `model`'s layers on `embedded`, the `[batch, seq, hidden]` embeddings of `batch`'s
    /// ids, keeping each layer's input.
    pub fn forward(
        model: &Qwen2Model<B>,
        embedded: Tensor<B::InnerBackend, 3>,
        batch: &Batch<B>,
    ) -> Self {
        let context = model.layer_context(batch, 0);
        let inner = context.inner();
        let mut inputs = Vec::with_capacity(model.layers.len());
        let top = with_recorded_numerics(|| {
            model.layers.iter().fold(embedded, |x, layer| {
                inputs.push(x.clone());
                layer.valid().forward(x, &inner.rotary, &inner.mask, None)
            })
        });
        Self {
            layers: model.layers.clone(),
            inputs,
            top: Tensor::from_inner(top).require_grad(),
            context,
        }
    }

    /// The top layer's output, `[batch, seq, hidden]`, a leaf of the graph: build the rest of the
    /// forward pass on it, and pass that pass's gradients to [`Self::backward`].
    pub fn top(&self) -> Tensor<B, 3> {
        self.top.clone()
    }

    /// Back-propagates the gradient `grads` holds for [`Self::top`] through the layers, adding
    /// each layer parameter's gradient to `grads`; the gradient of the embeddings the layers
    /// started from (`None` when nothing depended on the top).
    pub fn backward(self, grads: &mut B::Gradients) -> Option<Tensor<B::InnerBackend, 3>> {
        let mut d = self.top.grad_remove(grads)?;
        for (layer, input) in self.layers.iter().zip(self.inputs).rev() {
            let x = Tensor::<B, 3>::from_inner(input).require_grad();
            let y = layer.forward(x.clone(), &self.context.rotary, &self.context.mask, None);
            let mut layer_grads = (y * Tensor::from_inner(d)).sum().backward();
            d = x
                .grad_remove(&mut layer_grads)
                .expect("a layer's output depends on its input");
            layer.visit(&mut MoveGradients {
                from: &mut layer_grads,
                to: grads,
            });
        }
        Some(d)
    }
}

/// Moves each visited parameter's gradient from one gradient container to another.
struct MoveGradients<'a, B: AutodiffBackend> {
    from: &'a mut B::Gradients,
    to: &'a mut B::Gradients,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for MoveGradients<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let value = param.val();
        if let Some(grad) = value.grad_remove(self.from) {
            value.grad_replace(self.to, grad);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generation::ResponseBatch;
    use crate::model::Qwen2Config;
    use crate::model::Qwen2ForCausalLm;
    use crate::model::init::RandomInit;
    use crate::model::loader::random_causal_lm;
    use crate::train::policy_logprobs::PolicyLogprobs;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{DType, TensorData};

    type B = Autodiff<Flex>;

    /// Every float parameter's gradient in `grads`, in visiting order.
    struct Grads<'a>(&'a <B as AutodiffBackend>::Gradients, Vec<Option<Vec<f32>>>);

    impl ModuleVisitor<B> for Grads<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let grad = param.val().grad(self.0);
            self.1
                .push(grad.map(|g| g.into_data().to_vec::<f32>().expect("f32")));
        }
    }

    fn grads_of(
        policy: &Qwen2ForCausalLm<B>,
        layout: &ResponseBatch,
        checkpointing: bool,
    ) -> (f32, Vec<Option<Vec<f32>>>) {
        let device = Default::default();
        let head = PolicyLogprobs::forward(policy, layout, 0.7, 0, checkpointing);
        let weights = Tensor::<B, 2>::from_data(
            TensorData::new(vec![1.5f32, -1.0, 0.5, 0.0, -2.0, 1.0, 0.25, 0.75], [2, 4]),
            &device,
        );
        let loss = (head.log_probs.clone() * weights.clone()
            + head.entropies.clone() * weights * 0.1)
            .sum();
        let value = loss.clone().into_scalar();
        let grads = head.backward(loss);
        let mut visitor = Grads(&grads, Vec::new());
        policy.visit(&mut visitor);
        (value, visitor.1)
    }

    /// Recomputing the layers in the backward pass gives the recorded pass's loss and every
    /// parameter's gradient to the bit (the same operations in the same order), for tied and
    /// untied heads, three layers and grouped-query attention; and it does give every layer
    /// parameter a gradient.
    #[test]
    fn recomputed_layers_give_the_recorded_gradients() {
        for tied in [true, false] {
            let config = Qwen2Config::from_json(&format!(
                r#"{{"vocab_size": 40, "hidden_size": 16, "intermediate_size": 24,
                    "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
                    "max_position_embeddings": 32, "tie_word_embeddings": {tied}}}"#
            ))
            .unwrap();
            let init = RandomInit { seed: 11, std: 0.3 };
            let policy =
                random_causal_lm::<B>(&config, &init, DType::F32, &Default::default()).unwrap();
            let prompts: [&[u32]; 2] = [&[1, 2, 3], &[4, 5]];
            let responses: [&[u32]; 2] = [&[6, 7], &[8, 9, 10, 11]];
            let layout = ResponseBatch::new(&prompts, &responses);
            let (want_loss, want) = grads_of(&policy, &layout, false);
            let (loss, got) = grads_of(&policy, &layout, true);
            assert_eq!(loss, want_loss, "tied {tied}: loss");
            assert_eq!(got.len(), want.len());
            let layer_params = got.len() - if tied { 1 } else { 2 } - 1;
            assert!(
                layer_params >= 3 * 9,
                "tied {tied}: {layer_params} layer parameters"
            );
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                let w = w
                    .as_ref()
                    .unwrap_or_else(|| panic!("parameter {i} has no gradient"));
                assert!(
                    w.iter().any(|x| *x != 0.0),
                    "tied {tied}: parameter {i}'s gradient is zero, which proves nothing"
                );
                assert_eq!(g.as_ref(), Some(w), "tied {tied}: parameter {i}");
            }
        }
    }
}
