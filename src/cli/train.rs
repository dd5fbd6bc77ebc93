//! `prof-grpo train`: GRPO / PROF training from a config file (default: the built-in smoke run).

use anyhow::Result;
use burn::tensor::backend::AutodiffBackend;
use std::path::PathBuf;

use crate::backend::{AutodiffTask, BackendKind, device_for_index, run_autodiff};
use crate::train::config::TrainConfig;
use crate::train::trainer::Trainer;

/// Arguments of `prof-grpo train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Config file (toml); without it, the built-in CPU smoke run (configs/smoke.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override any key, e.g. `--set actor.lr=1e-5 --set rollout.n=4` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Run directory (default `runs/<run.name>-<timestamp>`; same as `--set run.out_dir=...`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue a run from a checkpoint directory (or a run directory: its latest checkpoint).
    #[arg(long)]
    pub resume: Option<PathBuf>,
}

struct Task {
    config: TrainConfig,
    resume: Option<PathBuf>,
}

impl AutodiffTask for Task {
    type Output = ();
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let mut trainer = Trainer::<B>::new(self.config, self.resume.as_deref(), device)?;
        eprintln!("run directory: {}", trainer.out_dir.display());
        trainer.run()?;
        Ok(())
    }
}

/// Loads the configuration the arguments describe.
pub fn resolve_config(args: &TrainArgs) -> Result<TrainConfig> {
    let mut sets = args.sets.clone();
    if let Some(out) = &args.out {
        sets.push(format!("run.out_dir={:?}", out.display().to_string()));
    }
    match &args.config {
        Some(path) => TrainConfig::load(Some(path), &sets),
        None => crate::train::config_load::load_from_str(
            crate::train::config::SMOKE_TOML,
            "configs/smoke.toml (built in)",
            &sets,
        ),
    }
}

/// Runs the command.
pub fn run(args: TrainArgs) -> Result<()> {
    let config = resolve_config(&args)?;
    let backend: BackendKind = config.run.backend.as_str().parse()?;
    let device = device_for_index(backend, config.run.device_index);
    run_autodiff(
        backend,
        &device,
        Task {
            config,
            resume: args.resume,
        },
    )
}
