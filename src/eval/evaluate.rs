//! In-memory evaluation of a loaded model: what the trainer's validation calls (greedy,
//! [`EvalSettings::greedy`]) and what the `eval` command runs through its resumable files.

use anyhow::Result;
use burn::tensor::backend::Backend;
use std::collections::HashSet;

use super::judge::Judge;
use super::problem::{Decode, EvalProblem};
use super::report::EvalReport;
use super::sampler::{StopTokens, sample_and_judge};
use super::settings::EvalSettings;
use crate::model::Qwen2ForCausalLm;

/// Samples, judges and reports `problems`; datasets are reported in first-appearance order.
/// `model_label` and `step` only label the report.
#[allow(clippy::too_many_arguments)]
pub fn evaluate<B: Backend>(
    model: &Qwen2ForCausalLm<B>,
    problems: &[EvalProblem],
    settings: &EvalSettings,
    stops: &StopTokens,
    decode: &dyn Decode,
    judge: &dyn Judge,
    model_label: &str,
    step: Option<u64>,
) -> Result<EvalReport> {
    let mut records = Vec::new();
    sample_and_judge(
        model,
        problems,
        settings,
        stops,
        decode,
        judge,
        &HashSet::new(),
        |batch| {
            records.extend_from_slice(batch);
            Ok(())
        },
    )?;
    let datasets = dataset_order(problems);
    Ok(EvalReport::from_records(
        model_label,
        step,
        settings,
        &datasets,
        &records,
        judge,
    ))
}

/// Dataset names in first-appearance order.
pub fn dataset_order(problems: &[EvalProblem]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in problems {
        if !out.contains(&p.dataset) {
            out.push(p.dataset.clone());
        }
    }
    out
}
