//! Project automation for flopscope, run as `cargo xtask <task>`.

// A developer tool: printing to the terminal is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

/// The allocator of the `flopscope` binary, so that `bench-scale` and `measure-stages` time
/// the pipeline as it ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench_peers;
mod bench_scale;
mod bench_weights;
mod conformance;
mod corpus;
mod fixtures;
mod hostile;
mod measure;
mod profile_zoo;
mod strip;
mod test;
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
    StripWeights(strip::Args),
    /// Check shape inference against ONNX's node conformance cases (model.onnx +
    /// test_data_set_0/{input,output}_N.pb per folder).
    Conformance(conformance::Args),
    /// Compare every value's inferred shape with ONNX Runtime's (needs ONNX Runtime: set
    /// ORT_DYLIB_PATH, or pip install onnxruntime).
    VerifyShapes(verify::Args),
    /// Export a wide corpus of real models with PyTorch (xtask/corpus/export_corpus.py), then
    /// profile each at two sizes against ONNX Runtime, symbolically, and against PyTorch's
    /// parameter count (needs a Python with torch, torchvision, transformers, onnx, onnxscript,
    /// and ONNX Runtime).
    Corpus(corpus::Args),
    /// Regenerate docs/ops.md from the op registry.
    OpsDoc,
    /// Time synthetic chains and wide graphs of 1k to 1M nodes (decode, profile, report): the
    /// time per node shows whether the pipeline grows linearly.
    BenchScale(bench_scale::Args),
    /// Profile every .onnx under DIR at a grid of sizes, in parallel: a summary table, one
    /// JSON report per model and point, and snapshots to check or update.
    ProfileZoo(profile_zoo::Args),
    /// Whole-process wall time and peak RSS of flopscope, onnx-tool and ONNX shape inference
    /// on every model of a zoo (installs onnx-tool into target/bench-peers/venv on first use).
    BenchPeers(bench_peers::Args),
    /// Write a GPT-2 small (124M params) with external, inline and absent weights under
    /// target/bench-weights, and measure flopscope's time and peak RSS on each.
    BenchWeights(bench_weights::Args),
    /// Internal to the benchmarks: run a command, print its wall time, peak RSS and status.
    #[command(hide = true)]
    MeasureChild(measure::Args),
    /// Internal to bench-peers: time flopscope's stages once on a model, print them (ns).
    #[command(hide = true)]
    MeasureStages(bench_peers::StagesArgs),
    /// Regenerate the committed fixtures under `fixtures/` from the shared model zoo.
    Fixtures(fixtures::Args),
    /// Every test: `cargo test --workspace`, then the Python package installed into a venv
    /// and its pytest suite (the README's test command).
    Test(test::Args),
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

/// The shared folder: `FLOPSCOPE_SHARED`, else `../shared` beside the workspace.
fn shared_dir() -> PathBuf {
    std::env::var_os("FLOPSCOPE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"))
}

fn run(task: Task) -> anyhow::Result<()> {
    match task {
        Task::StripWeights(args) => strip::main(args),
        Task::Conformance(args) => conformance::main(args),
        Task::VerifyShapes(args) => verify::main(args),
        Task::Corpus(args) => corpus::main(args),
        Task::OpsDoc => ops_doc(),
        Task::BenchScale(args) => bench_scale::main(args),
        Task::ProfileZoo(args) => profile_zoo::main(args),
        Task::BenchPeers(args) => bench_peers::main(args),
        Task::BenchWeights(args) => bench_weights::main(args),
        Task::MeasureChild(args) => measure::main(args),
        Task::MeasureStages(args) => bench_peers::stages(args),
        Task::Fixtures(args) => fixtures::main(args),
        Task::Test(args) => test::main(args),
    }
}

/// `cargo xtask ops-doc`: docs/ops.md from the registry.
fn ops_doc() -> anyhow::Result<()> {
    let path = workspace_root().join("docs/ops.md");
    std::fs::create_dir_all(path.parent().unwrap_or(&path))?;
    std::fs::write(&path, flopscope::ops_markdown())?;
    println!("wrote {}", path.display());
    Ok(())
}
