//! `prof-grpo export`: a checkpoint as a Hugging Face model directory (see
//! [`crate::eval::export`]).

use anyhow::Result;
use std::path::PathBuf;

use crate::eval::export::{ExportOptions, export_hf_dir};
use crate::model::dtype::{dtype_name, parse_dtype};

/// Arguments of `prof-grpo export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Checkpoint directory (`config.json` + `model.safetensors` or shards).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Output directory; written under a temporary name and renamed into place.
    #[arg(long)]
    pub out: PathBuf,
    /// dtype to write (f32, bf16, f16); default: the one the checkpoint's config.json names.
    #[arg(long)]
    pub dtype: Option<String>,
    /// Directory to copy tokenizer files from (default: the checkpoint directory).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Largest safetensors shard in MB (10^6 bytes); bigger models are split.
    #[arg(long, default_value_t = 5000)]
    pub max_shard_mb: usize,
    /// Replace the output directory if it exists.
    #[arg(long)]
    pub overwrite: bool,
}

/// Runs the command.
pub fn run(args: ExportArgs) -> Result<()> {
    let options = ExportOptions {
        dtype: args.dtype.as_deref().map(parse_dtype).transpose()?,
        max_shard_bytes: args.max_shard_mb.max(1).saturating_mul(1_000_000),
        tokenizer_dir: args.tokenizer.clone(),
        overwrite: args.overwrite,
    };
    // Export only moves weights: the CPU backend is enough.
    let summary = export_hf_dir::<burn::backend::Flex>(
        &args.checkpoint,
        &args.out,
        &options,
        &Default::default(),
    )?;
    println!(
        "exported {} to {} ({}): {}",
        args.checkpoint.display(),
        summary.dir.display(),
        dtype_name(summary.dtype),
        summary.files.join(", ")
    );
    if summary.tokenizer_files.is_empty() {
        eprintln!(
            "warning: no tokenizer files found in {}; pass --tokenizer DIR to include them",
            args.tokenizer
                .as_ref()
                .unwrap_or(&args.checkpoint)
                .display()
        );
    }
    Ok(())
}
