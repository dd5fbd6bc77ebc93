//! `prof-grpo prepare`: verl-schema train/validation Parquet files from the reference datasets.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::data::{LengthMeasure, PrepareOptions, PrepareSource, PromptTemplate, prepare};
use crate::tokenizer::Tokenizer;

/// Arguments of `prof-grpo prepare`.
#[derive(Debug, Clone, clap::Args)]
pub struct PrepareArgs {
    /// Dataset: numina_math, math, math500 or gsm8k.
    #[arg(long, value_parser = parse_source)]
    pub source: PrepareSource,
    /// Output directory (train.parquet, validation.parquet).
    #[arg(long)]
    pub out: PathBuf,
    /// Drop problems longer than this many tokens (0 keeps all).
    #[arg(long, default_value_t = 700)]
    pub max_prompt_tokens: usize,
    /// Count the full rendered prompt instead of the bare problem (the reference counts the
    /// problem).
    #[arg(long)]
    pub count_full_prompt: bool,
    /// Tokenizer for the length limit and the chat template: a model directory, a hub model
    /// id, or `toy`.
    #[arg(long, default_value = "Qwen/Qwen2.5-Math-1.5B")]
    pub tokenizer: String,
    /// Local file or directory (laid out like the hub repository) instead of downloading.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Skip and count rows with missing or mistyped fields instead of failing.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Shuffle seed (default: 21 for numina_math, 42 for math500, no shuffle otherwise).
    #[arg(long)]
    pub seed: Option<u64>,
    /// numina_math only: hold out this many shuffled problems as validation.parquet.
    #[arg(long, default_value_t = 0)]
    pub validation_size: usize,
    /// Keep at most this many rows per source split.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Leave out the system message (the reference's Numina files have one).
    #[arg(long)]
    pub no_system_prompt: bool,
}

fn parse_source(s: &str) -> Result<PrepareSource, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}

/// Runs `prepare` and prints the counts per split.
pub fn run(args: PrepareArgs) -> Result<()> {
    let tokenizer = if args.max_prompt_tokens > 0 {
        Some(
            Tokenizer::from_dir_or_hub(&args.tokenizer)
                .with_context(|| format!("loading tokenizer {}", args.tokenizer))?,
        )
    } else {
        None
    };
    let mut prompt = PromptTemplate::default();
    if args.no_system_prompt {
        prompt.system = None;
    }
    let options = PrepareOptions {
        source: args.source,
        out_dir: args.out,
        input: args.input,
        max_prompt_tokens: (args.max_prompt_tokens > 0).then_some(args.max_prompt_tokens),
        length_measure: if args.count_full_prompt {
            LengthMeasure::Prompt
        } else {
            LengthMeasure::Problem
        },
        skip_bad_rows: args.skip_bad_rows,
        seed: args.seed,
        validation_size: args.validation_size,
        limit: args.limit,
        prompt,
    };
    let reports = prepare(&options, tokenizer.as_ref())?;
    for report in &reports {
        println!("{report}");
    }
    Ok(())
}
