//! The process reward model: a Qwen2 backbone with the token-classification head of
//! Qwen2.5-Math-PRM (`score = Linear(h, h) → ReLU → Linear(h, 2)`), frozen, no LM head.

use anyhow::{Context, Result};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{DType, Tensor, activation, backend::Backend};
use std::path::Path;

use crate::model::loader::{load_backbone, load_linear};
use crate::model::weights::WeightStore;
use crate::model::{Batch, Qwen2Config, Qwen2Model};

/// Qwen2 backbone + two-layer classification head; `softmax(logits)[..., 1]` is the probability
/// that the step ending at a position is good.
#[derive(Module, Debug)]
pub struct ProcessRewardModel<B: Backend> {
    /// The backbone (`model.*` tensors).
    pub model: Qwen2Model<B>,
    /// `score.0`: hidden → hidden.
    pub score_in: Linear<B>,
    /// `score.2`: hidden → 2 classes.
    pub score_out: Linear<B>,
}

impl<B: Backend> ProcessRewardModel<B> {
    /// A randomly initialised PRM of the given backbone shape (for toy runs and tests).
    pub fn init(config: &Qwen2Config, device: &B::Device) -> Self {
        let h = config.hidden_size;
        Self {
            model: Qwen2Model::init(config, device),
            score_in: LinearConfig::new(h, h).init(device),
            score_out: LinearConfig::new(h, 2).init(device),
        }
    }

    /// Loads `model.*`, `score.0.*`, `score.2.*` from a checkpoint directory (an `lm_head` in the
    /// checkpoint is ignored).
    pub fn load(dir: &Path, config: &Qwen2Config, dtype: DType, device: &B::Device) -> Result<Self> {
        let store = WeightStore::open(dir)?;
        let h = config.hidden_size;
        let ctx = || format!("loading the process reward model in {}", dir.display());
        let model = load_backbone(&store, config, "model.", dtype, device).with_context(ctx)?;
        let score_in = load_linear(&store, "score.0", h, h, true, dtype, device).with_context(ctx)?;
        let score_out = load_linear(&store, "score.2", h, 2, true, dtype, device).with_context(ctx)?;
        Ok(Self {
            model,
            score_in,
            score_out,
        })
    }

    /// Class logits `[batch, seq, 2]`.
    pub fn forward(&self, batch: &Batch<B>) -> Tensor<B, 3> {
        let hidden = self.model.forward(batch, None);
        self.score_out
            .forward(activation::relu(self.score_in.forward(hidden)))
    }

    /// Probability of the "good" class at every position, `[batch, seq]`, in f32.
    pub fn good_probs(&self, batch: &Batch<B>) -> Tensor<B, 2> {
        let logits = self.forward(batch).cast(DType::F32);
        let probs = activation::softmax(logits, 2);
        let [b, s, _] = probs.dims();
        probs.slice([0..b, 0..s, 1..2]).reshape([b, s])
    }
}
