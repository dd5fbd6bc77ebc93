//! `prof-grpo curate`: the PROF filter as a stand-alone data-curation tool for JSONL rollouts.
//!
//! Each input line is one completion `{"group": ..., "reward": 0|1, "step_probs": [...]}` plus
//! any other fields, which are kept as they are and in order. The consistency scores use μ, the
//! mean of all step probabilities of the whole input. Every line is written back with `"score"`,
//! `"kept"` and `"reason"` added. With `--prm`, `"step_probs"` is computed from `"question"` and
//! `"response"` by a step scorer (and written out too).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

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
}

/// Step scorer: `(question, response) → step probabilities`, e.g. a loaded PRM.
pub type StepScorer<'a> = &'a mut dyn FnMut(&str, &str) -> Result<Vec<f32>>;

/// Runs `curate` without a PRM: `--prm` is refused with an explanation.
pub fn run(args: CurateArgs) -> Result<()> {
    run_with_scorer(args, None)
}

/// Runs `curate`; with `--prm`, `scorer` computes the step probabilities of each line.
pub fn run_with_scorer(args: CurateArgs, scorer: Option<StepScorer<'_>>) -> Result<()> {
    let scorer = match (&args.prm, scorer) {
        (Some(model), None) => bail!(
            "--prm needs a process reward model to score steps, and this build cannot load \
             one (asked for {model:?}); give every line a \"step_probs\" array instead"
        ),
        (Some(_), Some(s)) => Some(s),
        (None, _) => None,
    };
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

fn parse_lines(text: &str, path: &Path, mut scorer: Option<StepScorer<'_>>) -> Result<Vec<Row>> {
    let mut group_ids: HashMap<String, usize> = HashMap::new();
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), i + 1);
        let value: Value =
            serde_json::from_str(line).with_context(|| format!("{}: invalid JSON", at()))?;
        let Value::Object(mut object) = value else {
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

        let step_probs = match scorer.as_mut() {
            Some(score) => {
                let question = str_field(&object, "question", &at())?;
                let response = str_field(&object, "response", &at())?;
                let probs = score(question, response)
                    .with_context(|| format!("{}: PRM scoring failed", at()))?;
                check_probs(&probs, &at())?;
                let json = probs.iter().map(|&p| json_f32(p)).collect();
                object.insert("step_probs".into(), Value::Array(json));
                probs
            }
            None => parse_step_probs(field(&object, "step_probs", &at())?, &at())?,
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
