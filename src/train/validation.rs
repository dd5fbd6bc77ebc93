//! Validation during training: the `eval` command's sampling, judging and metrics, run on
//! `data.val_files` every `run.eval_every` steps (greedy unless `eval.greedy = false`).
//!
//! Each validation writes `<run>/eval/step-<N, 8 digits>.json` (the full report) and appends a line to
//! `<run>/eval/temp{T}_K{K}.jsonl` (the reference's history format); the step's metrics line
//! gets `val/<dataset>` and `val/average`, the avg@k accuracy as a fraction.

use anyhow::Result;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use std::collections::HashMap;

use super::config::TrainConfig;
use super::metrics::StepMetrics;
use super::setup::PromptItem;
use super::trainer::Trainer;
use crate::eval::history::record_history;
use crate::eval::report::write_atomic;
use crate::eval::{EvalProblem, EvalReport, EvalSettings, StopTokens, evaluate};
use crate::generation::SamplingParams;

/// Sampling settings of validation from `[eval]`.
pub fn validation_settings(config: &TrainConfig, batch_size: usize) -> EvalSettings {
    let e = &config.eval;
    if e.greedy {
        return EvalSettings::greedy(e.max_new_tokens, batch_size);
    }
    EvalSettings {
        k: e.n.max(1),
        sampling: SamplingParams {
            temperature: e.temperature as f32,
            top_p: e.top_p as f32,
            top_k: 0,
        },
        max_new_tokens: e.max_new_tokens,
        seed: config.run.seed,
        batch_size,
    }
}

/// The validation problems: the first `limit` (0 = all) of each dataset, labelled by source.
pub fn validation_problems(val_set: &[PromptItem], limit: usize) -> Vec<EvalProblem> {
    let mut taken: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::new();
    for item in val_set {
        let count = taken.entry(item.problem.source.as_str()).or_default();
        if limit > 0 && *count >= limit {
            continue;
        }
        *count += 1;
        out.push(EvalProblem {
            dataset: item.problem.source.clone(),
            id: item.problem.id.clone(),
            prompt_ids: item.ids.clone(),
            gold: item.problem.gold.clone(),
        });
    }
    out
}

/// Copies a report's accuracies into a step's metrics (`val/<dataset>`, `val/average`).
pub fn add_validation_metrics(m: &mut StepMetrics, report: &EvalReport) {
    for d in &report.datasets {
        m.set(&format!("val/{}", d.dataset), d.avg_at_k / 100.0);
    }
    m.set("val/average", report.average.avg_at_k / 100.0);
}

impl<B: AutodiffBackend> Trainer<B> {
    /// Whether the step just completed is followed by a validation.
    pub fn validation_due(&self) -> bool {
        let every = self.config.run.eval_every;
        !self.val_set.is_empty()
            && every > 0
            && (self.step.is_multiple_of(every) || self.step == self.total_steps)
    }

    /// Evaluates the current policy on the validation set and records the report; `None`
    /// when there is no validation set.
    pub fn validate(&self) -> Result<Option<EvalReport>> {
        if self.val_set.is_empty() {
            return Ok(None);
        }
        let problems = validation_problems(&self.val_set, self.config.eval.limit);
        // As in rollouts, 0 means every sequence in one batch.
        let batch = match self.config.rollout.max_batch_size {
            0 => (problems.len() * self.config.eval.n).max(1),
            n => n,
        };
        let settings = validation_settings(&self.config, batch);
        let stops = StopTokens {
            stop_ids: self.generation.stop_ids.clone(),
            pad_id: self.generation.pad_id,
        };
        let decode = |ids: &[u32]| self.tokenizer.decode(ids, true);
        let label = format!("step-{:08}", self.step);
        let report = evaluate(
            &self.policy.valid(),
            &problems,
            &settings,
            &stops,
            &decode,
            &self.verifier,
            &label,
            Some(self.step),
        )?;
        let dir = self.out_dir.join("eval");
        std::fs::create_dir_all(&dir)?;
        write_atomic(
            &dir.join(format!("{label}.json")),
            serde_json::to_string_pretty(&report)?.as_bytes(),
        )?;
        record_history(&dir, &report)?;
        self.progress.println(&format!(
            "validation at step {}: avg@{} {:.1}%",
            self.step, settings.k, report.average.avg_at_k
        ));
        Ok(Some(report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Problem;

    fn item(source: &str, id: &str) -> PromptItem {
        PromptItem {
            problem: Problem {
                id: id.into(),
                source: source.into(),
                problem: "p".into(),
                gold: "1".into(),
                solution: None,
                messages: None,
            },
            ids: vec![1, 2],
        }
    }

    #[test]
    fn the_limit_applies_per_dataset() {
        let set = [
            item("a", "1"),
            item("a", "2"),
            item("b", "1"),
            item("a", "3"),
            item("b", "2"),
        ];
        let got: Vec<(String, String)> = validation_problems(&set, 1)
            .into_iter()
            .map(|p| (p.dataset, p.id))
            .collect();
        assert_eq!(got, [("a".into(), "1".into()), ("b".into(), "1".into())]);
        assert_eq!(validation_problems(&set, 0).len(), 5);
    }

    #[test]
    fn greedy_validation_is_one_sample_at_temperature_zero() {
        let config = TrainConfig::default();
        let s = validation_settings(&config, 8);
        assert_eq!((s.k, s.sampling.temperature, s.batch_size), (1, 0.0, 8));
    }
}
