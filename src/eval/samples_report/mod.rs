//! One self-contained HTML page (inline CSS, no scripts, no external assets) from a training
//! run's samples: for chosen steps, each prompt's completions with every reasoning step
//! coloured by its PRM probability, the verdict, the consistency score and whether the filter
//! kept or dropped it (with the reason); above them, the flawed-but-correct completions (a
//! correct final answer reached through a step the PRM scores low), the case PROF exists for.

pub mod html;
pub mod page;
pub mod samples;

use anyhow::{Result, bail};
use std::collections::BTreeSet;
use std::path::Path;

pub use page::render_page;
pub use samples::{Sample, read_samples, sample_files, split_steps};

/// What the page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PageOptions {
    /// Steps to show; empty = up to five, evenly spread from the first to the last.
    pub steps: Vec<u64>,
    /// Most prompt groups shown per step.
    pub max_groups: usize,
    /// A correct completion is flawed when one of its steps has a PRM probability below this.
    pub flaw_threshold: f64,
    /// Most flawed-but-correct completions gathered at the top.
    pub max_flawed: usize,
}

impl Default for PageOptions {
    fn default() -> Self {
        Self {
            steps: Vec::new(),
            max_groups: 8,
            flaw_threshold: 0.5,
            max_flawed: 20,
        }
    }
}

/// The steps shown: those asked for (an error names any the samples lack), else all when at
/// most five, else five spread evenly from the first to the last.
pub fn choose_steps(samples: &[Sample], asked: &[u64]) -> Result<Vec<u64>> {
    let present: BTreeSet<u64> = samples.iter().map(|s| s.step).collect();
    if !asked.is_empty() {
        let missing: Vec<String> = asked
            .iter()
            .filter(|s| !present.contains(s))
            .map(u64::to_string)
            .collect();
        if !missing.is_empty() {
            let have: Vec<String> = present.iter().map(u64::to_string).collect();
            bail!(
                "no samples for step(s) {} (the samples have steps {})",
                missing.join(", "),
                have.join(", ")
            );
        }
        let mut steps = asked.to_vec();
        steps.sort_unstable();
        steps.dedup();
        return Ok(steps);
    }
    let all: Vec<u64> = present.into_iter().collect();
    if all.len() <= 5 {
        return Ok(all);
    }
    let mut picked: Vec<u64> = (0..5).map(|i| all[i * (all.len() - 1) / 4]).collect();
    picked.dedup();
    Ok(picked)
}

/// Reads the run's samples and writes the page to `out`; returns the number of completions
/// shown.
pub fn write_run_page(run: &Path, out: &Path, options: &PageOptions) -> Result<usize> {
    let samples = read_samples(&sample_files(run)?)?;
    if samples.is_empty() {
        bail!("the samples of {} are empty", run.display());
    }
    let steps = choose_steps(&samples, &options.steps)?;
    let (text, shown) = render_page(&run.display().to_string(), &samples, &steps, options);
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    crate::eval::report::write_atomic(out, text.as_bytes())?;
    Ok(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(step: u64) -> Sample {
        serde_json::from_value(serde_json::json!({"step": step, "prompt": "p", "completion": "c"}))
            .unwrap()
    }

    #[test]
    fn default_steps_spread_over_the_run() {
        let few: Vec<Sample> = [1, 2, 3].into_iter().map(at).collect();
        assert_eq!(choose_steps(&few, &[]).unwrap(), vec![1, 2, 3]);
        let many: Vec<Sample> = (1..=9).map(at).collect();
        assert_eq!(choose_steps(&many, &[]).unwrap(), vec![1, 3, 5, 7, 9]);
        assert_eq!(choose_steps(&many, &[9, 2, 2]).unwrap(), vec![2, 9]);
        let err = choose_steps(&many, &[10]).unwrap_err().to_string();
        assert!(err.contains("10") && err.contains("1, 2"), "{err}");
    }
}
