//! The process reward model: a Qwen2 backbone with the token-classification head of
//! Qwen2.5-Math-PRM (`score = Linear(h, h) → ReLU → Linear(h, 2)`), frozen, no LM head.

use anyhow::{Context, Result};
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{DType, Tensor, activation, backend::Backend};
use std::path::Path;

use crate::model::init::RandomInit;
use crate::model::loader::{load_backbone, load_linear};
use crate::model::matrix_layout::MatrixLayout;
use crate::model::token_linear::per_token;
use crate::model::weights::{TensorSource, WeightStore};
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
    /// Loads `model.*`, `score.0.*`, `score.2.*` from a checkpoint directory (an `lm_head` in the
    /// checkpoint is ignored).
    pub fn load(
        dir: &Path,
        config: &Qwen2Config,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Self> {
        let store = WeightStore::open(dir)?;
        Self::from_source(&store, config, dtype, device)
            .with_context(|| format!("loading the process reward model in {}", dir.display()))
    }

    /// A PRM with seeded random weights (toy runs and tests).
    pub fn random(
        config: &Qwen2Config,
        init: &RandomInit,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Self> {
        Self::from_source(init, config, dtype, device)
    }

    /// A PRM from any tensor source (checkpoint names `model.*`, `score.0.*`, `score.2.*`).
    pub fn from_source(
        source: &impl TensorSource,
        config: &Qwen2Config,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Self> {
        let h = config.hidden_size;
        Ok(Self {
            model: load_backbone(source, config, "model.", dtype, device)?,
            score_in: load_linear(source, "score.0", h, h, true, dtype, device)?,
            score_out: load_linear(source, "score.2", h, 2, true, dtype, device)?,
        })
    }

    /// Class logits `[batch, seq, 2]`.
    pub fn forward(&self, batch: &Batch<B>) -> Tensor<B, 3> {
        let hidden = self.model.forward(batch, None);
        let layout = MatrixLayout::InOut;
        per_token(
            &self.score_out,
            layout,
            activation::relu(per_token(&self.score_in, layout, hidden)),
        )
    }

    /// Probability of the "good" class at every position, `[batch, seq]`, in f32.
    pub fn good_probs(&self, batch: &Batch<B>) -> Tensor<B, 2> {
        let logits = self.forward(batch).cast(DType::F32);
        let probs = activation::softmax(logits, 2);
        let [b, s, _] = probs.dims();
        probs.slice([0..b, 0..s, 1..2]).reshape([b, s])
    }
}
