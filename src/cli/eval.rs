//! `prof-grpo eval`: the paper's Table 1 for a model, or accuracy-vs-step curves over every
//! checkpoint of a training run.
//!
//! Outputs, in `--out` (default `evals/<model>` for one model, `RUN_DIR/eval` with
//! `--checkpoints`): per model a directory with `completions.jsonl` (every judged completion),
//! `report.json` (all numbers) and `settings.json` (see [`crate::eval::run`]); the table
//! (`table.md`); the reference's history file `temp{T}_K{K}.jsonl`; with `--checkpoints`,
//! `reports.json` and the curves in `curves/<dataset>.png`.

use anyhow::{Context, Result, bail};
use burn::tensor::backend::Backend;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

use super::model_args::ModelArgs;
use crate::backend::{BackendKind, BackendTask, run_inference};
use crate::data::PromptTemplate;
use crate::eval::checkpoints::{find_checkpoints, step_of_path};
use crate::eval::curves::draw_accuracy_curves;
use crate::eval::history::record_history;
use crate::eval::report::write_atomic;
use crate::eval::run::EvalRun;
use crate::eval::sampler::{StopTokens, pending_samples};
use crate::eval::table::{detail_table, table1};
use crate::eval::{EvalProblem, EvalReport, EvalSettings, Judge};
use crate::generation::SamplingParams;
use crate::model::load_pretrained;
use crate::train::TrainConfig;
use crate::train::setup::prompt_template;

/// Arguments of `prof-grpo eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Model directory (Hugging Face layout), preset name or hub id.
    #[arg(
        long,
        required_unless_present = "checkpoints",
        conflicts_with = "checkpoints"
    )]
    pub model: Option<String>,
    /// Evaluate every `checkpoint-<step>`/`step-<step>` directory of this training run.
    #[arg(long, value_name = "RUN_DIR")]
    pub checkpoints: Option<PathBuf>,
    /// Comma-separated dataset names (files `<name>.jsonl` in the data directory) or paths.
    #[arg(
        long,
        default_value = "math500,minerva_math,olympiadbench,aime24,amc23"
    )]
    pub datasets: String,
    /// Directory of the dataset files (default: `$PROF_SHARED_DIR/datasets`, else
    /// `../shared/datasets` when present, else `datasets/`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Only the first N problems of each dataset.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Samples per problem.
    #[arg(long, default_value_t = 16)]
    pub k: usize,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    /// Nucleus sampling mass.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Keep only the k most likely tokens (0 = all).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Most new tokens per completion.
    #[arg(long, default_value_t = 4096)]
    pub max_new_tokens: usize,
    /// Seed of the per-sample random generators.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sequences generated together (does not change the results).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Output directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Directory with the tokenizer files (default: the model's; needed for checkpoints saved
    /// without them).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// System message of the prompt (default: the reference's, or with `--checkpoints` the
    /// training run's `data.system_prompt`); an empty string means none.
    #[arg(long)]
    pub system: Option<String>,
    /// Text appended to each problem (default: none, or with `--checkpoints` the training
    /// run's `data.user_suffix`).
    #[arg(long)]
    pub user_suffix: Option<String>,
    /// Render prompts with the tokenizer's chat template (default: true, or with
    /// `--checkpoints` the training run's `data.chat_template`).
    #[arg(long)]
    pub chat_template: Option<bool>,
    /// Backend to run on.
    #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
    pub backend: BackendKind,
    /// Device on the backend: wgpu `default|cpu|discrete:N|integrated:N`, cuda `N`.
    #[arg(long, default_value = "")]
    pub device: String,
    /// dtype to compute in (f32, bf16, f16); default f32 on CPU/wgpu, bf16 on CUDA.
    #[arg(long)]
    pub dtype: Option<String>,
}

impl EvalArgs {
    fn settings(&self) -> Result<EvalSettings> {
        let settings = EvalSettings {
            k: self.k,
            sampling: SamplingParams {
                temperature: self.temperature,
                top_p: self.top_p,
                top_k: self.top_k,
            },
            max_new_tokens: self.max_new_tokens,
            seed: self.seed,
            batch_size: self.batch_size,
        };
        settings.validate()?;
        Ok(settings)
    }

    /// The prompt layout: explicit flags, else the training run's (`run_config`), else the
    /// reference evaluation's (system message, no suffix, chat template).
    fn prompt_template(&self, run_config: Option<&TrainConfig>) -> PromptTemplate {
        let from_run = run_config.map(prompt_template);
        let system = match (&self.system, &from_run) {
            (Some(s), _) => (!s.is_empty()).then(|| s.clone()),
            (None, Some(t)) => t.system.clone(),
            (None, None) => Some(glue::SYSTEM_PROMPT.to_string()),
        };
        PromptTemplate {
            system,
            suffix: self
                .user_suffix
                .clone()
                .or_else(|| from_run.as_ref().map(|t| t.suffix.clone()))
                .unwrap_or_default(),
            use_chat_template: self
                .chat_template
                .or_else(|| from_run.as_ref().map(|t| t.use_chat_template))
                .unwrap_or(true),
        }
    }

    fn model_args(&self, spec: &str) -> ModelArgs {
        ModelArgs {
            model: spec.to_string(),
            backend: self.backend,
            device: self.device.clone(),
            dtype: self.dtype.clone(),
        }
    }
}

/// One model to evaluate.
struct Target {
    spec: String,
    run: EvalRun,
}

struct Task<'a> {
    args: &'a EvalArgs,
    template: &'a PromptTemplate,
    target: &'a Target,
    problems: &'a [glue::TextProblem],
    settings: &'a EvalSettings,
}

impl BackendTask for Task<'_> {
    type Output = EvalReport;
    fn run<B: Backend>(self, device: B::Device) -> Result<EvalReport> {
        let margs = self.args.model_args(&self.target.spec);
        let lm = load_pretrained::<B>(&margs.model, margs.dtype()?, &device)?;
        let tok_dir = self
            .args
            .tokenizer
            .clone()
            .unwrap_or_else(|| lm.dir.clone());
        let tokenizer = glue::tokenizer(&tok_dir)?;
        let mut problems = Vec::with_capacity(self.problems.len());
        for p in self.problems {
            let prompt_ids = glue::prompt_ids(&tokenizer, self.template, p)
                .with_context(|| format!("building the prompt of {}/{}", p.dataset, p.id))?;
            problems.push(EvalProblem {
                dataset: p.dataset.clone(),
                id: p.id.clone(),
                prompt_ids,
                gold: p.gold.clone(),
            });
        }
        let mut stop_ids = lm.generation.eos_ids.clone();
        stop_ids.extend(tokenizer.stop_token_ids());
        stop_ids.sort_unstable();
        stop_ids.dedup();
        if stop_ids.is_empty() {
            bail!(
                "model {} declares no stop ids (eos_token_id)",
                self.target.spec
            );
        }
        let stops = StopTokens {
            pad_id: lm.generation.pad_id.unwrap_or(stop_ids[0]),
            stop_ids,
        };
        let decode = |ids: &[u32]| tokenizer.decode(ids, true);
        let judge = glue::judge();
        let bar = ProgressBar::new((problems.len() * self.settings.k) as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} samples, {elapsed} (ETA {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(self.target.run.model.clone());
        let report = self.target.run.run(
            &lm.model,
            &problems,
            self.settings,
            &stops,
            &decode,
            &judge,
            |done, _| bar.set_position(done as u64),
        )?;
        bar.finish_and_clear();
        Ok(report)
    }
}

/// Finishes without a model when every sample is already judged on disk.
fn report_if_complete(
    target: &Target,
    problems: &[glue::TextProblem],
    settings: &EvalSettings,
) -> Result<Option<EvalReport>> {
    let keys: Vec<EvalProblem> = problems
        .iter()
        .map(|p| EvalProblem {
            dataset: p.dataset.clone(),
            id: p.id.clone(),
            prompt_ids: Vec::new(),
            gold: p.gold.clone(),
        })
        .collect();
    let records = target.run.open(settings)?;
    let done = records.iter().map(|r| r.key()).collect();
    if !pending_samples(&keys, settings.k, &done).is_empty() {
        return Ok(None);
    }
    let report = target
        .run
        .report_from(&records, &keys, settings, &glue::judge() as &dyn Judge);
    report.write_json(&target.run.report_path())?;
    Ok(Some(report))
}

fn sanitize(label: &str) -> String {
    let s: String = label
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("model{s}")
    } else {
        s
    }
}

/// Runs the command.
pub fn run(args: EvalArgs) -> Result<()> {
    let settings = args.settings()?;
    let data_dir = args.data_dir.clone().unwrap_or_else(glue::default_data_dir);
    let problems = glue::load_datasets(&args.datasets, &data_dir, args.limit)?;
    let (out, targets): (PathBuf, Vec<Target>) = match (&args.model, &args.checkpoints) {
        (Some(model), _) => {
            let name = Path::new(model)
                .file_name()
                .map_or(model.clone(), |n| n.to_string_lossy().into_owned());
            let out = args
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from("evals").join(sanitize(&name)));
            let run = EvalRun {
                dir: out.clone(),
                model: model.clone(),
                step: step_of_path(model),
            };
            (
                out,
                vec![Target {
                    spec: model.clone(),
                    run,
                }],
            )
        }
        (None, Some(run_dir)) => {
            let out = args.out.clone().unwrap_or_else(|| run_dir.join("eval"));
            let targets = find_checkpoints(run_dir)?
                .into_iter()
                .map(|c| Target {
                    spec: c.dir.display().to_string(),
                    run: EvalRun {
                        dir: out.join(c.name()),
                        model: c.name(),
                        step: Some(c.step),
                    },
                })
                .collect();
            (out, targets)
        }
        (None, None) => bail!("give --model or --checkpoints"),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let run_config = match &args.checkpoints {
        Some(run_dir) if run_dir.join("config.toml").is_file() => {
            let path = run_dir.join("config.toml");
            Some(TrainConfig::load(Some(&path), &[]).with_context(|| {
                format!("reading the run's prompt layout from {}", path.display())
            })?)
        }
        _ => None,
    };
    let template = args.prompt_template(run_config.as_ref());
    let mut reports = Vec::new();
    for target in &targets {
        let report = match report_if_complete(target, &problems, &settings)? {
            Some(r) => {
                eprintln!(
                    "{}: already evaluated in {}",
                    target.run.model,
                    target.run.dir.display()
                );
                r
            }
            None => run_inference(
                args.backend,
                &args.device,
                Task {
                    args: &args,
                    template: &template,
                    target,
                    problems: &problems,
                    settings: &settings,
                },
            )?,
        };
        let history = record_history(&out, &report)?;
        if targets.len() == 1 {
            println!("{}", detail_table(&report));
        }
        eprintln!(
            "{}: report {}, history {}",
            report.model,
            target.run.report_path().display(),
            history.display()
        );
        reports.push(report);
    }
    let table = table1(&reports);
    println!("{table}");
    write_atomic(&out.join("table.md"), table.as_bytes())?;
    if args.checkpoints.is_some() {
        write_atomic(
            &out.join("reports.json"),
            serde_json::to_string_pretty(&reports)?.as_bytes(),
        )?;
        let pngs = draw_accuracy_curves(&reports, &out.join("curves"))?;
        eprintln!(
            "curves: {}",
            pngs.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// The pieces this command takes from the rest of the program: datasets, tokenizer, prompt
/// and judge.
mod glue {
    use anyhow::{Context, Result, bail};
    use std::path::{Path, PathBuf};

    use crate::data::{LoadOptions, Problem, PromptTemplate, load_dataset};

    /// The system message of Qwen2.5-Math's chain-of-thought evaluation prompt.
    pub const SYSTEM_PROMPT: &str = crate::data::prompt::DEFAULT_SYSTEM_PROMPT;

    /// A problem before tokenization.
    pub struct TextProblem {
        pub dataset: String,
        pub id: String,
        pub problem: Problem,
        pub gold: String,
    }

    /// The judge: the strict maths verifier.
    pub fn judge() -> crate::reward::verifier::Verifier {
        crate::reward::verifier::Verifier::default()
    }

    /// The tokenizer of a model directory.
    pub fn tokenizer(dir: &Path) -> Result<crate::tokenizer::Tokenizer> {
        if !dir.join("tokenizer.json").is_file() {
            bail!(
                "{} has no tokenizer.json; pass --tokenizer DIR",
                dir.display()
            );
        }
        crate::tokenizer::Tokenizer::from_dir(dir)
    }

    /// Prompt ids of a problem laid out by `template`.
    pub fn prompt_ids(
        tokenizer: &crate::tokenizer::Tokenizer,
        template: &PromptTemplate,
        p: &TextProblem,
    ) -> Result<Vec<u32>> {
        template.encode(&p.problem, tokenizer)
    }

    /// `$PROF_SHARED_DIR/datasets`, else `../shared/datasets` when present, else `datasets/`.
    pub fn default_data_dir() -> PathBuf {
        let shared = crate::data::default_data_dir();
        if shared.is_dir() {
            shared
        } else {
            PathBuf::from("datasets")
        }
    }

    /// Loads each comma-separated dataset (a name in `data_dir` or a path), first `limit`
    /// problems of each.
    pub fn load_datasets(
        list: &str,
        data_dir: &Path,
        limit: Option<usize>,
    ) -> Result<Vec<TextProblem>> {
        let mut out = Vec::new();
        for spec in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let set = load_dataset(
                spec,
                data_dir,
                &LoadOptions {
                    skip_bad_rows: false,
                    limit,
                },
            )
            .with_context(|| format!("loading dataset {spec:?}"))?;
            let name = Path::new(spec)
                .file_stem()
                .map_or(spec.to_string(), |s| s.to_string_lossy().into_owned());
            for p in set.problems {
                out.push(TextProblem {
                    dataset: name.clone(),
                    id: p.id.clone(),
                    gold: p.gold.clone(),
                    problem: p,
                });
            }
        }
        if out.is_empty() {
            bail!("no problems to evaluate (--datasets {list:?})");
        }
        Ok(out)
    }
}
