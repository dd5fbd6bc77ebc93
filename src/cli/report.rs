//! `prof-grpo report`: an HTML page of a training run's samples (see
//! [`crate::eval::samples_report`]).

use anyhow::Result;
use std::path::PathBuf;

use crate::eval::samples_report::{PageOptions, write_run_page};

/// Arguments of `prof-grpo report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Run directory (with `samples.jsonl` or `samples/*.jsonl`), or one samples file.
    #[arg(long)]
    pub run: PathBuf,
    /// Steps to show, comma-separated (default: up to five spread over the run).
    #[arg(long, value_delimiter = ',')]
    pub steps: Vec<u64>,
    /// Output HTML file (default: RUN/report.html, or FILE.html beside a samples file).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Most prompt groups shown per step.
    #[arg(long, default_value_t = 8)]
    pub max_groups: usize,
    /// A correct completion is "flawed" when a step's PRM probability is below this.
    #[arg(long, default_value_t = 0.5)]
    pub flaw_threshold: f64,
    /// Most flawed-but-correct completions gathered at the top.
    #[arg(long, default_value_t = 20)]
    pub max_flawed: usize,
}

/// Runs the command.
pub fn run(args: ReportArgs) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| {
        if args.run.is_file() {
            args.run.with_extension("html")
        } else {
            args.run.join("report.html")
        }
    });
    let options = PageOptions {
        steps: args.steps,
        max_groups: args.max_groups,
        flaw_threshold: args.flaw_threshold,
        max_flawed: args.max_flawed,
    };
    let shown = write_run_page(&args.run, &out, &options)?;
    println!("wrote {} ({shown} completions)", out.display());
    Ok(())
}
