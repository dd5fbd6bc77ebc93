//! The numbers of one evaluated model: per-dataset metrics and their unweighted average over
//! datasets (the "Average" column of the paper's Table 1).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

use super::judge::Judge;
use super::metrics::{DatasetMetrics, dataset_metrics};
use super::record::CompletionRecord;
use super::settings::EvalSettings;

/// Means over datasets (each dataset weighs the same, whatever its size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AverageMetrics {
    /// Mean avg@k, %.
    pub avg_at_k: f64,
    /// Mean pass@k, %.
    pub pass_at_k: f64,
    /// Mean maj@k, %.
    pub maj_at_k: f64,
    /// Mean of the datasets' mean lengths, tokens.
    pub mean_length: f64,
    /// Mean of the datasets' variances.
    pub variance: f64,
}

/// Everything an evaluation of one model reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The model evaluated (directory, hub id or checkpoint name).
    pub model: String,
    /// Training step of the checkpoint, when known.
    pub step: Option<u64>,
    /// How it was sampled.
    pub settings: EvalSettings,
    /// Per dataset, in the order asked for.
    pub datasets: Vec<DatasetMetrics>,
    /// Unweighted means over the datasets.
    pub average: AverageMetrics,
}

impl EvalReport {
    /// Computes the report from judged records; `datasets` gives the order (a dataset without
    /// records is left out).
    pub fn from_records(
        model: &str,
        step: Option<u64>,
        settings: &EvalSettings,
        datasets: &[String],
        records: &[CompletionRecord],
        judge: &dyn Judge,
    ) -> Self {
        let per: Vec<DatasetMetrics> = datasets
            .iter()
            .filter_map(|name| {
                let mine: Vec<CompletionRecord> = records
                    .iter()
                    .filter(|r| &r.dataset == name)
                    .cloned()
                    .collect();
                (!mine.is_empty()).then(|| dataset_metrics(name, &mine, settings.k, judge))
            })
            .collect();
        let mean = |f: &dyn Fn(&DatasetMetrics) -> f64| {
            if per.is_empty() {
                f64::NAN
            } else {
                per.iter().map(f).sum::<f64>() / per.len() as f64
            }
        };
        let average = AverageMetrics {
            avg_at_k: mean(&|m| m.avg_at_k),
            pass_at_k: mean(&|m| m.pass_at_k()),
            maj_at_k: mean(&|m| m.maj_at_k),
            mean_length: mean(&|m| m.mean_length),
            variance: mean(&|m| m.variance),
        };
        Self {
            model: model.to_string(),
            step,
            settings: settings.clone(),
            datasets: per,
            average,
        }
    }

    /// The metrics of dataset `name`.
    pub fn dataset(&self, name: &str) -> Option<&DatasetMetrics> {
        self.datasets.iter().find(|m| m.dataset == name)
    }

    /// Writes the report as pretty JSON (through a temporary file and a rename).
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text =
            serde_json::to_string_pretty(self).context("serializing the evaluation report")?;
        write_atomic(path, text.as_bytes())
    }

    /// Reads a report written by [`EvalReport::write_json`].
    pub fn read_json(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("parsing evaluation report {}", path.display()))
    }
}

/// Writes `bytes` to `path` through a temporary sibling file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}
