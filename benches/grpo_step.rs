//! One full GRPO step of a training config (default: the built-in smoke run), timed by phase:
//! rollout, PRM scoring, update, and the whole step; with the process's peak resident memory.
//! Prints one JSON line. With `--dump DIR` it also writes what `benches/torch_grpo_step.py` needs
//! to run the same step in PyTorch: the policy after set-up (Hugging Face layout), the step's
//! prompts and the rollout and update settings.
//!
//! ```text
//! cargo bench --bench grpo_step -- [--config FILE] [--set KEY=VALUE ...] [--steps 3] [--dump DIR]
//! ```
//! The set-up (warm-up SFT and the toy PRM of the smoke config) is not timed; one untimed step
//! runs before the timed ones. CPU threads follow `RAYON_NUM_THREADS`.

#[path = "common/peak_rss.rs"]
mod peak_rss;

use anyhow::{Context, Result};
use burn::module::Module;
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use prof_grpo::backend::{AutodiffTask, BackendKind, device_for_index, run_autodiff};
use prof_grpo::train::config::TrainConfig;
use prof_grpo::train::trainer::Trainer;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Instant;

/// Command line of the GRPO-step bench.
#[derive(Parser, Debug)]
#[command(about = "Time one GRPO step of a training config")]
struct Args {
    /// Config file; without it, the built-in smoke run.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Overrides, as for `prof-grpo train --set`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Timed steps (the median is reported), after one untimed step.
    #[arg(long, default_value_t = 3)]
    steps: usize,
    /// Write the workload for `benches/torch_grpo_step.py` into this directory.
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Task {
    config: TrainConfig,
    steps: usize,
    dump: Option<PathBuf>,
}

impl AutodiffTask for Task {
    type Output = Value;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Value> {
        let t = Instant::now();
        let mut trainer = Trainer::<B>::new(self.config, None, device)?;
        let setup_s = t.elapsed().as_secs_f64();
        let rss_after_setup = peak_rss::peak_rss_bytes();
        if let Some(dir) = &self.dump {
            dump_workload(&trainer, dir)?;
        }
        trainer.train_step()?;
        let mut phases: [Vec<f64>; 4] = Default::default();
        let mut generated = Vec::new();
        let mut updated = Vec::new();
        for _ in 0..self.steps.max(1) {
            let t = Instant::now();
            let m = trainer.train_step()?;
            phases[0].push(t.elapsed().as_secs_f64());
            for (i, key) in ["timing/rollout_s", "timing/prm_s", "timing/update_s"]
                .iter()
                .enumerate()
            {
                phases[i + 1].push(m.values.get(*key).copied().unwrap_or(f64::NAN));
            }
            let completions = trainer.config.actor.prompts_per_step * trainer.config.rollout.n;
            let mean_len = m
                .values
                .get("completions/mean_length")
                .copied()
                .unwrap_or(0.0);
            generated.push(mean_len * completions as f64);
            let kept = ["prof/kept_correct", "prof/kept_incorrect"]
                .iter()
                .map(|k| m.values.get(*k).copied().unwrap_or(0.0))
                .sum::<f64>();
            updated.push(kept);
        }
        let [step, rollout, prm, update] = phases.map(median);
        let tokens = median(generated);
        let update_completions = median(updated);
        Ok(json!({
            "engine": "prof-grpo",
            "config": trainer.config.run.name,
            "backend": trainer.config.run.backend,
            "prompts": trainer.config.actor.prompts_per_step,
            "n": trainer.config.rollout.n,
            "parameters": trainer.policy.num_params(),
            "steps": self.steps.max(1),
            "setup_s": setup_s,
            "step_s": step,
            "rollout_s": rollout,
            "prm_s": prm,
            "update_s": update,
            "generated_tokens": tokens,
            "update_completions": update_completions,
            "rollout_tokens_per_s": tokens / rollout,
            "peak_rss_setup_bytes": rss_after_setup,
            "peak_rss_bytes": peak_rss::peak_rss_bytes(),
            "threads": std::env::var("RAYON_NUM_THREADS").ok(),
        }))
    }
}

/// The policy (Hugging Face layout, via a checkpoint), the step's prompts and its settings.
fn dump_workload<B: AutodiffBackend>(trainer: &Trainer<B>, dir: &PathBuf) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let checkpoint = trainer.save()?;
    let policy_dir = dir.join("policy");
    let _ = std::fs::remove_dir_all(&policy_dir);
    std::fs::create_dir_all(&policy_dir)?;
    for name in ["config.json", "model.safetensors"] {
        std::fs::copy(checkpoint.join(name), policy_dir.join(name))
            .with_context(|| format!("copying {name} from {}", checkpoint.display()))?;
    }
    let cfg = &trainer.config;
    let prompts: Vec<&Vec<u32>> = trainer
        .train_set
        .iter()
        .take(cfg.actor.prompts_per_step)
        .map(|p| &p.ids)
        .collect();
    let g = &trainer.generation;
    let workload = json!({
        "prompts": prompts,
        "n": cfg.rollout.n,
        "temperature": g.sampling.temperature,
        "top_p": g.sampling.top_p,
        "top_k": g.sampling.top_k,
        "max_new_tokens": g.max_new_tokens,
        "stop_ids": g.stop_ids,
        "pad_id": g.pad_id,
        "uses_prm": trainer.prm.is_some() && cfg.uses_prm(),
        "ppo_epochs": cfg.actor.ppo_epochs,
        "mini_batches": cfg.actor.prompts_per_step.div_ceil(cfg.actor.mini_batch_prompts.max(1)),
        "micro_batch": cfg.actor.micro_batch_size,
        "lr": cfg.actor.lr,
        "clip_low": cfg.actor.clip_low,
        "clip_high": cfg.actor.clip_high,
        "entropy_coef": cfg.actor.entropy_coef,
    });
    std::fs::write(
        dir.join("workload.json"),
        serde_json::to_string_pretty(&workload)?,
    )?;
    Ok(())
}

fn main() -> Result<()> {
    // As the trainer's binary does.
    prof_grpo::host::set_up_process();
    let args = Args::parse();
    let out = tempfile::tempdir()?;
    let mut sets = args.sets.clone();
    sets.push(format!(
        "run.out_dir={:?}",
        out.path().display().to_string()
    ));
    sets.push("run.eval_every=0".into());
    sets.push("logging.progress=false".into());
    sets.push("logging.print_every=0".into());
    let config = match &args.config {
        Some(path) => TrainConfig::load(Some(path), &sets)?,
        None => prof_grpo::train::config_load::load(None, &sets)?,
    };
    let backend: BackendKind = config.run.backend.as_str().parse()?;
    let device = device_for_index(backend, config.run.device_index);
    let line = run_autodiff(
        backend,
        &device,
        Task {
            config,
            steps: args.steps,
            dump: args.dump,
        },
    )?;
    println!("{line}");
    Ok(())
}
