//! The training configuration: one TOML file with a section per concern, every key documented
//! and defaulted in one place (the section declarations below), which also feeds
//! [`keys_help`](crate::train::config_keys::keys_help), the unknown-key suggestions and the
//! annotated TOML written into each run directory.
//!
//! `TrainConfig::default()` is the paper's PROF-GRPO setup (Qwen2.5-Math-1.5B policy,
//! Qwen2.5-Math-PRM-7B, n = 8, k = 4); [`TrainConfig::smoke`] is the built-in CPU smoke run.
//! Loading, `--set` overrides and validation live in [`crate::train::config_load`].

use serde::{Deserialize, Serialize};

/// Documentation of one key of a section: its name, its doc text and, for a nested section, the
/// keys of that section.
#[derive(Debug, Clone, Copy)]
pub struct FieldDoc {
    /// Key name inside its section.
    pub name: &'static str,
    /// The key's doc comment as the compiler hands it over (leading space kept; [`KeyInfo`](crate::train::config_keys::KeyInfo) trims it).
    pub doc: &'static str,
    /// The keys of the nested section, when this key is a section.
    pub section: Option<fn() -> &'static [FieldDoc]>,
}

/// A configuration section: a struct whose keys are documented by [`FieldDoc`]s.
pub trait ConfigSection {
    /// The section's keys in declaration order.
    fn field_docs() -> &'static [FieldDoc];
}

/// Declares a documented config section: the struct (serde, defaults, `deny_unknown_fields`), its
/// `Default` impl and its [`ConfigSection`] key table, from one list of `/// doc` + `name: Type = default`
/// (one doc line per key, so the help text and the generated TOML stay in step with the code).
/// Nested sections come after `sections` and take their type's default.
macro_rules! config_section {
    (
        $(#[doc = $sdoc:literal])*
        pub struct $name:ident {
            $(
                #[doc = $doc:literal]
                pub $field:ident : $ty:ty = $default:expr,
            )*
        }
        $(sections {
            $(
                #[doc = $subdoc:literal]
                pub $sub:ident : $subty:ty,
            )*
        })?
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $(
                #[doc = $doc]
                pub $field: $ty,
            )*
            $($(
                #[doc = $subdoc]
                pub $sub: $subty,
            )*)?
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    $($field: $default,)*
                    $($($sub: <$subty>::default(),)*)?
                }
            }
        }

        impl ConfigSection for $name {
            fn field_docs() -> &'static [FieldDoc] {
                &[
                    $(FieldDoc { name: stringify!($field), doc: $doc, section: None },)*
                    $($(FieldDoc {
                        name: stringify!($sub),
                        doc: $subdoc,
                        section: Some(<$subty as ConfigSection>::field_docs),
                    },)*)?
                ]
            }
        }
    };
}

/// Declares a config enum written in snake_case in TOML, with its list of names for the help text.
macro_rules! config_enum {
    (
        $(#[doc = $edoc:literal])*
        pub enum $name:ident { $( #[doc = $vdoc:literal] $(#[serde(alias = $alias:literal)])? $variant:ident = $text:literal, )* }
    ) => {
        $(#[doc = $edoc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(
                #[doc = $vdoc]
                #[serde(rename = $text $(, alias = $alias)?)]
                $variant,
            )*
        }

        impl $name {
            /// Every accepted spelling, as written in TOML.
            pub const NAMES: &'static [&'static str] = &[$($text),*];

            /// The TOML spelling of this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

config_enum! {
    /// Compute backend of the policy (and of the PRM and reference unless they say otherwise).
    pub enum Backend {
        /// Burn's CPU backend.
        Flex = "flex",
        /// Vulkan / Metal / DX12 through wgpu (cargo feature `wgpu`).
        Wgpu = "wgpu",
        /// NVIDIA CUDA (cargo feature `cuda`).
        Cuda = "cuda",
    }
}

config_enum! {
    /// Backend of the process reward model.
    pub enum PrmBackend {
        /// The same backend and device as the policy.
        Same = "same",
        /// Burn's CPU backend.
        Flex = "flex",
        /// wgpu.
        Wgpu = "wgpu",
        /// CUDA.
        Cuda = "cuda",
    }
}

config_enum! {
    /// Floating-point type of a model's parameters.
    pub enum DType {
        /// 32-bit float.
        F32 = "f32",
        /// bfloat16.
        Bf16 = "bf16",
        /// IEEE half precision.
        F16 = "f16",
    }
}

config_enum! {
    /// Estimator of the per-token KL divergence to the reference policy.
    pub enum KlEstimator {
        /// `log π − log π_ref`.
        #[serde(alias = "kl")]
        K1 = "k1",
        /// `½ (log π − log π_ref)²`.
        #[serde(alias = "mse")]
        K2 = "k2",
        /// `exp(log π_ref − log π) − (log π_ref − log π) − 1` (verl's `low_var_kl`).
        #[serde(alias = "low_var_kl")]
        K3 = "k3",
    }
}

config_enum! {
    /// What happens to a PRM input longer than `prm.max_length`.
    pub enum PrmTruncation {
        /// Drop whole steps from the left of the response until it fits.
        Left = "left",
        /// Give the completion no step scores at all.
        Reject = "reject",
    }
}

config_enum! {
    /// Reduction of a completion's step probabilities to one process score.
    pub enum PrmAggregation {
        /// Mean over steps.
        Mean = "mean",
        /// Minimum over steps.
        Min = "min",
        /// Sum over steps.
        Sum = "sum",
        /// The last step's probability.
        Last = "last",
    }
}

config_enum! {
    /// Treatment of completions cut at `rollout.max_response_length`.
    pub enum TruncatedCompletions {
        /// Score them like any other completion.
        Keep = "keep",
        /// Give them outcome reward 0.
        Zero = "zero",
        /// Exclude them from the loss (they still count in the group statistics).
        Mask = "mask",
    }
}

config_enum! {
    /// The RL algorithm: which filter or reward shaping runs between rewards and advantages.
    pub enum Algorithm {
        /// Plain GRPO, no filter.
        Grpo = "grpo",
        /// PROF Filter-Both: consistency ranking inside the correct and the incorrect completions.
        Prof = "prof",
        /// PROF Filter-Correct: consistency ranking for correct ones, random drop for incorrect ones.
        ProfCorrect = "prof_correct",
        /// PROF without separation: rank the whole group by consistency.
        ProfJoint = "prof_joint",
        /// Drop k completions per group uniformly at random (control).
        RandomFilter = "random_filter",
        /// No filter; reward = outcome + blend_beta × mean step probability.
        Blend = "blend",
    }
}

config_enum! {
    /// Normalisation of advantages.
    pub enum ScaleRewards {
        /// Divide by the group's standard deviation.
        Group = "group",
        /// Divide by the standard deviation over the whole batch.
        Batch = "batch",
        /// Only subtract the group mean (Dr. GRPO).
        None = "none",
    }
}

config_enum! {
    /// Learning-rate schedule after the linear warm-up.
    pub enum LrSchedule {
        /// Constant learning rate.
        Constant = "constant",
        /// Cosine decay from `lr` to `lr × min_lr_ratio`.
        WarmupCosine = "warmup_cosine",
    }
}

config_enum! {
    /// Aggregation of per-token losses into the loss of a mini-batch.
    pub enum LossAgg {
        /// Mean over all tokens of the micro-batch.
        TokenMean = "token_mean",
        /// Mean over sequences of each sequence's token mean.
        SeqMeanTokenMean = "seq_mean_token_mean",
        /// Mean over sequences of each sequence's token sum divided by the max response length (Dr. GRPO).
        SeqMeanTokenSumNorm = "seq_mean_token_sum_norm",
        /// Token sum divided by the number of tokens of the whole mini-batch (DAPO).
        DapoGlobalTokenMean = "dapo_global_token_mean",
    }
}

fn s(text: &str) -> String {
    text.to_string()
}

/// The Qwen2.5-Math system prompt used by the reference.
pub const QWEN_MATH_SYSTEM_PROMPT: &str =
    "Please reason step by step, and put your final answer within \\boxed{}.";

config_section! {
    /// The whole training configuration.
    pub struct TrainConfig {}
    sections {
        /// Run-level settings: naming, seed, backend, length of the run and schedules.
        pub run: RunConfig,
        /// The trained policy.
        pub policy: PolicyConfig,
        /// The frozen reference policy of the KL penalty.
        pub reference: ReferenceConfig,
        /// The process reward model scoring each step of a completion.
        pub prm: PrmConfig,
        /// Training and validation prompts.
        pub data: DataConfig,
        /// Sampling of completions from the policy.
        pub rollout: RolloutConfig,
        /// The RL algorithm: filter, reward shaping and advantages.
        pub algorithm: AlgorithmConfig,
        /// The policy update: optimiser, batch sizes and the clipped loss.
        pub actor: ActorConfig,
        /// Evaluation on `data.val_files`.
        pub eval: EvalConfig,
        /// Optional supervised warm-up on reference solutions before RL.
        pub warmup_sft: WarmupSftConfig,
        /// Console output and plots.
        pub logging: LoggingConfig,
    }
}

config_section! {
    /// Run-level settings.
    pub struct RunConfig {
        /// Run name; the default output directory is `runs/<name>-<timestamp>`.
        pub name: String = s("prof-grpo"),
        /// Master seed of data order, sampling, filters and random init.
        pub seed: u64 = 42,
        /// Output directory; empty means `runs/<name>-<timestamp>` (`--out` overrides it).
        pub out_dir: String = String::new(),
        /// Compute backend: flex (CPU), wgpu or cuda (GPU ones need the cargo feature of that name).
        pub backend: Backend = Backend::Flex,
        /// Index of the accelerator used by wgpu or cuda.
        pub device_index: usize = 0,
        /// Policy updates to run; 0 means `total_epochs` passes over the training prompts.
        pub total_steps: u64 = 0,
        /// Passes over the training prompts when `total_steps` is 0.
        pub total_epochs: u64 = 1,
        /// Steps between checkpoints; 0 means only the final checkpoint.
        pub save_every: u64 = 20,
        /// Newest checkpoints kept on disk; 0 keeps all.
        pub keep_checkpoints: usize = 3,
        /// Steps between evaluations on `data.val_files`; 0 means never.
        pub eval_every: u64 = 20,
        /// Evaluate once before the first step.
        pub eval_before_train: bool = true,
        /// Steps between dumps of completions to samples.jsonl; 0 means never.
        pub samples_every: u64 = 1,
        /// Completions written per dumped step (whole groups, in batch order); 0 writes all.
        pub samples_per_step: usize = 16,
        /// Consecutive steps with a non-finite loss or gradient norm (each skipped) that stop the run; 0 never stops.
        pub max_nan_steps_in_row: u32 = 3,
    }
}

config_section! {
    /// The trained policy.
    pub struct PolicyConfig {
        /// Policy weights: a local Hugging Face directory, a hub id, or `builtin:tiny` (random init, built-in tokenizer).
        pub model: String = s("Qwen/Qwen2.5-Math-1.5B"),
        /// Tokenizer directory or hub id; empty means the policy's own.
        pub tokenizer: String = String::new(),
        /// Parameter dtype of the trained policy: f32, bf16 or f16.
        pub dtype: DType = DType::F32,
    }
    sections {
        /// Sizes of the `builtin:*` policy (a Qwen2-architecture model initialised at random).
        pub builtin: BuiltinModelConfig,
    }
}

config_section! {
    /// Sizes of a built-in Qwen2-architecture model (names as in a Hugging Face `config.json`); the vocabulary size comes from the built-in tokenizer.
    pub struct BuiltinModelConfig {
        /// Width of the residual stream.
        pub hidden_size: usize = 64,
        /// Width of the MLP.
        pub intermediate_size: usize = 192,
        /// Number of decoder layers.
        pub num_hidden_layers: usize = 2,
        /// Number of query heads.
        pub num_attention_heads: usize = 4,
        /// Number of key/value heads (grouped-query attention).
        pub num_key_value_heads: usize = 2,
        /// Longest sequence (prompt + response) in tokens.
        pub max_position_embeddings: usize = 256,
        /// RoPE base frequency.
        pub rope_theta: f64 = 10000.0,
        /// Epsilon of the RMS norms.
        pub rms_norm_eps: f64 = 1e-6,
        /// Share the embedding matrix with the LM head.
        pub tie_word_embeddings: bool = true,
    }
}

config_section! {
    /// The frozen reference policy of the KL penalty.
    pub struct ReferenceConfig {
        /// Coefficient of the KL penalty in the loss; 0 means no reference model is loaded at all.
        pub kl_coef: f64 = 0.001,
        /// KL estimator: k1, k2 or k3 (verl's `low_var_kl`; aliases kl, mse, low_var_kl).
        pub kl_estimator: KlEstimator = KlEstimator::K3,
        /// Per-token KL values are clamped to [-kl_clamp, kl_clamp]; 0 means no clamp.
        pub kl_clamp: f64 = 10.0,
        /// Reference weights; empty means the policy's initial weights.
        pub model: String = String::new(),
        /// Parameter dtype of the reference model: f32, bf16 or f16.
        pub dtype: DType = DType::F32,
    }
}

config_section! {
    /// The process reward model.
    pub struct PrmConfig {
        /// PRM weights: a local directory, a hub id or `builtin:tiny`; used by prof, prof_correct, prof_joint and blend.
        pub model: String = s("Qwen/Qwen2.5-Math-PRM-7B"),
        /// PRM tokenizer directory or hub id; empty means the PRM's own.
        pub tokenizer: String = String::new(),
        /// Parameter dtype of the PRM: f32, bf16 or f16.
        pub dtype: DType = DType::F32,
        /// Where the PRM runs: same (the policy's backend and device), flex, wgpu or cuda.
        pub backend: PrmBackend = PrmBackend::Same,
        /// Accelerator index of the PRM when its backend is wgpu or cuda (not same).
        pub device_index: usize = 0,
        /// Completions scored per PRM forward pass.
        pub batch_size: usize = 32,
        /// Longest PRM input in tokens (formatted prompt and response).
        pub max_length: usize = 4096,
        /// Over-long PRM inputs: left (drop steps from the left of the response) or reject (no step scores).
        pub truncation: PrmTruncation = PrmTruncation::Left,
        /// Reduction of step probabilities to one process score (blend bonus, logs): mean, min, sum or last.
        pub aggregation: PrmAggregation = PrmAggregation::Mean,
    }
}

config_section! {
    /// Training and validation prompts.
    pub struct DataConfig {
        /// Training files (JSONL or Parquet, or `builtin:arithmetic` for the toy task).
        pub train_files: Vec<String> = Vec::new(),
        /// Validation files for evaluation; empty means no evaluation.
        pub val_files: Vec<String> = Vec::new(),
        /// Field holding the problem; empty means the dataset's known schema decides.
        pub prompt_key: String = String::new(),
        /// Field holding the gold answer; empty means the dataset's known schema decides.
        pub answer_key: String = String::new(),
        /// System message of the chat prompt; empty means none.
        pub system_prompt: String = s(QWEN_MATH_SYSTEM_PROMPT),
        /// Text appended to the problem in the user message.
        pub user_suffix: String = s(" Let's think step by step and output the final answer within \\boxed{}."),
        /// Render prompts through the tokenizer's chat template (false: system, problem and suffix as plain text).
        pub chat_template: bool = true,
        /// Longest prompt in tokens.
        pub max_prompt_length: usize = 1024,
        /// Skip (and count) rows with missing fields or over-long prompts; false makes them errors.
        pub skip_bad_rows: bool = true,
        /// Shuffle the prompts every epoch (seeded by run.seed).
        pub shuffle: bool = true,
    }
}

config_section! {
    /// Sampling of completions.
    pub struct RolloutConfig {
        /// Completions sampled per prompt (the group size).
        pub n: usize = 8,
        /// Sampling temperature.
        pub temperature: f64 = 1.0,
        /// Nucleus sampling mass; 1 means off.
        pub top_p: f64 = 1.0,
        /// Sample among the k most likely tokens; 0 means off.
        pub top_k: usize = 0,
        /// Longest completion in tokens.
        pub max_response_length: usize = 3072,
        /// Extra stop strings (the end-of-sequence token always stops).
        pub stop: Vec<String> = Vec::new(),
        /// Extra stop token ids.
        pub stop_token_ids: Vec<u32> = Vec::new(),
        /// Completions cut at max_response_length: keep (scored as they are), zero (reward 0) or mask (no loss).
        pub truncated: TruncatedCompletions = TruncatedCompletions::Keep,
        /// Sequences decoded together; 0 means all completions of a step at once.
        pub max_batch_size: usize = 0,
    }
}

config_section! {
    /// The RL algorithm.
    pub struct AlgorithmConfig {
        /// grpo, prof (Filter-Both), prof_correct (Filter-Correct), prof_joint (no separation), random_filter or blend.
        pub name: Algorithm = Algorithm::Prof,
        /// Completions removed per group by the filters (k of n).
        pub prof_remove: usize = 4,
        /// Completions with fewer steps get their consistency score lowered by step_penalty.
        pub min_steps: usize = 2,
        /// Completions with more steps get their consistency score lowered by step_penalty.
        pub max_steps: usize = 30,
        /// Penalty on the consistency score outside [min_steps, max_steps].
        pub step_penalty: f64 = 10.0,
        /// blend only: reward = outcome + blend_beta × mean step probability.
        pub blend_beta: f64 = 0.8,
        /// Drop groups whose kept rewards all equal (they carry no advantage).
        pub dynamic_sampling: bool = false,
        /// Advantage scale: group (divide by the group std), batch (by the batch std) or none.
        pub scale_rewards: ScaleRewards = ScaleRewards::Group,
        /// Added to the standard deviation before dividing.
        pub adv_epsilon: f64 = 1e-6,
    }
}

config_section! {
    /// The policy update.
    pub struct ActorConfig {
        /// Peak learning rate of AdamW.
        pub lr: f64 = 1e-6,
        /// Schedule after warm-up: constant or warmup_cosine.
        pub lr_schedule: LrSchedule = LrSchedule::Constant,
        /// Optimizer steps of linear warm-up from lr/warmup_steps to lr; 0 means none.
        pub warmup_steps: u64 = 0,
        /// warmup_cosine decays to lr × min_lr_ratio.
        pub min_lr_ratio: f64 = 0.0,
        /// AdamW decoupled weight decay.
        pub weight_decay: f64 = 0.01,
        /// AdamW β1 and β2.
        pub betas: [f64; 2] = [0.9, 0.999],
        /// AdamW epsilon.
        pub adam_eps: f64 = 1e-8,
        /// Clip the global gradient norm to this value; 0 means no clipping.
        pub grad_clip: f64 = 1.0,
        /// Passes (μ) over the kept completions of a step.
        pub ppo_epochs: usize = 1,
        /// Prompts sampled per step (each gives rollout.n completions).
        pub prompts_per_step: usize = 1024,
        /// Prompts whose kept completions form one optimizer step (a mini-batch).
        pub mini_batch_prompts: usize = 256,
        /// Completions per forward/backward pass (gradients accumulate over a mini-batch).
        pub micro_batch_size: usize = 8,
        /// Keep only each decoder layer's input in the forward pass and recompute the layer in the backward pass: one layer's activations in memory instead of all, for about a third more compute.
        pub gradient_checkpointing: bool = false,
        /// Lower PPO clip: the ratio is kept above 1 − clip_low.
        pub clip_low: f64 = 0.2,
        /// Upper PPO clip: the ratio is kept below 1 + clip_high (0.28 in DAPO's clip-higher).
        pub clip_high: f64 = 0.2,
        /// Dual-clip bound c for negative advantages; 0 means off.
        pub dual_clip: f64 = 3.0,
        /// Coefficient of the entropy bonus.
        pub entropy_coef: f64 = 0.001,
        /// token_mean, seq_mean_token_mean, seq_mean_token_sum_norm (Dr. GRPO) or dapo_global_token_mean.
        pub loss_agg: LossAgg = LossAgg::TokenMean,
    }
}

config_section! {
    /// Evaluation.
    pub struct EvalConfig {
        /// Greedy decoding (otherwise temperature and top_p below).
        pub greedy: bool = true,
        /// Sampling temperature when not greedy.
        pub temperature: f64 = 1.0,
        /// Nucleus mass when not greedy.
        pub top_p: f64 = 1.0,
        /// Completions per problem (reported as avg@n).
        pub n: usize = 1,
        /// Longest completion in tokens.
        pub max_new_tokens: usize = 3072,
        /// Problems evaluated per file; 0 means all.
        pub limit: usize = 0,
    }
}

config_section! {
    /// Supervised warm-up.
    pub struct WarmupSftConfig {
        /// Supervised steps on reference solutions before RL; 0 means none.
        pub steps: u64 = 0,
        /// Learning rate of the supervised steps (constant).
        pub lr: f64 = 1e-4,
        /// Examples per supervised step.
        pub batch_size: usize = 16,
        /// Toy problems only: fraction of supervised examples showing a flawed solution (slip, compensated slip, no final answer).
        pub flawed_fraction: f64 = 0.0,
    }
}

config_section! {
    /// Console output and plots.
    pub struct LoggingConfig {
        /// Progress bars on an interactive terminal.
        pub progress: bool = true,
        /// Steps between one-line metric summaries on stderr; 0 means never.
        pub print_every: u64 = 1,
        /// Write PNG plots of the main curves into the run directory.
        pub plots: bool = true,
        /// Steps between plot refreshes (plots are also drawn at the end).
        pub plot_every: u64 = 10,
    }
}

/// The built-in smoke configuration (`configs/smoke.toml`), embedded in the binary.
pub const SMOKE_TOML: &str = include_str!("../../configs/smoke.toml");

impl TrainConfig {
    /// The built-in CPU smoke run: `configs/smoke.toml` as embedded at build time.
    pub fn smoke() -> Self {
        crate::train::config_load::load_from_str(SMOKE_TOML, "configs/smoke.toml", &[])
            .expect("the embedded configs/smoke.toml is valid (checked by a test)")
    }

    /// Whether the algorithm needs PRM step scores.
    pub fn uses_prm(&self) -> bool {
        matches!(
            self.algorithm.name,
            Algorithm::Prof | Algorithm::ProfCorrect | Algorithm::ProfJoint | Algorithm::Blend
        )
    }

    /// Whether a frozen reference model is needed (`reference.kl_coef > 0`).
    pub fn uses_reference(&self) -> bool {
        self.reference.kl_coef > 0.0
    }

    /// Number of optimizer steps of a run: `run.total_steps`, or `run.total_epochs` ×
    /// `steps_per_epoch` when that is 0.
    pub fn total_steps(&self, steps_per_epoch: u64) -> u64 {
        if self.run.total_steps > 0 {
            self.run.total_steps
        } else {
            self.run.total_epochs * steps_per_epoch
        }
    }
}
