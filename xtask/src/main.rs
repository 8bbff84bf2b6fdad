//! Project automation for flopscope, run as `cargo xtask <task>`.

// A developer tool: printing to the terminal is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod conformance;
mod fixtures;
mod strip;
mod verify;

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
    /// Check shape inference against ONNX's node conformance cases (model.onnx +
    /// test_data_set_0/{input,output}_N.pb per folder).
    Conformance {
        /// The folder of case folders (../shared/onnx-node).
        dir: PathBuf,
        /// Only the cases whose folder name contains this.
        #[arg(long)]
        filter: Option<String>,
        /// Rewrite the known-failures list (it may only shrink).
        #[arg(long)]
        update: bool,
        /// List every op type and every failing case with its reason.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Compare every value's inferred shape with ONNX Runtime's (needs ONNX Runtime: set
    /// ORT_DYLIB_PATH, or pip install onnxruntime).
    VerifyShapes {
        /// The model to check.
        model: Option<PathBuf>,
        /// An input's shape: NAME=1x3x224x224.
        #[arg(long = "input", value_name = "NAME=SHAPE")]
        inputs: Vec<String>,
        /// Check every model of a zoo folder at the input sizes its ANCHORS.json lists.
        #[arg(long, value_name = "DIR")]
        zoo: Option<PathBuf>,
    },
    /// Regenerate docs/ops.md from the op registry.
    OpsDoc,
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

/// The workspace root (xtask's parent folder).
pub(crate) fn workspace_root() -> PathBuf {
    let xtask = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

fn run(task: Task) -> anyhow::Result<()> {
    match task {
        Task::StripWeights {
            input,
            output,
            min_bytes,
        } => strip::run(&input, &output, min_bytes),
        Task::Fixtures { shared, check } => fixtures::run(shared, check),
        Task::OpsDoc => {
            let path = workspace_root().join("docs/ops.md");
            std::fs::create_dir_all(path.parent().unwrap_or(&path))?;
            std::fs::write(&path, flopscope::ops_markdown())?;
            println!("wrote {}", path.display());
            Ok(())
        }
        Task::VerifyShapes { model, inputs, zoo } => {
            verify::run(model.as_deref(), &inputs, zoo.as_deref())
        }
        Task::Conformance {
            dir,
            filter,
            update,
            verbose,
        } => conformance::run(&dir, filter.as_deref(), update, verbose),
    }
}
