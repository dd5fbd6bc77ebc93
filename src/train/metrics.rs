//! Per-step metrics (`metrics.jsonl`, one JSON object per step with the names users know from
//! TRL and verl) and completion samples (`samples.jsonl`). Non-finite numbers are written as
//! `null` and read back as NaN. Each line is flushed as it is written, so the files can be
//! followed while a run goes on and a crash loses at most the line being written.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// Metric names written by the trainer.
pub mod keys {
    /// Step number (1-based count of completed steps).
    pub const STEP: &str = "step";
    /// Mean outcome reward of all rollouts of the step, before any filter.
    pub const REWARD: &str = "reward";
    /// Standard deviation of the outcome rewards of the step's rollouts.
    pub const REWARD_STD: &str = "reward_std";
    /// Fraction of groups whose rewards all equal.
    pub const FRAC_REWARD_ZERO_STD: &str = "frac_reward_zero_std";
    /// Mean completion length in tokens.
    pub const COMPLETIONS_MEAN_LENGTH: &str = "completions/mean_length";
    /// Fraction of completions cut at the maximum response length.
    pub const COMPLETIONS_CLIPPED_RATIO: &str = "completions/clipped_ratio";
    /// Mean per-token KL to the reference policy.
    pub const KL: &str = "kl";
    /// Mean per-token entropy of the policy.
    pub const ENTROPY: &str = "entropy";
    /// Fraction of tokens whose ratio hit the lower clip.
    pub const CLIP_RATIO_LOW_MEAN: &str = "clip_ratio/low_mean";
    /// Fraction of tokens whose ratio hit the upper clip.
    pub const CLIP_RATIO_HIGH_MEAN: &str = "clip_ratio/high_mean";
    /// Global gradient norm before clipping.
    pub const GRAD_NORM: &str = "grad_norm";
    /// Learning rate of the step.
    pub const LR: &str = "lr";
    /// Policy loss.
    pub const LOSS: &str = "loss";
    /// Correct completions kept by the filter.
    pub const PROF_KEPT_CORRECT: &str = "prof/kept_correct";
    /// Incorrect completions kept by the filter.
    pub const PROF_KEPT_INCORRECT: &str = "prof/kept_incorrect";
    /// Mean consistency score of correct completions.
    pub const PROF_SCORE_MEAN_CORRECT: &str = "prof/score_mean_correct";
    /// Mean consistency score of incorrect completions.
    pub const PROF_SCORE_MEAN_INCORRECT: &str = "prof/score_mean_incorrect";
    /// Mean number of PRM steps per completion.
    pub const PRM_STEP_COUNT_MEAN: &str = "prm/step_count_mean";
    /// Seconds spent sampling completions.
    pub const TIMING_ROLLOUT_S: &str = "timing/rollout_s";
    /// Seconds spent scoring steps with the PRM.
    pub const TIMING_PRM_S: &str = "timing/prm_s";
    /// Seconds spent in the policy update.
    pub const TIMING_UPDATE_S: &str = "timing/update_s";
    /// Generated plus trained tokens per second of the step.
    pub const PERF_TOKENS_PER_S: &str = "perf/tokens_per_s";
    /// Steps skipped so far because of a non-finite loss or gradient.
    pub const NAN_SKIPPED: &str = "nan_skipped";
    /// Prefix of evaluation metrics, e.g. `eval/math500/accuracy`.
    pub const EVAL_PREFIX: &str = "eval/";
}

/// The metrics of one step: named numbers (NaN when undefined, e.g. no correct completion).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepMetrics {
    /// The step these metrics belong to.
    pub step: u64,
    /// Metric name → value.
    pub values: BTreeMap<String, f64>,
}

impl StepMetrics {
    /// Empty metrics for `step`.
    pub fn new(step: u64) -> Self {
        Self {
            step,
            values: BTreeMap::new(),
        }
    }

    /// Sets one metric (builder style).
    pub fn with(mut self, key: &str, value: f64) -> Self {
        self.set(key, value);
        self
    }

    /// Sets one metric.
    pub fn set(&mut self, key: &str, value: f64) {
        self.values.insert(key.to_string(), value);
    }

    /// One metric, if recorded.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.values.get(key).copied()
    }

    /// The JSON line (without newline): `{"step": N, ...}` with non-finite values as `null`.
    pub fn to_json_line(&self) -> String {
        // Written by hand so that "step" comes first whatever serde_json's map ordering.
        let mut line = format!("{{\"{}\":{}", keys::STEP, self.step);
        for (k, &v) in &self.values {
            let value = serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into);
            let key = serde_json::Value::String(k.clone());
            line.push_str(&format!(",{key}:{value}"));
        }
        line.push('}');
        line
    }

    /// Parses a line written by [`to_json_line`](Self::to_json_line) (`null` reads as NaN).
    pub fn from_json_line(line: &str) -> Result<Self> {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).context("not a JSON object")?;
        let step = map
            .get(keys::STEP)
            .and_then(serde_json::Value::as_u64)
            .context("missing or invalid \"step\"")?;
        let mut out = Self::new(step);
        for (k, v) in map {
            if k == keys::STEP {
                continue;
            }
            let value = match v {
                serde_json::Value::Null => f64::NAN,
                serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                other => bail!("metric \"{k}\" is not a number: {other}"),
            };
            out.values.insert(k, value);
        }
        Ok(out)
    }
}

/// Appends lines to a JSONL file, flushing each.
#[derive(Debug)]
pub struct JsonlWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl JsonlWriter {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    /// Opens `path` to continue a resumed run: keeps the lines whose `"step"` is at most
    /// `last_step` (those of the checkpoint) and drops later ones, written after it by the
    /// interrupted run, which the resumed run will write again. A missing file is created.
    pub fn resume(path: &Path, last_step: u64) -> Result<Self> {
        let kept = match File::open(path) {
            Ok(file) => {
                let mut kept = Vec::new();
                for (i, line) in BufReader::new(file).lines().enumerate() {
                    let line = line.with_context(|| format!("reading {}", path.display()))?;
                    let step = serde_json::from_str::<serde_json::Value>(&line)
                        .ok()
                        .and_then(|v| v.get(keys::STEP).and_then(serde_json::Value::as_u64));
                    match step {
                        Some(step) if step <= last_step => kept.push(line),
                        Some(_) => {}
                        // A torn last line of the interrupted run carries no usable step.
                        None => warn_dropped_line(path, i + 1),
                    }
                }
                kept
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
        };
        let mut writer = Self::create(path)?;
        for line in kept {
            writer.write_line(&line)?;
        }
        Ok(writer)
    }

    /// Writes one line (a newline is added) and flushes.
    pub fn write_line(&mut self, line: &str) -> Result<()> {
        writeln!(self.out, "{line}")
            .and_then(|()| self.out.flush())
            .with_context(|| format!("writing {}", self.path.display()))
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn warn_dropped_line(path: &Path, line: usize) {
    eprintln!(
        "warning: {}:{line} has no step number and is dropped on resume",
        path.display()
    );
}

/// Writer of `metrics.jsonl`.
#[derive(Debug)]
pub struct MetricsWriter {
    inner: JsonlWriter,
}

impl MetricsWriter {
    /// Creates (truncates) the metrics file.
    pub fn create(path: &Path) -> Result<Self> {
        Ok(Self {
            inner: JsonlWriter::create(path)?,
        })
    }

    /// Reopens the metrics file of a run resumed after `last_step` (see [`JsonlWriter::resume`]).
    pub fn resume(path: &Path, last_step: u64) -> Result<Self> {
        Ok(Self {
            inner: JsonlWriter::resume(path, last_step)?,
        })
    }

    /// Writes the metrics of one step.
    pub fn write(&mut self, metrics: &StepMetrics) -> Result<()> {
        self.inner.write_line(&metrics.to_json_line())
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        self.inner.path()
    }
}

/// Reads a metrics file; an error names the file and line.
pub fn read_metrics(path: &Path) -> Result<Vec<StepMetrics>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        rows.push(
            StepMetrics::from_json_line(&line)
                .with_context(|| format!("{}:{}", path.display(), i + 1))?,
        );
    }
    Ok(rows)
}

/// One completion as written to `samples.jsonl`, for inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRecord {
    /// Step that sampled it.
    pub step: u64,
    /// Index of its prompt group within the step.
    pub group: usize,
    /// The prompt as shown to the policy.
    pub prompt: String,
    /// The completion text.
    pub completion: String,
    /// The gold answer.
    pub answer: String,
    /// Outcome reward (after the truncation rule).
    pub reward: f64,
    /// Completion length in tokens.
    pub length: usize,
    /// Whether it was cut at the maximum response length.
    pub truncated: bool,
    /// PRM probability of each step (empty without a PRM).
    pub step_probs: Vec<f64>,
    /// Consistency score used by the filter (`null` when no filter ranks by it).
    pub score: Option<f64>,
    /// Whether it was kept for the update.
    pub kept: bool,
    /// Why it was kept or dropped, e.g. `"lowest score among correct"`.
    pub reason: String,
}

/// Writer of `samples.jsonl`.
#[derive(Debug)]
pub struct SamplesWriter {
    inner: JsonlWriter,
}

impl SamplesWriter {
    /// Creates (truncates) the samples file.
    pub fn create(path: &Path) -> Result<Self> {
        Ok(Self {
            inner: JsonlWriter::create(path)?,
        })
    }

    /// Reopens the samples file of a run resumed after `last_step` (see [`JsonlWriter::resume`]).
    pub fn resume(path: &Path, last_step: u64) -> Result<Self> {
        Ok(Self {
            inner: JsonlWriter::resume(path, last_step)?,
        })
    }

    /// Writes one completion (a non-finite score or probability becomes `null`).
    pub fn write(&mut self, sample: &SampleRecord) -> Result<()> {
        let line = serde_json::to_string(sample).context("serializing a sample")?;
        self.inner.write_line(&line)
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        self.inner.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_has_step_and_null_for_non_finite() {
        let m = StepMetrics::new(7)
            .with(keys::REWARD, 0.5)
            .with(keys::KL, f64::NAN)
            .with(keys::GRAD_NORM, f64::INFINITY);
        assert_eq!(
            m.to_json_line(),
            r#"{"step":7,"grad_norm":null,"kl":null,"reward":0.5}"#
        );
        let back = StepMetrics::from_json_line(&m.to_json_line()).unwrap();
        assert_eq!(back.step, 7);
        assert_eq!(back.get(keys::REWARD), Some(0.5));
        assert!(back.get(keys::KL).unwrap().is_nan());
        assert!(back.get(keys::GRAD_NORM).unwrap().is_nan());
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        std::fs::write(
            &path,
            "{\"step\":1,\"reward\":1}\n{\"reward\":\"x\",\"step\":2}\n",
        )
        .unwrap();
        let err = format!("{:#}", read_metrics(&path).unwrap_err());
        assert!(err.contains("m.jsonl:2"), "{err}");
        assert!(err.contains("reward"), "{err}");
    }

    #[test]
    fn resume_keeps_lines_up_to_the_checkpoint_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut w = MetricsWriter::create(&path).unwrap();
        for step in 1..=5 {
            w.write(&StepMetrics::new(step).with(keys::REWARD, step as f64))
                .unwrap();
        }
        drop(w);
        // A torn line from the interrupted run.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"step\":6,\"rew");
        std::fs::write(&path, text).unwrap();

        let mut w = MetricsWriter::resume(&path, 3).unwrap();
        w.write(&StepMetrics::new(4).with(keys::REWARD, 40.0))
            .unwrap();
        let rows = read_metrics(&path).unwrap();
        let steps: Vec<u64> = rows.iter().map(|r| r.step).collect();
        assert_eq!(steps, vec![1, 2, 3, 4]);
        assert_eq!(rows[3].get(keys::REWARD), Some(40.0));
    }

    #[test]
    fn samples_round_trip_with_null_score() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.jsonl");
        let mut w = SamplesWriter::create(&path).unwrap();
        let s = SampleRecord {
            step: 2,
            group: 1,
            prompt: "1+1?".into(),
            completion: "\\boxed{2}".into(),
            answer: "2".into(),
            reward: 1.0,
            length: 5,
            truncated: false,
            step_probs: vec![0.9, 0.8],
            score: None,
            kept: true,
            reason: "kept".into(),
        };
        w.write(&s).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"score\":null"), "{text}");
        let back: SampleRecord = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(back, s);
    }
}
