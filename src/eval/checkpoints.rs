//! Finding a training run's checkpoints: directories named `checkpoint-<step>` or
//! `step-<step>` (digits, any zero padding) holding a `config.json`, directly in the run
//! directory or in its `checkpoints/` folder. Unfinished writes (`*.tmp-*`) never match.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// One checkpoint of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Training step.
    pub step: u64,
    /// Its directory.
    pub dir: PathBuf,
}

impl Checkpoint {
    /// The directory's name (`checkpoint-40`).
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The step in a checkpoint directory name, `None` for other names.
pub fn checkpoint_step(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix("checkpoint-")
        .or_else(|| name.strip_prefix("step-"))
        .or_else(|| name.strip_prefix("global_step_"))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The step of a model path whose last component names one (`runs/x/checkpoint-40` → 40).
pub fn step_of_path(path: &str) -> Option<u64> {
    Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(checkpoint_step)
}

/// The checkpoints of `run_dir`, by increasing step. An error when there are none.
pub fn find_checkpoints(run_dir: &Path) -> Result<Vec<Checkpoint>> {
    if !run_dir.is_dir() {
        bail!("run directory {} does not exist", run_dir.display());
    }
    let mut found = Vec::new();
    for root in [run_dir.to_path_buf(), run_dir.join("checkpoints")] {
        if !root.is_dir() {
            continue;
        }
        for entry in
            std::fs::read_dir(&root).with_context(|| format!("listing {}", root.display()))?
        {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(step) = checkpoint_step(&name) {
                let dir = entry.path();
                if dir.join("config.json").is_file() {
                    found.push(Checkpoint { step, dir });
                } else if dir.is_dir() {
                    eprintln!("warning: {} has no config.json; skipped", dir.display());
                }
            }
        }
    }
    found.sort_by(|a, b| a.step.cmp(&b.step).then(a.dir.cmp(&b.dir)));
    found.dedup_by_key(|c| c.step);
    if found.is_empty() {
        bail!(
            "no checkpoints (checkpoint-<step>/ or step-<step>/ with a config.json) in {} or its checkpoints/ folder",
            run_dir.display()
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_discovery() {
        assert_eq!(checkpoint_step("checkpoint-40"), Some(40));
        assert_eq!(checkpoint_step("step-00000040"), Some(40));
        assert_eq!(checkpoint_step("step-40.tmp-123"), None);
        assert_eq!(checkpoint_step("checkpoint-"), None);
        assert_eq!(step_of_path("runs/a/checkpoint-7"), Some(7));
        assert_eq!(step_of_path("Qwen/Qwen2.5-Math-1.5B"), None);

        let dir = tempfile::tempdir().unwrap();
        let mk = |p: &str, config: bool| {
            let d = dir.path().join(p);
            std::fs::create_dir_all(&d).unwrap();
            if config {
                std::fs::write(d.join("config.json"), "{}").unwrap();
            }
        };
        mk("checkpoint-20", true);
        mk("checkpoint-3", true);
        mk("checkpoints/step-00000010", true);
        mk("checkpoint-5.tmp-9", true);
        mk("checkpoint-6", false);
        let steps: Vec<u64> = find_checkpoints(dir.path())
            .unwrap()
            .iter()
            .map(|c| c.step)
            .collect();
        assert_eq!(steps, vec![3, 10, 20]);
        let empty = tempfile::tempdir().unwrap();
        assert!(find_checkpoints(empty.path()).is_err());
    }
}
