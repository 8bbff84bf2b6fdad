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
mod verify;

use std::ffi::OsString;
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
        /// Compare the elements flopscope folds with the stored outputs instead (cases whose
        /// inputs are all small tensors): exact for integers, bitwise for floats.
        #[arg(long)]
        values: bool,
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
        /// Check the real exports under fixtures/exports at two sizes each.
        #[arg(long)]
        exports: bool,
    },
    /// Export a wide corpus of real models with PyTorch (xtask/corpus/export_corpus.py), then
    /// profile each at two sizes against ONNX Runtime, symbolically, and against PyTorch's
    /// parameter count (needs a Python with torch, torchvision, transformers, onnx, onnxscript,
    /// and ONNX Runtime).
    Corpus {
        /// Where the models and manifest.json go.
        #[arg(long, default_value = "target/corpus")]
        dir: PathBuf,
        /// The Python that has torch.
        #[arg(long, default_value = "python3")]
        python: String,
        /// Only the models whose name contains this.
        #[arg(long)]
        only: Option<String>,
        /// Check the models already in DIR without exporting again.
        #[arg(long)]
        skip_export: bool,
    },
    /// Regenerate docs/ops.md from the op registry.
    OpsDoc,
    /// Time synthetic chains and wide graphs of 1k to 1M nodes (decode, profile, report): the
    /// time per node shows whether the pipeline grows linearly.
    BenchScale {
        /// Graph sizes, in nodes.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "1000,10000,100000,1000000"
        )]
        sizes: Vec<usize>,
        /// Only one kind of graph: Relu chains, wide Relu fans, or Add chains with an
        /// initializer each.
        #[arg(long, value_parser = ["chain", "wide", "weighted"])]
        only: Option<String>,
        /// Runs per size (the best is kept).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Also write the table as Markdown to this file.
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
    },
    /// Profile every .onnx under DIR at a grid of sizes, in parallel: a summary table, one
    /// JSON report per model and point, and snapshots to check or update.
    ProfileZoo {
        /// The folder to search (recursively).
        dir: PathBuf,
        /// Image sizes: each sets axes 2 and 3 of every rank-4 input (named or fixed).
        #[arg(long, value_name = "S1,S2,...", value_delimiter = ',')]
        size: Vec<i64>,
        /// A named dim and its values, for the models that have it: batch=1,32.
        #[arg(long = "dim", value_name = "NAME=V1,V2,...", value_parser = flopscope::sweep::parse_dim_values)]
        dims: Vec<(String, Vec<i64>)>,
        /// Worker threads [default: the number of cores].
        #[arg(long)]
        jobs: Option<usize>,
        /// The folder of snapshot files (one `.snap` per model).
        #[arg(long, value_name = "DIR")]
        snapshots: Option<PathBuf>,
        /// Compare with the snapshots; print a Markdown diff and fail if anything changed.
        #[arg(long, conflicts_with = "update")]
        check: bool,
        /// Rewrite the snapshots.
        #[arg(long)]
        update: bool,
        /// With --check: write `.snap.new` files beside changed snapshots for `cargo insta
        /// review`.
        #[arg(long, requires = "check")]
        review: bool,
        /// Also write the summary (and the diff) as Markdown to this file.
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
        /// Where to write the JSON reports [default: target/profile-zoo].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Write no JSON reports.
        #[arg(long, conflicts_with = "out")]
        no_reports: bool,
        /// Also count as another tool does (thop, ptflops, fvcore, torch, onnx-tool, ...).
        #[arg(long, value_name = "TOOL")]
        convention: Option<String>,
        /// Custom ops declared in a TOML file (docs/op-costs.md); may be given more than once.
        #[arg(long = "op-costs", value_name = "FILE.toml")]
        op_costs: Vec<PathBuf>,
    },
    /// Whole-process wall time and peak RSS of flopscope, onnx-tool and ONNX shape inference
    /// on every model of a zoo (installs onnx-tool into target/bench-peers/venv on first use).
    BenchPeers {
        /// The model folder [default: $FLOPSCOPE_SHARED/zoo, else ../shared/zoo from the
        /// workspace root].
        #[arg(long, value_name = "DIR")]
        zoo: Option<PathBuf>,
        /// Timed runs per command, after one warm-up run.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Also write the table as Markdown to this file.
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
        /// The Python interpreter with onnx (and from which onnx-tool's virtualenv is made).
        #[arg(long, default_value = "python3")]
        python: OsString,
        /// Only the models whose path contains this.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Write a GPT-2 small (124M params) with external, inline and absent weights under
    /// target/bench-weights, and measure flopscope's time and peak RSS on each.
    BenchWeights {
        /// Timed runs per variant, after one warm-up run.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Also write the table as Markdown to this file.
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
        /// Where to write the models [default: target/bench-weights].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Keep the written models (about 1 GB) instead of removing them at the end.
        #[arg(long)]
        keep: bool,
    },
    /// Internal to the benchmarks: run a command, print its wall time, peak RSS and status.
    #[command(hide = true)]
    MeasureChild {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<OsString>,
    },
    /// Internal to bench-peers: time flopscope's stages once on a model, print them (ns).
    #[command(hide = true)]
    MeasureStages {
        model: PathBuf,
        /// `NAME=AxB...`, the input sizes.
        inputs: Vec<String>,
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
        Task::BenchScale {
            sizes,
            only,
            runs,
            markdown,
        } => bench_scale::run(&sizes, only.as_deref(), runs.max(1), markdown.as_deref()),
        Task::ProfileZoo {
            dir,
            size,
            dims,
            jobs,
            snapshots,
            check,
            update,
            review,
            markdown,
            out,
            no_reports,
            convention,
            op_costs,
        } => {
            use std::io::IsTerminal;
            let convention = convention
                .map(|c| c.parse::<flopscope_report::Convention>())
                .transpose()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let options = profile_zoo::Options {
                dir,
                sizes: size,
                dims,
                jobs,
                snapshots,
                mode: if check {
                    profile_zoo::Mode::Check
                } else if update {
                    profile_zoo::Mode::Update
                } else {
                    profile_zoo::Mode::Report
                },
                review,
                markdown,
                out: if no_reports {
                    None
                } else {
                    Some(out.unwrap_or_else(|| workspace_root().join("target/profile-zoo")))
                },
                convention,
                declared_ops: flopscope::op_costs::declared(&flopscope::op_costs::load_all(
                    &op_costs,
                )?),
                progress: std::io::stderr().is_terminal(),
            };
            let outcome = profile_zoo::run(&options)?;
            print!("{}", outcome.table);
            match options.mode {
                profile_zoo::Mode::Check if !outcome.changed.is_empty() => {
                    let diff = outcome
                        .markdown
                        .split_once("\n## Snapshot diff\n")
                        .map_or("", |(_, d)| d);
                    println!("\n## Snapshot diff\n{diff}");
                    anyhow::bail!(
                        "{} of {} models differ from their snapshots",
                        outcome.changed.len(),
                        outcome.models
                    )
                }
                profile_zoo::Mode::Check => {
                    println!("every model matches its snapshot");
                    Ok(())
                }
                profile_zoo::Mode::Update => {
                    println!("snapshots: {} written or removed", outcome.changed.len());
                    Ok(())
                }
                profile_zoo::Mode::Report => Ok(()),
            }
        }
        Task::StripWeights {
            input,
            output,
            min_bytes,
        } => strip::run(&input, &output, min_bytes),
        Task::Fixtures { shared, check } => fixtures::run(shared, check),
        Task::BenchPeers {
            zoo,
            runs,
            markdown,
            python,
            filter,
        } => {
            let options = bench_peers::Options {
                zoo: zoo.unwrap_or_else(|| shared_dir().join("zoo")),
                runs,
                markdown,
                python,
                filter,
            };
            let rendered = bench_peers::run(&options)?;
            print!("{}", rendered.table);
            Ok(())
        }
        Task::BenchWeights {
            runs,
            markdown,
            out,
            keep,
        } => {
            let options = bench_weights::Options {
                out: out.unwrap_or_else(|| workspace_root().join("target/bench-weights")),
                runs,
                markdown,
                keep,
            };
            let (table, _) = bench_weights::run(&options)?;
            print!("{table}");
            Ok(())
        }
        Task::MeasureChild { command } => measure::child_main(&command),
        Task::MeasureStages { model, inputs } => bench_peers::stages_main(&model, &inputs),
        Task::OpsDoc => {
            let path = workspace_root().join("docs/ops.md");
            std::fs::create_dir_all(path.parent().unwrap_or(&path))?;
            std::fs::write(&path, flopscope::ops_markdown())?;
            println!("wrote {}", path.display());
            Ok(())
        }
        Task::Corpus {
            dir,
            python,
            only,
            skip_export,
        } => corpus::run(&dir, &python, only.as_deref(), skip_export),
        Task::VerifyShapes {
            model,
            inputs,
            zoo,
            exports,
        } => verify::run(model.as_deref(), &inputs, zoo.as_deref(), exports),
        Task::Conformance {
            dir,
            filter,
            update,
            verbose,
            values,
        } => {
            if values {
                conformance::run_values(&dir, filter.as_deref(), verbose)
            } else {
                conformance::run(&dir, filter.as_deref(), update, verbose)
            }
        }
    }
}
