//! Building a run's models and prompts from its configuration: real checkpoints (directory,
//! preset or hub id) or the built-in tiny ones of the smoke run.

use anyhow::{Context, Result, bail};
use burn::module::AutodiffModule;
use burn::tensor::DType;
use burn::tensor::backend::{AutodiffBackend, Backend};

use super::config::TrainConfig;
use super::toy::{
    BUILTIN_POLICY, BUILTIN_PRM, TOY_DATASET, toy_prompts, train_toy_prm, warmup_sft,
};
use crate::backend::{AutodiffTask, BackendKind, device_for_index, run_autodiff};
use crate::data::{LoadOptions, Problem, PromptTemplate, default_data_dir, load_dataset};
use crate::generation::{GenerationConfig, SamplingParams};
use crate::model::dtype::parse_dtype;
use crate::model::export::{NamedTensor, backbone_tensors};
use crate::model::init::RandomInit;
use crate::model::loader::random_causal_lm;
use crate::model::{Qwen2Config, Qwen2ForCausalLm, load_pretrained};
use crate::reward::prm::{PrmScorer, PrmSettings, StepScorer, Truncation};
use crate::tokenizer::Tokenizer;

/// A prompt ready for rollouts.
#[derive(Debug, Clone)]
pub struct PromptItem {
    /// The problem and its gold answer.
    pub problem: Problem,
    /// The prompt's token ids (chat template applied).
    pub ids: Vec<u32>,
}

/// The models of a run.
pub struct Models<B: AutodiffBackend> {
    /// Trainable policy.
    pub policy: Qwen2ForCausalLm<B>,
    /// Frozen reference (when `reference.kl_coef > 0`).
    pub reference: Option<Qwen2ForCausalLm<B::InnerBackend>>,
    /// PRM (when the algorithm uses step scores), on `prm.backend` / `prm.device_index`.
    pub prm: Option<Box<dyn StepScorer>>,
    /// Policy tokenizer.
    pub tokenizer: Tokenizer,
    /// Rollout settings (stop ids from the tokenizer and model).
    pub generation: GenerationConfig,
}

/// The Qwen2 shape of the built-in tiny policy (`policy.builtin.*`) for a vocabulary.
pub fn policy_config(config: &TrainConfig, tokenizer: &Tokenizer) -> Result<Qwen2Config> {
    let b = &config.policy.builtin;
    let json = serde_json::json!({
        "vocab_size": tokenizer.vocab_size(),
        "hidden_size": b.hidden_size,
        "intermediate_size": b.intermediate_size,
        "num_hidden_layers": b.num_hidden_layers,
        "num_attention_heads": b.num_attention_heads,
        "num_key_value_heads": b.num_key_value_heads,
        "max_position_embeddings": b.max_position_embeddings,
        "rope_theta": b.rope_theta,
        "rms_norm_eps": b.rms_norm_eps,
        "tie_word_embeddings": b.tie_word_embeddings,
        "eos_token_id": tokenizer.eos_token_id(),
    });
    Qwen2Config::from_json(&json.to_string())
}

/// The built-in tiny policy before any training: `policy.builtin.*`'s shape with seeded random
/// weights (`run.seed`).
pub fn builtin_policy<B: Backend>(
    config: &TrainConfig,
    tokenizer: &Tokenizer,
    dtype: DType,
    device: &B::Device,
) -> Result<Qwen2ForCausalLm<B>> {
    let shape = policy_config(config, tokenizer)?;
    let init = RandomInit {
        seed: config.run.seed,
        std: 0.02,
    };
    random_causal_lm::<B>(&shape, &init, dtype, device)
}

/// The prompt layout of `data.system_prompt`, `data.user_suffix` and `data.chat_template`.
pub fn prompt_template(config: &TrainConfig) -> PromptTemplate {
    PromptTemplate {
        system: (!config.data.system_prompt.is_empty()).then(|| config.data.system_prompt.clone()),
        suffix: config.data.user_suffix.clone(),
        use_chat_template: config.data.chat_template,
    }
}

/// Loads or builds every model of the run; `train_problems` feed the supervised warm-up.
pub fn build_models<B: AutodiffBackend>(
    config: &TrainConfig,
    train_problems: &[Problem],
    device: &B::Device,
) -> Result<Models<B>> {
    let dtype = parse_dtype(config.policy.dtype.as_str())?;
    let (mut policy, tokenizer, eos) = if config.policy.model == BUILTIN_POLICY {
        let tokenizer = Tokenizer::builtin_toy();
        let policy = builtin_policy::<B>(config, &tokenizer, dtype, device)?;
        (policy, tokenizer, Vec::new())
    } else {
        let lm = load_pretrained::<B>(&config.policy.model, dtype, device)?;
        let tok_spec = if config.policy.tokenizer.is_empty() {
            lm.dir.to_string_lossy().to_string()
        } else {
            config.policy.tokenizer.clone()
        };
        let tokenizer = Tokenizer::from_dir_or_hub(&tok_spec)
            .with_context(|| format!("loading the policy tokenizer from {tok_spec}"))?;
        (lm.model, tokenizer, lm.generation.eos_ids)
    };
    let mut stop_ids = tokenizer.stop_token_ids();
    stop_ids.extend(eos);
    stop_ids.extend(config.rollout.stop_token_ids.iter().copied());
    for s in &config.rollout.stop {
        let ids = tokenizer.encode(s)?;
        if ids.len() != 1 {
            bail!(
                "rollout.stop: {s:?} is not a single token ({} tokens); use rollout.stop_token_ids",
                ids.len()
            );
        }
        stop_ids.extend(ids);
    }
    stop_ids.sort_unstable();
    stop_ids.dedup();
    let greedy = config.rollout.temperature <= 0.0;
    let generation = GenerationConfig {
        sampling: if greedy {
            SamplingParams::greedy()
        } else {
            SamplingParams {
                temperature: config.rollout.temperature as f32,
                top_p: config.rollout.top_p as f32,
                top_k: config.rollout.top_k,
            }
        },
        max_new_tokens: config.rollout.max_response_length,
        pad_id: tokenizer
            .pad_token_id()
            .or(stop_ids.first().copied())
            .unwrap_or(0),
        stop_ids,
    };

    if config.warmup_sft.steps > 0 {
        policy = warmup_sft(policy, &tokenizer, train_problems, config, device)?.0;
    }
    let reference = config.uses_reference().then(|| policy.valid());

    let prm = if config.uses_prm() {
        // The toy PRM of a built-in policy starts from the warmed-up policy's backbone.
        let backbone = (config.policy.model == BUILTIN_POLICY && config.prm.model == BUILTIN_PRM)
            .then(|| backbone_tensors(&policy.valid().model, "model."));
        Some(build_prm::<B>(config, &tokenizer, backbone, device)?)
    } else {
        None
    };
    Ok(Models {
        policy,
        reference,
        prm,
        tokenizer,
        generation,
    })
}

/// The PRM on `prm.backend`: `same` shares the policy's backend and device, any other value
/// loads (or, for `builtin:tiny`, trains) it on that backend's device `prm.device_index`.
fn build_prm<B: AutodiffBackend>(
    config: &TrainConfig,
    tokenizer: &Tokenizer,
    backbone: Option<Vec<NamedTensor>>,
    device: &B::Device,
) -> Result<Box<dyn StepScorer>> {
    let kind = match config.prm.backend.as_str() {
        "same" => return prm_on::<B>(config, tokenizer, backbone, device),
        other => other.parse::<BackendKind>()?,
    };
    struct OnBackend<'a> {
        config: &'a TrainConfig,
        tokenizer: &'a Tokenizer,
        backbone: Option<Vec<NamedTensor>>,
    }
    impl AutodiffTask for OnBackend<'_> {
        type Output = Box<dyn StepScorer>;
        fn run<P: AutodiffBackend>(self, device: P::Device) -> Result<Self::Output> {
            prm_on::<P>(self.config, self.tokenizer, self.backbone, &device)
        }
    }
    let spec = device_for_index(kind, config.prm.device_index);
    let task = OnBackend {
        config,
        tokenizer,
        backbone,
    };
    run_autodiff(kind, &spec, task).with_context(|| {
        format!(
            "prm.backend = {:?}, prm.device_index = {}",
            config.prm.backend.as_str(),
            config.prm.device_index
        )
    })
}

/// The PRM on autodiff backend `B`'s inner backend (the toy PRM trains on `B` first).
fn prm_on<B: AutodiffBackend>(
    config: &TrainConfig,
    tokenizer: &Tokenizer,
    backbone: Option<Vec<NamedTensor>>,
    device: &B::Device,
) -> Result<Box<dyn StepScorer>> {
    let settings = PrmSettings {
        batch_size: config.prm.batch_size,
        max_length: config.prm.max_length,
        truncation: match config.prm.truncation.as_str() {
            "reject" => Truncation::Reject,
            _ => Truncation::Left,
        },
    };
    let scorer = if config.prm.model == BUILTIN_PRM {
        let prm = train_toy_prm::<B>(config, tokenizer, backbone, device)?;
        PrmScorer::new(prm.valid(), tokenizer.clone(), settings)?
    } else {
        let dtype = parse_dtype(config.prm.dtype.as_str())?;
        PrmScorer::<B::InnerBackend>::load(&config.prm.model, dtype, settings, device)?
    };
    Ok(Box::new(scorer))
}

/// The problems of `data.train_files` (the generated toy set for `builtin:arithmetic`).
pub fn train_problems(config: &TrainConfig) -> Result<Vec<Problem>> {
    let mut out = Vec::new();
    for name in &config.data.train_files {
        if name == TOY_DATASET {
            out.extend(toy_prompts(config.run.seed));
        } else {
            let set = load_dataset(
                name,
                &default_data_dir(),
                &LoadOptions {
                    skip_bad_rows: config.data.skip_bad_rows,
                    limit: None,
                },
            )?;
            out.extend(set.problems);
        }
    }
    Ok(out)
}

fn encode_all(
    config: &TrainConfig,
    tokenizer: &Tokenizer,
    problems: Vec<Problem>,
) -> Result<Vec<PromptItem>> {
    let template = prompt_template(config);
    let mut out = Vec::with_capacity(problems.len());
    let mut too_long = 0usize;
    for problem in problems {
        let ids = template.encode(&problem, tokenizer)?;
        if config.data.max_prompt_length > 0 && ids.len() > config.data.max_prompt_length {
            too_long += 1;
            continue;
        }
        out.push(PromptItem { problem, ids });
    }
    if too_long > 0 {
        eprintln!("data: {too_long} prompts longer than data.max_prompt_length were dropped");
    }
    Ok(out)
}

/// Training prompts (from `train_problems`) and validation prompts, tokenised.
pub fn load_prompts(
    config: &TrainConfig,
    train_problems: Vec<Problem>,
    tokenizer: &Tokenizer,
) -> Result<(Vec<PromptItem>, Vec<PromptItem>)> {
    let train = encode_all(config, tokenizer, train_problems)?;
    let mut val = Vec::new();
    for name in &config.data.val_files {
        let problems = if name == TOY_DATASET {
            toy_prompts(config.run.seed ^ 0x76616c)
        } else {
            load_dataset(
                name,
                &default_data_dir(),
                &LoadOptions {
                    skip_bad_rows: config.data.skip_bad_rows,
                    limit: None,
                },
            )?
            .problems
        };
        val.extend(encode_all(config, tokenizer, problems)?);
    }
    Ok((train, val))
}
