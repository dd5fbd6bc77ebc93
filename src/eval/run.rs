//! A resumable evaluation in an output directory:
//!
//! ```text
//! OUT/settings.json      model label and the settings that decide the completions
//! OUT/completions.jsonl  every judged completion, appended batch by batch
//! OUT/report.json        the numbers (EvalReport), written at the end
//! ```
//!
//! Run again with the same directory, an evaluation skips the samples already in
//! `completions.jsonl` and generates only the rest; since each sample has its own seeded
//! generator the numbers equal those of an uninterrupted run. Settings that would change the
//! completions (k, temperature, top-p, top-k, token limit, seed, model) must match; datasets and
//! `--limit` may change (records are keyed by dataset, problem and sample).

use anyhow::{Context, Result, bail};
use burn::tensor::backend::Backend;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::evaluate::dataset_order;
use super::judge::Judge;
use super::problem::{Decode, EvalProblem};
use super::record::{CompletionRecord, RecordWriter, SampleKey, read_records};
use super::report::{EvalReport, write_atomic};
use super::sampler::{StopTokens, pending_samples, sample_and_judge};
use super::settings::EvalSettings;
use crate::model::Qwen2ForCausalLm;

/// File names inside an evaluation directory.
pub mod files {
    /// Settings the completions depend on.
    pub const SETTINGS: &str = "settings.json";
    /// Judged completions, one JSON object per line.
    pub const COMPLETIONS: &str = "completions.jsonl";
    /// The report.
    pub const REPORT: &str = "report.json";
}

/// Where one model's evaluation lives, and what it is labelled.
#[derive(Debug, Clone)]
pub struct EvalRun {
    /// Output directory.
    pub dir: PathBuf,
    /// Model label written into the settings and report.
    pub model: String,
    /// Training step, when the model is a checkpoint.
    pub step: Option<u64>,
}

impl EvalRun {
    /// Path of the completions file.
    pub fn completions_path(&self) -> PathBuf {
        self.dir.join(files::COMPLETIONS)
    }

    /// Path of the report.
    pub fn report_path(&self) -> PathBuf {
        self.dir.join(files::REPORT)
    }

    /// Creates the directory, or checks that the one there was made with the same settings,
    /// and returns the completions already judged.
    pub fn open(&self, settings: &EvalSettings) -> Result<Vec<CompletionRecord>> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let wanted = serde_json::json!({ "model": self.model, "settings": settings.fingerprint() });
        let path = self.dir.join(files::SETTINGS);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let found: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", path.display()))?;
            if found != wanted {
                bail!(
                    "{} holds an evaluation with other settings ({found}) than asked ({wanted}); \
                     choose another output directory or delete that one",
                    self.dir.display()
                );
            }
        } else {
            write_atomic(&path, serde_json::to_string_pretty(&wanted)?.as_bytes())?;
        }
        let completions = self.completions_path();
        if completions.exists() {
            read_records(&completions)
        } else {
            Ok(Vec::new())
        }
    }

    /// Evaluates `problems`, resuming from the completions already on disk; `progress(done,
    /// total)` is called after every batch. Writes and returns the report.
    #[allow(clippy::too_many_arguments)]
    pub fn run<B: Backend>(
        &self,
        model: &Qwen2ForCausalLm<B>,
        problems: &[EvalProblem],
        settings: &EvalSettings,
        stops: &StopTokens,
        decode: &dyn Decode,
        judge: &dyn Judge,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<EvalReport> {
        let mut records = self.open(settings)?;
        let done: HashSet<SampleKey> = records.iter().map(CompletionRecord::key).collect();
        let total = problems.len() * settings.k;
        let mut finished = total - pending_samples(problems, settings.k, &done).len();
        progress(finished, total);
        let mut writer = RecordWriter::append(&self.completions_path())?;
        sample_and_judge(
            model,
            problems,
            settings,
            stops,
            decode,
            judge,
            &done,
            |batch| {
                writer.write(batch)?;
                records.extend_from_slice(batch);
                finished += batch.len();
                progress(finished, total);
                Ok(())
            },
        )?;
        let report = self.report_from(&records, problems, settings, judge);
        report.write_json(&self.report_path())?;
        Ok(report)
    }

    /// The report of `problems` from `records` (records of other problems, or of samples
    /// beyond k, are left out).
    pub fn report_from(
        &self,
        records: &[CompletionRecord],
        problems: &[EvalProblem],
        settings: &EvalSettings,
        judge: &dyn Judge,
    ) -> EvalReport {
        let wanted: HashSet<(&str, &str)> = problems
            .iter()
            .map(|p| (p.dataset.as_str(), p.id.as_str()))
            .collect();
        let mut mine: Vec<CompletionRecord> = records
            .iter()
            .filter(|r| {
                r.sample < settings.k
                    && wanted.contains(&(r.dataset.as_str(), r.problem_id.as_str()))
            })
            .cloned()
            .collect();
        // Problem order as given, whatever the order the records were written in.
        let position: std::collections::HashMap<(&str, &str), usize> = problems
            .iter()
            .enumerate()
            .map(|(i, p)| ((p.dataset.as_str(), p.id.as_str()), i))
            .collect();
        mine.sort_by_key(|r| {
            (
                position[&(r.dataset.as_str(), r.problem_id.as_str())],
                r.sample,
            )
        });
        EvalReport::from_records(
            &self.model,
            self.step,
            settings,
            &dataset_order(problems),
            &mine,
            judge,
        )
    }
}

/// Whether `dir` holds a finished report.
pub fn has_report(dir: &Path) -> bool {
    dir.join(files::REPORT).is_file()
}
