//! The trainer: everything a run holds between steps, how it is built from a config, how it
//! saves and restores itself, and the outer loop.

use anyhow::{Context, Result, bail};
use burn::module::{AutodiffModule, Module};
use burn::optim::Optimizer;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

use super::checkpoint::{
    CheckpointContents, CheckpointManager, NamedTensor as CkptTensor, ResumableRng, TrainState,
    load_checkpoint,
};
use super::config::TrainConfig;
use super::config_keys::to_annotated_toml;
use super::fused_adamw::{FusedAdamW, FusedAdamWConfig};
use super::lr_schedule::LrScheduler;
use super::metrics::{MetricsWriter, SamplesWriter, StepMetrics};
use super::nan_guard::NanGuard;
use super::plots::plot_metrics_file;
use super::progress::TrainProgress;
use super::prompt_sampler::PromptSampler;
use super::setup::{Models, PromptItem, build_models, load_prompts, train_problems};
use super::validation::add_validation_metrics;
use crate::generation::GenerationConfig;
use crate::model::Qwen2ForCausalLm;
use crate::model::export::{causal_lm_tensors, st_dtype, to_bytes};
use crate::reward::prm::StepScorer;
use crate::reward::verifier::Verifier;
use crate::tokenizer::Tokenizer;

/// Optimizer type of the policy.
pub type PolicyOptimizer<B> = OptimizerAdaptor<FusedAdamW, Qwen2ForCausalLm<B>, B>;

/// A training run in progress.
pub struct Trainer<B: AutodiffBackend> {
    /// The resolved configuration.
    pub config: TrainConfig,
    /// The policy being trained.
    pub policy: Qwen2ForCausalLm<B>,
    /// The frozen reference policy (only when `reference.kl_coef > 0`).
    pub reference: Option<Qwen2ForCausalLm<B::InnerBackend>>,
    /// The process reward model (only for algorithms that use step scores).
    pub prm: Option<Box<dyn StepScorer>>,
    /// The policy's tokenizer.
    pub tokenizer: Tokenizer,
    /// Rollout settings.
    pub generation: GenerationConfig,
    /// Training prompts.
    pub train_set: Vec<PromptItem>,
    /// Validation prompts.
    pub val_set: Vec<PromptItem>,
    /// The outcome verifier.
    pub verifier: Verifier,
    /// AdamW (one fused pass per parameter on the CPU backend).
    pub optimizer: PolicyOptimizer<B>,
    /// Learning-rate schedule.
    pub lr: LrScheduler,
    /// Prompt order.
    pub sampler: PromptSampler,
    /// Sampling randomness.
    pub rollout_rng: ChaCha8Rng,
    /// Randomness of the random filters.
    pub filter_rng: ChaCha8Rng,
    /// Mini-batch shuffling.
    pub update_rng: ChaCha8Rng,
    /// Consecutive non-finite updates.
    pub nan_guard: NanGuard,
    /// Completed steps.
    pub step: u64,
    /// Steps of the whole run.
    pub total_steps: u64,
    /// Run directory.
    pub out_dir: PathBuf,
    /// `metrics.jsonl`.
    pub metrics: MetricsWriter,
    /// `samples.jsonl`.
    pub samples: SamplesWriter,
    /// Progress bars.
    pub progress: TrainProgress,
    /// Checkpoint directory manager.
    pub checkpoints: CheckpointManager,
    /// The device everything runs on.
    pub device: B::Device,
}

fn adamw<B: AutodiffBackend>(config: &TrainConfig) -> PolicyOptimizer<B> {
    FusedAdamWConfig {
        beta_1: config.actor.betas[0] as f32,
        beta_2: config.actor.betas[1] as f32,
        epsilon: config.actor.adam_eps as f32,
        weight_decay: config.actor.weight_decay as f32,
    }
    .init()
}

impl<B: AutodiffBackend> Trainer<B> {
    /// Builds a run from its configuration, or continues the one in `resume`.
    pub fn new(config: TrainConfig, resume: Option<&Path>, device: B::Device) -> Result<Self> {
        let seed = config.run.seed;
        let out_dir = match resume {
            Some(dir) => run_dir_of(dir)?,
            None => new_run_dir(&config)?,
        };
        std::fs::create_dir_all(&out_dir)
            .with_context(|| format!("creating {}", out_dir.display()))?;
        // A resumed run keeps its metric and sample lines up to the checkpoint's step.
        let resumed_step = match resume {
            Some(dir) => Some(load_checkpoint(dir)?.state.step),
            None => None,
        };
        let problems = train_problems(&config)?;
        let Models {
            policy,
            reference,
            prm,
            tokenizer,
            generation,
        } = build_models::<B>(&config, &problems, &device)?;
        let (train_set, val_set) = load_prompts(&config, problems, &tokenizer)?;
        if train_set.is_empty() {
            bail!("no training prompts (data.train_files)");
        }
        let sampler = PromptSampler::new(
            train_set.len(),
            config.actor.prompts_per_step,
            seed,
            config.data.shuffle,
        )?;
        let total_steps = config.total_steps(sampler.steps_per_epoch());
        let mut trainer = Self {
            lr: LrScheduler::from_config(&config.actor, total_steps),
            optimizer: adamw::<B>(&config),
            policy,
            reference,
            prm,
            tokenizer,
            generation,
            train_set,
            val_set,
            verifier: Verifier::default(),
            sampler,
            rollout_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x726f6c6c),
            filter_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x66696c74),
            update_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x75706474),
            nan_guard: NanGuard::new(config.run.max_nan_steps_in_row),
            step: 0,
            total_steps,
            metrics: match resumed_step {
                Some(step) => MetricsWriter::resume(&out_dir.join("metrics.jsonl"), step)?,
                None => MetricsWriter::create(&out_dir.join("metrics.jsonl"))?,
            },
            samples: match resumed_step {
                Some(step) => SamplesWriter::resume(&out_dir.join("samples.jsonl"), step)?,
                None => SamplesWriter::create(&out_dir.join("samples.jsonl"))?,
            },
            progress: TrainProgress::new(total_steps, 0, config.logging.progress),
            checkpoints: CheckpointManager::new(
                out_dir.join("checkpoints"),
                config.run.keep_checkpoints,
            ),
            out_dir,
            device,
            config,
        };
        match resume {
            Some(dir) => trainer.restore(dir)?,
            None => {
                let text = to_annotated_toml(&trainer.config);
                std::fs::write(trainer.out_dir.join("config.toml"), text)?;
            }
        }
        Ok(trainer)
    }

    /// Runs every remaining step; returns the metrics of each.
    pub fn run(&mut self) -> Result<Vec<StepMetrics>> {
        let mut all = Vec::new();
        if self.config.run.eval_before_train && self.step == 0 {
            self.validate()?;
        }
        while self.step < self.total_steps {
            let mut m = self.train_step()?;
            if self.validation_due()
                && let Some(report) = self.validate()?
            {
                add_validation_metrics(&mut m, &report);
            }
            self.metrics.write(&m)?;
            let summary = format!(
                "step {} reward {:.3} kept {}/{} loss {:.4} grad_norm {:.3}",
                m.step,
                m.get("reward").unwrap_or(f64::NAN),
                m.get("prof/kept_correct").unwrap_or(0.0) as u64,
                m.get("prof/kept_incorrect").unwrap_or(0.0) as u64,
                m.get("loss").unwrap_or(f64::NAN),
                m.get("grad_norm").unwrap_or(f64::NAN),
            );
            let every = self.config.logging.print_every;
            if every > 0 && self.step.is_multiple_of(every) {
                self.progress.println(&summary);
            }
            self.progress.step_done(&summary);
            if self.config.logging.plots
                && (self
                    .step
                    .is_multiple_of(self.config.logging.plot_every.max(1))
                    || self.step == self.total_steps)
            {
                plot_metrics_file(self.metrics.path(), &self.out_dir.join("curves.png"))?;
            }
            // `save_every = 0` still writes the final checkpoint.
            let every = self.config.run.save_every;
            if self.step == self.total_steps || (every > 0 && self.step.is_multiple_of(every)) {
                self.save()?;
            }
            all.push(m);
        }
        self.progress.finish();
        Ok(all)
    }

    /// Writes a checkpoint of the current step (atomically).
    pub fn save(&self) -> Result<PathBuf> {
        let mut state = TrainState::new(
            self.step,
            self.sampler.cursor(),
            &self.config.hash_hex(),
            self.nan_guard,
        );
        state
            .rngs
            .insert("rollout".into(), self.rollout_rng.save_state());
        state
            .rngs
            .insert("filter".into(), self.filter_rng.save_state());
        state
            .rngs
            .insert("update".into(), self.update_rng.save_state());
        let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
        let policy_bytes = recorder
            .record(self.policy.clone().into_record(), ())
            .context("serialising the policy")?;
        let optim_bytes = recorder
            .record(self.optimizer.to_record(), ())
            .context("serialising the optimizer")?;
        // The Hugging Face view of the weights (loadable by transformers with config.json).
        let dtype = self.policy.model.dtype();
        let st = st_dtype(dtype)?;
        let weights: Vec<CkptTensor> = to_bytes(causal_lm_tensors(&self.policy.valid()), dtype)
            .into_iter()
            .map(|(name, shape, data)| CkptTensor {
                name,
                dtype: st,
                shape,
                data,
            })
            .collect();
        let weight_views = weights
            .iter()
            .map(CkptTensor::view)
            .collect::<Result<Vec<_>>>()?;
        let hf_config = serde_json::to_vec_pretty(&self.policy_config_json()?)?;
        let mut files: Vec<(String, &[u8])> = vec![
            ("config.json".into(), &hf_config),
            ("policy.burn".into(), &policy_bytes),
            ("optimizer.burn".into(), &optim_bytes),
        ];
        let tok_dir = tempfile::tempdir()?;
        self.tokenizer.save_to_dir(tok_dir.path())?;
        let mut tok_files = Vec::new();
        for name in ["tokenizer.json", "tokenizer_config.json"] {
            let p = tok_dir.path().join(name);
            if p.exists() {
                tok_files.push((name.to_string(), std::fs::read(p)?));
            }
        }
        for (name, bytes) in &tok_files {
            files.push((name.clone(), bytes));
        }
        let contents = CheckpointContents {
            state: &state,
            weights: weight_views,
            optimizer: Vec::new(),
            files,
        };
        self.checkpoints.save(&contents)
    }

    fn restore(&mut self, dir: &Path) -> Result<()> {
        let ckpt = load_checkpoint(dir)?;
        if ckpt.state.config_hash != self.config.hash_hex() {
            eprintln!("warning: resuming with a configuration that differs from the checkpoint's");
        }
        let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
        let policy_record = recorder
            .load(ckpt.read_file("policy.burn")?, &self.device)
            .context("reading policy.burn")?;
        self.policy = self.policy.clone().load_record(policy_record);
        let optim_record = recorder
            .load(ckpt.read_file("optimizer.burn")?, &self.device)
            .context("reading optimizer.burn")?;
        self.optimizer = adamw::<B>(&self.config).load_record(optim_record);
        self.step = ckpt.state.step;
        self.sampler = PromptSampler::resume(
            self.train_set.len(),
            self.config.actor.prompts_per_step,
            self.config.run.seed,
            self.config.data.shuffle,
            ckpt.state.cursor,
        )?;
        let rng = |name: &str| -> Result<ChaCha8Rng> {
            let s = ckpt
                .state
                .rngs
                .get(name)
                .with_context(|| format!("checkpoint has no {name} RNG state"))?;
            ChaCha8Rng::from_state(s)
        };
        self.rollout_rng = rng("rollout")?;
        self.filter_rng = rng("filter")?;
        self.update_rng = rng("update")?;
        self.nan_guard = ckpt.state.nan_guard;
        self.progress =
            TrainProgress::new(self.total_steps, self.step, self.config.logging.progress);
        Ok(())
    }

    fn policy_config_json(&self) -> Result<serde_json::Value> {
        let mut c = super::setup::policy_config(&self.config, &self.tokenizer)?;
        c.dtype = Some(crate::eval::export::torch_dtype_name(self.policy.model.dtype())?.into());
        c.architectures = Some(vec!["Qwen2ForCausalLM".into()]);
        let mut v = serde_json::to_value(&c)?;
        v["model_type"] = "qwen2".into();
        Ok(v)
    }
}

/// `runs/<name>-<timestamp>` or `run.out_dir`.
fn new_run_dir(config: &TrainConfig) -> Result<PathBuf> {
    if !config.run.out_dir.is_empty() {
        return Ok(PathBuf::from(&config.run.out_dir));
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    Ok(PathBuf::from("runs").join(format!("{}-{secs}", config.run.name)))
}

/// The run directory of a checkpoint (`<run>/checkpoints/<step>` → `<run>`), or the run itself.
fn run_dir_of(path: &Path) -> Result<PathBuf> {
    let ckpt = super::checkpoint::resolve_checkpoint(path)?;
    Ok(ckpt
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".")))
}
