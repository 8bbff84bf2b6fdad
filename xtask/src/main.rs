//! Project automation for flopscope, run as `cargo xtask <task>`.

// A developer tool: printing to the terminal is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod fixtures;
mod strip;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Project automation for flopscope.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Copy an ONNX model, replacing the payload of every large tensor by a reference to an
    /// external data file that is never written. Dims and dtypes stay exact.
    StripWeights {
        /// The model to read.
        input: PathBuf,
        /// Where to write the stripped model.
        output: PathBuf,
        /// Strip only tensors whose payload is larger than this many bytes.
        #[arg(long, default_value_t = 1024)]
        min_bytes: u64,
    },
    /// Regenerate the committed fixtures under `fixtures/` from the shared model zoo.
    Fixtures {
        /// The shared directory holding `zoo/` [default: ../shared, from the workspace root].
        #[arg(long, value_name = "DIR")]
        shared: Option<PathBuf>,
        /// Write nothing; fail if a fixture on disk is missing or differs.
        #[arg(long)]
        check: bool,
    },
}

fn main() -> ExitCode {
    // One line, whatever RUST_BACKTRACE says: the messages name what went wrong.
    match run(Cli::parse().task) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(task: Task) -> anyhow::Result<()> {
    match task {
        Task::StripWeights {
            input,
            output,
            min_bytes,
        } => strip::run(&input, &output, min_bytes),
        Task::Fixtures { shared, check } => fixtures::run(shared, check),
    }
}
