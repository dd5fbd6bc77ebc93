//! `prof-grpo curate`: the PROF filter as a stand-alone data-curation tool for JSONL rollouts.
//!
//! Each input line is one completion `{"group": ..., "reward": 0|1, "step_probs": [...]}` plus
//! any other fields, which are kept as they are and in order. The consistency scores use μ, the
//! mean of all step probabilities of the whole input. Every line is written back with `"score"`,
//! `"kept"` and `"reason"` added. With `--prm`, `"step_probs"` is computed from `"question"` and
//! `"response"` by that process reward model, batched (and written out too, with
//! `"prm_skipped"` giving the reason when a response has no scores).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use burn::tensor::backend::Backend;

use crate::backend::{BackendKind, BackendTask, default_dtype, run_inference};
use crate::model::dtype::parse_dtype;
use crate::reward::prm::{PrmScorer, PrmSettings, StepScorer, Truncation};
use crate::rl::filter::{Algorithm, FilterConfig, filter_batch};
use crate::rl::group::Completion;

/// Filters that rank or sample completions (the ones meaningful for curation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum CurateAlgorithm {
    /// Filter-Both: balance right/wrong, drop the least consistent on both sides.
    Prof,
    /// Filter-Correct: as `prof`, wrong ones dropped at random.
    ProfCorrect,
    /// Rank the whole group by consistency, drop the lowest.
    ProfJoint,
    /// Drop completions uniformly at random (control).
    RandomFilter,
}

impl From<CurateAlgorithm> for Algorithm {
    fn from(a: CurateAlgorithm) -> Self {
        match a {
            CurateAlgorithm::Prof => Algorithm::Prof,
            CurateAlgorithm::ProfCorrect => Algorithm::ProfCorrect,
            CurateAlgorithm::ProfJoint => Algorithm::ProfJoint,
            CurateAlgorithm::RandomFilter => Algorithm::RandomFilter,
        }
    }
}

/// Arguments of `prof-grpo curate`.
#[derive(Debug, Clone, clap::Args)]
pub struct CurateArgs {
    /// Input JSONL, one completion per line: {"group": id, "reward": 0|1, "step_probs": [p, ...]}.
    #[arg(long, value_name = "FILE.jsonl")]
    pub input: PathBuf,
    /// Filter to apply per group.
    #[arg(long, value_enum)]
    pub algorithm: CurateAlgorithm,
    /// Completions to remove per group (k).
    #[arg(long = "remove", value_name = "K")]
    pub remove: usize,
    /// Compute step probabilities with this process reward model from "question" and "response".
    #[arg(long, value_name = "MODEL")]
    pub prm: Option<String>,
    /// Seed of the random choices (prof_correct, random_filter).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output JSONL: every input line with "score", "kept" and "reason" added.
    #[arg(long, value_name = "FILE.jsonl")]
    pub out: PathBuf,
    /// Completions with fewer steps get the step penalty.
    #[arg(long, default_value_t = 2)]
    pub min_steps: usize,
    /// Completions with more steps get the step penalty.
    #[arg(long, default_value_t = 30)]
    pub max_steps: usize,
    /// Score penalty for a step count outside [min-steps, max-steps].
    #[arg(long, default_value_t = 10.0)]
    pub step_penalty: f32,
    /// Backend of the PRM (with --prm).
    #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
    pub backend: BackendKind,
    /// Device of the PRM: wgpu `default|cpu|discrete:N|integrated:N`, cuda `N`.
    #[arg(long, default_value = "")]
    pub device: String,
    /// dtype the PRM computes in (f32, bf16, f16); default f32 on CPU/wgpu, bf16 on CUDA.
    #[arg(long)]
    pub dtype: Option<String>,
    /// Responses per PRM forward pass.
    #[arg(long, default_value_t = 16)]
    pub prm_batch_size: usize,
    /// Longest PRM input in tokens; longer inputs lose whole leading steps.
    #[arg(long, default_value_t = 4096)]
    pub prm_max_length: usize,
}

/// Runs `curate`; with `--prm`, loads the PRM on `--backend` and scores every line with it.
pub fn run(args: CurateArgs) -> Result<()> {
    let Some(model) = args.prm.clone() else {
        return run_with_scorer(args, None);
    };
    struct WithPrm {
        args: CurateArgs,
        model: String,
    }
    impl BackendTask for WithPrm {
        type Output = ();
        fn run<B: Backend>(self, device: B::Device) -> Result<()> {
            let dtype = match &self.args.dtype {
                Some(d) => parse_dtype(d)?,
                None => default_dtype(self.args.backend),
            };
            let settings = PrmSettings {
                batch_size: self.args.prm_batch_size,
                max_length: self.args.prm_max_length,
                truncation: Truncation::Left,
            };
            let scorer = PrmScorer::<B>::load(&self.model, dtype, settings, &device)
                .with_context(|| format!("loading the PRM {:?} (--prm)", self.model))?;
            run_with_scorer(self.args, Some(&scorer))
        }
    }
    let (backend, device) = (args.backend, args.device.clone());
    run_inference(backend, &device, WithPrm { args, model })
}

/// Runs `curate` with `scorer` computing the step probabilities of every line (when given),
/// from its `"question"` and `"response"`.
pub fn run_with_scorer(args: CurateArgs, scorer: Option<&dyn StepScorer>) -> Result<()> {
    let config = FilterConfig {
        remove_k: args.remove,
        min_steps: args.min_steps,
        max_steps: args.max_steps,
        step_penalty: args.step_penalty,
        ..FilterConfig::default()
    };
    config
        .validate()
        .context("invalid --min-steps/--max-steps/--step-penalty")?;

    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let mut rows = parse_lines(&text, &args.input, scorer)?;
    let completions: Vec<Completion> = rows.iter().map(|r| r.completion.clone()).collect();

    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let result = filter_batch(args.algorithm.into(), &config, &completions, &mut rng)?;

    let file =
        File::create(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut out = BufWriter::new(file);
    let write_error = || format!("cannot write {}", args.out.display());
    for (row, decision) in rows.iter_mut().zip(&result.decisions) {
        row.object.insert("score".into(), json_f32(decision.score));
        row.object.insert("kept".into(), Value::Bool(decision.kept));
        row.object
            .insert("reason".into(), Value::String(decision.reason.clone()));
        serde_json::to_writer(&mut out, &row.object).with_context(write_error)?;
        out.write_all(b"\n").with_context(write_error)?;
    }
    out.flush().with_context(write_error)?;

    eprintln!(
        "curated {} completions in {} groups (μ = {:.4}): kept {} ({} correct, {} incorrect) → {}",
        completions.len(),
        result.groups.len(),
        result.mu,
        result.kept_correct() + result.kept_incorrect(),
        result.kept_correct(),
        result.kept_incorrect(),
        args.out.display()
    );
    Ok(())
}

/// One parsed input line.
struct Row {
    object: Map<String, Value>,
    completion: Completion,
}

/// A finite f32 as the shortest JSON number that reads back to it.
fn json_f32(x: f32) -> Value {
    let shortest: f64 = x.to_string().parse().unwrap_or(f64::from(x));
    serde_json::Number::from_f64(shortest).map_or(Value::Null, Value::Number)
}

fn parse_lines(text: &str, path: &Path, scorer: Option<&dyn StepScorer>) -> Result<Vec<Row>> {
    let mut group_ids: HashMap<String, usize> = HashMap::new();
    let mut rows = Vec::new();
    // (row, line label) of every line the PRM scores.
    let mut to_score: Vec<(usize, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), i + 1);
        let value: Value =
            serde_json::from_str(line).with_context(|| format!("{}: invalid JSON", at()))?;
        let Value::Object(object) = value else {
            bail!("{}: expected a JSON object", at());
        };
        let group_key = match field(&object, "group", &at())? {
            Value::String(s) => format!("s{s}"),
            Value::Number(n) => format!("n{n}"),
            other => bail!(
                "{}: field \"group\" must be a string or a number, got {other}",
                at()
            ),
        };
        let next = group_ids.len();
        let group = *group_ids.entry(group_key).or_insert(next);

        let correct = match field(&object, "reward", &at())? {
            Value::Bool(b) => *b,
            Value::Number(n) if n.as_f64() == Some(1.0) => true,
            Value::Number(n) if n.as_f64() == Some(0.0) => false,
            other => bail!("{}: field \"reward\" must be 0 or 1, got {other}", at()),
        };

        let truncated = match object.get("truncated") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => bail!(
                "{}: field \"truncated\" must be true or false, got {other}",
                at()
            ),
        };

        let step_probs = if scorer.is_some() {
            to_score.push((rows.len(), at()));
            Vec::new()
        } else {
            parse_step_probs(field(&object, "step_probs", &at())?, &at())?
        };

        rows.push(Row {
            object,
            completion: Completion {
                group,
                correct,
                step_probs,
                truncated,
            },
        });
    }
    if let Some(scorer) = scorer {
        let pairs = to_score
            .iter()
            .map(|(r, at)| {
                let o = &rows[*r].object;
                Ok((str_field(o, "question", at)?, str_field(o, "response", at)?))
            })
            .collect::<Result<Vec<(&str, &str)>>>()?;
        let scores = scorer
            .score(&pairs)
            .with_context(|| format!("{}: PRM scoring failed", path.display()))?;
        for ((r, at), steps) in to_score.into_iter().zip(scores) {
            check_probs(&steps.step_probs, &at)?;
            let row = &mut rows[r];
            let json = steps.step_probs.iter().map(|&p| json_f32(p)).collect();
            row.object.insert("step_probs".into(), Value::Array(json));
            if let Some(why) = steps.skipped {
                row.object.insert("prm_skipped".into(), Value::String(why));
            }
            row.completion.step_probs = steps.step_probs;
        }
    }
    Ok(rows)
}

fn field<'a>(object: &'a Map<String, Value>, name: &str, at: &str) -> Result<&'a Value> {
    object
        .get(name)
        .ok_or_else(|| anyhow!("{at}: missing field \"{name}\""))
}

fn str_field<'a>(object: &'a Map<String, Value>, name: &str, at: &str) -> Result<&'a str> {
    field(object, name, at)?
        .as_str()
        .ok_or_else(|| anyhow!("{at}: field \"{name}\" must be a string for --prm"))
}

fn parse_step_probs(value: &Value, at: &str) -> Result<Vec<f32>> {
    let Value::Array(items) = value else {
        bail!("{at}: field \"step_probs\" must be an array of numbers, got {value}");
    };
    let probs = items
        .iter()
        .enumerate()
        .map(|(j, item)| {
            item.as_f64().map(|p| p as f32).ok_or_else(|| {
                anyhow!("{at}: field \"step_probs\"[{j}] must be a number, got {item}")
            })
        })
        .collect::<Result<Vec<f32>>>()?;
    check_probs(&probs, at)?;
    Ok(probs)
}

fn check_probs(probs: &[f32], at: &str) -> Result<()> {
    if let Some((j, p)) = probs
        .iter()
        .enumerate()
        .find(|(_, p)| !(p.is_finite() && (0.0..=1.0).contains(*p)))
    {
        bail!("{at}: field \"step_probs\"[{j}] must be a probability in [0, 1], got {p}");
    }
    Ok(())
}
