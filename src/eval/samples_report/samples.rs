//! Reading a training run's completion samples: `samples.jsonl` in the run directory and any
//! `samples/*.jsonl`, one completion per line with `step`, `group`, `prompt`, `completion`,
//! `reward`, `step_probs`, `score`, `kept`, `reason` (fields other than `step`, `prompt` and
//! `completion` may be missing; `null` step probabilities are kept as unknown).

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One sampled completion of a training step.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sample {
    /// Training step.
    pub step: u64,
    /// Prompt group within the step (by prompt text when absent).
    #[serde(default)]
    pub group: Option<usize>,
    /// The prompt.
    pub prompt: String,
    /// The completion.
    pub completion: String,
    /// Gold answer.
    #[serde(default)]
    pub answer: Option<String>,
    /// Outcome reward.
    #[serde(default)]
    pub reward: Option<f64>,
    /// Explicit verdict, when the file has one (else `reward >= 0.5`).
    #[serde(default)]
    pub correct: Option<bool>,
    /// Completion length in tokens.
    #[serde(default)]
    pub length: Option<usize>,
    /// Cut at the length limit.
    #[serde(default)]
    pub truncated: Option<bool>,
    /// PRM probability per reasoning step.
    #[serde(default)]
    pub step_probs: Vec<Option<f64>>,
    /// Consistency score.
    #[serde(default)]
    pub score: Option<f64>,
    /// Whether the filter kept it.
    #[serde(default)]
    pub kept: Option<bool>,
    /// Why it was kept or dropped.
    #[serde(default)]
    pub reason: Option<String>,
}

impl Sample {
    /// The verdict: the explicit one, else reward ≥ 0.5.
    pub fn is_correct(&self) -> bool {
        self.correct
            .unwrap_or(self.reward.is_some_and(|r| r >= 0.5))
    }

    /// The lowest known step probability.
    pub fn min_step_prob(&self) -> Option<f64> {
        self.step_probs
            .iter()
            .flatten()
            .copied()
            .filter(|p| p.is_finite())
            .min_by(f64::total_cmp)
    }
}

/// The sample files of a run: `FILE` itself when given a file, else `DIR/samples.jsonl` and
/// `DIR/samples/*.jsonl` (sorted by name).
pub fn sample_files(run: &Path) -> Result<Vec<PathBuf>> {
    if run.is_file() {
        return Ok(vec![run.to_path_buf()]);
    }
    if !run.is_dir() {
        bail!("run directory {} does not exist", run.display());
    }
    let mut files = Vec::new();
    let top = run.join("samples.jsonl");
    if top.is_file() {
        files.push(top);
    }
    let sub = run.join("samples");
    if sub.is_dir() {
        let mut more: Vec<PathBuf> = std::fs::read_dir(&sub)
            .with_context(|| format!("listing {}", sub.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        more.sort();
        files.extend(more);
    }
    if files.is_empty() {
        bail!("no samples.jsonl or samples/*.jsonl in {}", run.display());
    }
    Ok(files)
}

/// Reads every sample of the files; a last line without its newline (a write in progress) is
/// skipped, other malformed lines are errors naming file and line.
pub fn read_samples(files: &[PathBuf]) -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    for path in files {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let complete = text.rfind('\n').map_or("", |i| &text[..=i]);
        for (i, line) in complete.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let sample: Sample = serde_json::from_str(line).with_context(|| {
                format!("{}: line {}: not a sample record", path.display(), i + 1)
            })?;
            out.push(sample);
        }
    }
    Ok(out)
}

/// Splits a completion into reasoning steps as the PRM sees them: pieces between blank lines
/// (`"\n\n"`), trimmed, empty pieces dropped.
pub fn split_steps(completion: &str) -> Vec<&str> {
    completion
        .split("\n\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_the_prm_recipe() {
        assert_eq!(
            split_steps("a\n\nb\nc\n\n\n\n  \n\n d \n\n"),
            vec!["a", "b\nc", "d"]
        );
        assert!(split_steps("").is_empty());
    }

    #[test]
    fn lenient_records() {
        let s: Sample = serde_json::from_str(
            r#"{"step": 3, "prompt": "p", "completion": "c", "reward": 1.0, "step_probs": [0.5, null, 0.2]}"#,
        )
        .unwrap();
        assert!(s.is_correct());
        assert_eq!(s.min_step_prob(), Some(0.2));
        assert_eq!(s.kept, None);
    }
}
