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
    /// Print the logits of every position of an id sequence as JSON.
    Logits(cli::logits::LogitsArgs),
    /// Sample completions from a model.
    Generate(cli::generate::GenerateArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Logits(args) => cli::logits::run(args),
        Command::Generate(args) => cli::generate::run(args),
    }
}
