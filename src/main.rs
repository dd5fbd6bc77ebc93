//! The `prof-grpo` command line.

use clap::{Parser, Subcommand};
use prof_grpo::cli;

/// GRPO and PROF reinforcement learning of language models on maths, in Rust.
#[derive(Parser, Debug)]
#[command(name = "prof-grpo", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a policy with GRPO or PROF (no arguments: the built-in CPU smoke run).
    #[command(after_long_help = prof_grpo::train::config_keys::keys_help())]
    Train(cli::train::TrainArgs),
    /// Sample completions from a model.
    Generate(cli::generate::GenerateArgs),
    /// Print the logits of every position of an id sequence as JSON.
    Logits(cli::logits::LogitsArgs),
    /// Score the reasoning steps of a response with a process reward model.
    PrmScore(cli::prm_score::PrmScoreArgs),
    /// Filter scored completions with PROF (or a control) as a data-curation step.
    Curate(cli::curate::CurateArgs),
    /// Build verl-schema parquet training data from maths datasets.
    Prepare(cli::prepare::PrepareArgs),
    /// Check answers with the strict maths verifier.
    Verify(cli::verify::VerifyArgs),
    /// Evaluate a model (or every checkpoint of a run) on the maths benchmarks.
    Eval(cli::eval::EvalArgs),
    /// Write a checkpoint as a Hugging Face model directory.
    Export(cli::export::ExportArgs),
    /// Render a training run's samples as one HTML page.
    Report(cli::report::ReportArgs),
}

fn main() -> anyhow::Result<()> {
    prof_grpo::host::set_up_process();
    let cli = Cli::parse();
    match cli.command {
        Command::Train(args) => cli::train::run(args),
        Command::Generate(args) => cli::generate::run(args),
        Command::Logits(args) => cli::logits::run(args),
        Command::PrmScore(args) => cli::prm_score::run(args),
        Command::Curate(args) => cli::curate::run(args),
        Command::Prepare(args) => cli::prepare::run(args),
        Command::Verify(args) => cli::verify::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Export(args) => cli::export::run(args),
        Command::Report(args) => cli::report::run(args),
    }
}
