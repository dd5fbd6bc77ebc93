//! `prof-grpo prm-score`: step probabilities from the process reward model.

use anyhow::{Result, bail};
use burn::tensor::backend::Backend;

use super::model_args::{ModelArgs, parse_ids};
use crate::backend::{BackendTask, run_inference};
use crate::model::Qwen2Config;
use crate::model::hub::resolve_model_dir;
use crate::reward::prm::{
    Padding, PrmScorer, PrmSettings, ProcessRewardModel, Truncation, score_ids, split_steps,
};

/// Arguments of `prof-grpo prm-score`.
#[derive(clap::Args, Debug)]
pub struct PrmScoreArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The problem statement.
    #[arg(long, requires = "response", conflicts_with = "ids")]
    question: Option<String>,
    /// The response whose steps (separated by blank lines) are scored.
    #[arg(long, requires = "question")]
    response: Option<String>,
    /// Raw input ids instead of a question/response (needs no tokenizer files).
    #[arg(long, requires = "step_token_id")]
    ids: Option<String>,
    /// Id of the step separator for `--ids`.
    #[arg(long)]
    step_token_id: Option<u32>,
    /// Longest PRM input in tokens; longer inputs lose whole leading steps.
    #[arg(long, default_value_t = 4096)]
    max_length: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

enum Output {
    Raw(Vec<f32>),
    Steps(Vec<String>, crate::reward::prm::CompletionSteps),
}

struct Task(PrmScoreArgs);

impl BackendTask for Task {
    type Output = Output;
    fn run<B: Backend>(self, device: B::Device) -> Result<Output> {
        let args = self.0;
        let dtype = args.model.dtype()?;
        if let Some(ids) = &args.ids {
            let ids = parse_ids(ids)?;
            let dir = resolve_model_dir(&args.model.model)?;
            let config = Qwen2Config::from_file(&dir.join("config.json"))?;
            if let Some(bad) = ids.iter().find(|&&t| t as usize >= config.vocab_size) {
                bail!(
                    "--ids: token id {bad} is outside the vocabulary (size {})",
                    config.vocab_size
                );
            }
            let prm = ProcessRewardModel::<B>::load(&dir, &config, dtype, &device)?;
            let step = args.step_token_id.expect("clap requires it");
            let scores = score_ids(&prm, &[ids], step, 1, Padding::Right, 0);
            return Ok(Output::Raw(
                scores.into_iter().next().expect("one row").step_probs,
            ));
        }
        let (Some(q), Some(r)) = (&args.question, &args.response) else {
            bail!("give --question and --response, or --ids with --step-token-id");
        };
        let settings = PrmSettings {
            batch_size: 1,
            max_length: args.max_length,
            truncation: Truncation::Left,
        };
        let scorer = PrmScorer::<B>::load(&args.model.model, dtype, settings, &device)?;
        let scores = scorer.score(&[(q.as_str(), r.as_str())])?;
        Ok(Output::Steps(
            split_steps(r),
            scores.into_iter().next().expect("one"),
        ))
    }
}

/// Runs the command.
pub fn run(args: PrmScoreArgs) -> Result<()> {
    let json = args.json;
    let (backend, device) = (args.model.backend, args.model.device.clone());
    match run_inference(backend, &device, Task(args))? {
        Output::Raw(probs) => {
            if json {
                println!("{}", serde_json::json!({ "step_probs": probs }));
            } else {
                for (i, p) in probs.iter().enumerate() {
                    println!("step {:>3}  {p:.4}", i + 1);
                }
            }
        }
        Output::Steps(steps, scores) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "steps": steps,
                        "step_probs": scores.step_probs,
                        "num_steps": scores.num_steps,
                        "dropped_steps": scores.dropped_steps,
                        "skipped": scores.skipped,
                    })
                );
            } else {
                if let Some(why) = &scores.skipped {
                    println!("no scores: {why}");
                }
                let offset = scores.dropped_steps;
                for (i, step) in steps.iter().enumerate() {
                    let p = i.checked_sub(offset).and_then(|j| scores.step_probs.get(j));
                    let shown = p.map_or("  -   ".to_string(), |p| format!("{p:.4}"));
                    let line = step.lines().next().unwrap_or("");
                    println!("step {:>3}  {shown}  {line}", i + 1);
                }
            }
        }
    }
    Ok(())
}
