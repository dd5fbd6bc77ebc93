//! `prof-grpo generate`: sample completions from a model, from raw ids or a chat prompt.

use anyhow::{Result, bail};
use burn::tensor::backend::Backend;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::model_args::{ModelArgs, parse_ids};
use crate::backend::{BackendTask, run_inference};
use crate::generation::{Completion, GenerationConfig, SamplingParams, generate};
use crate::model::load_pretrained;

/// Arguments of `prof-grpo generate`.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Comma-separated prompt ids (needs no tokenizer files).
    #[arg(long, conflicts_with = "prompt", required_unless_present = "prompt")]
    ids: Option<String>,
    /// A user message, rendered with the model's chat template (needs tokenizer files).
    #[arg(long)]
    prompt: Option<String>,
    /// Optional system message for `--prompt`.
    #[arg(long)]
    system: Option<String>,
    /// Most new tokens per completion.
    #[arg(long, default_value_t = 256)]
    max_new_tokens: usize,
    /// Temperature; 0 is greedy.
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Nucleus sampling mass.
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    /// Keep only the k most likely tokens (0 = all).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Number of completions.
    #[arg(long, default_value_t = 1)]
    n: usize,
    /// Extra stop ids besides the model's eos ids (comma-separated).
    #[arg(long)]
    stop_ids: Option<String>,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

struct Task {
    args: GenerateArgs,
}

/// The prompt ids and, for text prompts, a way back from ids to text.
struct Prompt {
    ids: Vec<u32>,
    tokenizer: Option<crate::tokenizer::Tokenizer>,
}

impl BackendTask for Task {
    type Output = (Vec<Completion>, Option<crate::tokenizer::Tokenizer>);
    fn run<B: Backend>(self, device: B::Device) -> Result<Self::Output> {
        let args = self.args;
        let lm = load_pretrained::<B>(&args.model.model, args.model.dtype()?, &device)?;
        let prompt = match (&args.ids, &args.prompt) {
            (Some(ids), _) => Prompt {
                ids: parse_ids(ids)?,
                tokenizer: None,
            },
            (None, Some(text)) => {
                let tok = crate::tokenizer::Tokenizer::from_dir(&lm.dir)?;
                let mut messages = Vec::new();
                if let Some(system) = &args.system {
                    messages.push(crate::tokenizer::ChatMessage::system(system));
                }
                messages.push(crate::tokenizer::ChatMessage::user(text));
                let ids = tok.encode(&tok.apply_chat_template(&messages, true)?)?;
                Prompt {
                    ids,
                    tokenizer: Some(tok),
                }
            }
            (None, None) => bail!("give --ids or --prompt"),
        };
        if prompt.ids.is_empty() {
            bail!("the prompt is empty");
        }
        let vocab = lm.config.vocab_size;
        if let Some(bad) = prompt.ids.iter().find(|&&t| t as usize >= vocab) {
            bail!("--ids: token id {bad} is outside the vocabulary (size {vocab})");
        }
        let mut stop_ids = lm.generation.eos_ids.clone();
        if let Some(tok) = &prompt.tokenizer {
            stop_ids.extend(tok.stop_token_ids());
        }
        if let Some(extra) = &args.stop_ids {
            stop_ids.extend(parse_ids(extra)?);
        }
        stop_ids.sort_unstable();
        stop_ids.dedup();
        let config = GenerationConfig {
            sampling: SamplingParams {
                temperature: args.temperature,
                top_p: args.top_p,
                top_k: args.top_k,
            },
            max_new_tokens: args.max_new_tokens,
            pad_id: lm
                .generation
                .pad_id
                .or(stop_ids.first().copied())
                .unwrap_or(0),
            stop_ids,
        };
        let prompts = vec![prompt.ids; args.n.max(1)];
        let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
        let completions = generate(&lm.model, &prompts, &config, &mut rng, |_| {});
        Ok((completions, prompt.tokenizer))
    }
}

/// Runs the command.
pub fn run(args: GenerateArgs) -> Result<()> {
    let json = args.json;
    let (backend, device) = (args.model.backend, args.model.device.clone());
    let (completions, tokenizer) = run_inference(backend, &device, Task { args })?;
    let text = |c: &Completion| -> Result<Option<String>> {
        tokenizer
            .as_ref()
            .map(|t| t.decode(&c.ids, true))
            .transpose()
    };
    if json {
        if completions.len() == 1 {
            let c = &completions[0];
            let mut out = serde_json::json!({
                "ids": c.ids, "logprobs": c.logprobs, "finish_reason": c.finish,
            });
            if let Some(t) = text(c)? {
                out["text"] = t.into();
            }
            println!("{out}");
        } else {
            let mut items = Vec::new();
            for c in &completions {
                let mut item = serde_json::json!({
                    "ids": c.ids, "logprobs": c.logprobs, "finish_reason": c.finish,
                });
                if let Some(t) = text(c)? {
                    item["text"] = t.into();
                }
                items.push(item);
            }
            println!("{}", serde_json::json!({ "completions": items }));
        }
    } else {
        for (i, c) in completions.iter().enumerate() {
            if completions.len() > 1 {
                println!(
                    "--- completion {} ({:?}, {} tokens)",
                    i + 1,
                    c.finish,
                    c.ids.len()
                );
            }
            match text(c)? {
                Some(t) => println!("{t}"),
                None => println!("{:?}", c.ids),
            }
        }
    }
    Ok(())
}
