//! A ready-to-use PRM: model + tokenizer + settings, scoring (question, response) pairs.

use anyhow::{Context, Result};
use burn::tensor::{DType, backend::Backend};

use super::format::STEP_TOKEN;
use super::format::{Truncation, prepare_prm_input};
use super::model::ProcessRewardModel;
use super::scoring::{Padding, StepScores, score_ids};
use crate::model::Qwen2Config;
use crate::model::hub::resolve_model_dir;
use crate::tokenizer::Tokenizer;

/// Scoring settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PrmSettings {
    /// Sequences per forward pass.
    pub batch_size: usize,
    /// Longest input in tokens (0 = no limit).
    pub max_length: usize,
    /// What to do with longer inputs.
    pub truncation: Truncation,
}

impl Default for PrmSettings {
    fn default() -> Self {
        Self {
            batch_size: 16,
            max_length: 4096,
            truncation: Truncation::Left,
        }
    }
}

/// Anything that scores the steps of `(question, response)` pairs: a [`PrmScorer`] on whatever
/// backend and device it was loaded on, so the trainer needs not share the PRM's backend.
pub trait StepScorer: Send {
    /// Step scores of each pair, in order (see [`PrmScorer::score`]).
    fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<CompletionSteps>>;
}

impl<B: Backend> StepScorer for PrmScorer<B> {
    fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<CompletionSteps>> {
        PrmScorer::score(self, pairs)
    }
}

/// A loaded PRM with its tokenizer.
pub struct PrmScorer<B: Backend> {
    /// The network (frozen; run on an inference backend).
    pub model: ProcessRewardModel<B>,
    /// The PRM's tokenizer (holds the chat template and `<extra_0>`).
    pub tokenizer: Tokenizer,
    /// Id of `<extra_0>` in that tokenizer.
    pub step_id: u32,
    /// Padding id.
    pub pad_id: u32,
    /// Settings.
    pub settings: PrmSettings,
}

/// Scores of one completion.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CompletionSteps {
    /// `P(good)` of each scored step.
    pub step_probs: Vec<f32>,
    /// Steps in the response.
    pub num_steps: usize,
    /// Leading steps left unscored to fit the length limit.
    pub dropped_steps: usize,
    /// Why the completion has no scores, when it has none.
    pub skipped: Option<String>,
}

impl<B: Backend> PrmScorer<B> {
    /// Loads a PRM from a directory, preset or hub id.
    pub fn load(
        spec: &str,
        dtype: DType,
        settings: PrmSettings,
        device: &B::Device,
    ) -> Result<Self> {
        let dir = resolve_model_dir(spec)?;
        let config = Qwen2Config::from_file(&dir.join("config.json"))?;
        let model = ProcessRewardModel::load(&dir, &config, dtype, device)?;
        let tokenizer = Tokenizer::from_dir(&dir)
            .with_context(|| format!("the PRM at {} needs tokenizer files", dir.display()))?;
        Self::new(model, tokenizer, settings)
    }

    /// Wraps a model and tokenizer.
    pub fn new(
        model: ProcessRewardModel<B>,
        tokenizer: Tokenizer,
        settings: PrmSettings,
    ) -> Result<Self> {
        let step_id = tokenizer
            .token_id(STEP_TOKEN)
            .with_context(|| format!("the PRM tokenizer has no {STEP_TOKEN} token"))?;
        let pad_id = tokenizer
            .pad_token_id()
            .or(tokenizer.eos_token_id())
            .unwrap_or(0);
        Ok(Self {
            model,
            tokenizer,
            step_id,
            pad_id,
            settings,
        })
    }

    /// Scores each `(question, response)`; a response the length policy rejects, or an empty
    /// one, gets no probabilities and a `skipped` reason.
    pub fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<CompletionSteps>> {
        let mut out = Vec::with_capacity(pairs.len());
        let mut rows = Vec::new();
        let mut owners = Vec::new();
        for (i, (q, r)) in pairs.iter().enumerate() {
            match prepare_prm_input(
                &self.tokenizer,
                q,
                r,
                self.settings.max_length,
                self.settings.truncation,
            ) {
                Ok(Some(input)) => {
                    out.push(CompletionSteps {
                        step_probs: Vec::new(),
                        num_steps: input.num_steps,
                        dropped_steps: input.dropped_steps,
                        skipped: None,
                    });
                    rows.push(input.ids);
                    owners.push(i);
                }
                Ok(None) => out.push(CompletionSteps {
                    step_probs: Vec::new(),
                    num_steps: 0,
                    dropped_steps: 0,
                    skipped: Some("empty response: no steps".into()),
                }),
                Err(e) => out.push(CompletionSteps {
                    step_probs: Vec::new(),
                    num_steps: super::format::split_steps(r).len(),
                    dropped_steps: 0,
                    skipped: Some(format!("{e:#}")),
                }),
            }
        }
        let scores: Vec<StepScores> = score_ids(
            &self.model,
            &rows,
            self.step_id,
            self.settings.batch_size,
            Padding::Right,
            self.pad_id,
        );
        for (s, i) in scores.into_iter().zip(owners) {
            out[i].step_probs = s.step_probs;
        }
        Ok(out)
    }
}
