//! flopscope: what an ONNX model costs, in MACs, FLOPs by kind, parameters and memory, per
//! node and in total, for any input size or as a formula in the model's own dims.
//!
//! This crate is the facade over the pipeline (`flopscope-onnx` → `flopscope-ir` →
//! `flopscope-counters` → `flopscope-report`) and the command-line interface. A program that
//! links extra op counters (a plugin crate) gets the same CLI by calling [`cli::main`].

pub mod bench;
pub mod cli;
pub mod generate;
pub mod hardware;
pub mod sweep;

use std::path::Path;

pub use flopscope_counters as counters;
pub use flopscope_ir as ir;
pub use flopscope_onnx as onnx;
pub use flopscope_op_costs as op_costs;
pub use flopscope_report as report;

use flopscope_counters::{Profile, ProfileError, ProfileOptions};
use flopscope_ir::{ConstValue, DeclaredType, Model};
use flopscope_onnx::{LoadError, ValueKind};
use flopscope_report::Report;

/// Why a model could not be profiled; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{}: {source}", path.display())]
    Profile {
        path: std::path::PathBuf,
        #[source]
        source: ProfileError,
    },
    #[error(transparent)]
    Bench(#[from] bench::BenchError),
    #[error("{}: {source}", path.display())]
    Generate {
        path: std::path::PathBuf,
        #[source]
        source: generate::GenerateError,
    },
    #[error("{}: {source}", path.display())]
    Sweep {
        path: std::path::PathBuf,
        #[source]
        source: sweep::SweepError,
    },
}

/// Loads and profiles a model file.
pub fn profile_file(path: &Path, options: &ProfileOptions) -> Result<(Model, Profile), Error> {
    let model = flopscope_onnx::load(path)?;
    let profile = profile_model(path, &model, options)?;
    Ok((model, profile))
}

/// Profiles a loaded model; `path` names it in errors.
pub fn profile_model(
    path: &Path,
    model: &Model,
    options: &ProfileOptions,
) -> Result<Profile, Error> {
    flopscope_counters::profile(model, options).map_err(|source| Error::Profile {
        path: path.to_owned(),
        source,
    })
}

/// Loads the serialized value (`TensorProto`, `SequenceProto` or `OptionalProto`, whichever
/// the model declares for the input) to bind to graph input `input`.
pub fn load_input_value(model: &Model, input: &str, file: &Path) -> Result<ConstValue, Error> {
    let declared = model
        .graph
        .find_value(input)
        .and_then(|id| model.graph.value(id).declared.as_ref());
    let kind = match declared {
        Some(DeclaredType::Sequence(_)) => ValueKind::Sequence,
        Some(DeclaredType::Optional(_)) => ValueKind::Optional,
        _ => ValueKind::Tensor,
    };
    Ok(flopscope_onnx::load_value(file, kind)?.1)
}

/// The registry as a Markdown document (`docs/ops.md`): every op with its opsets and cost
/// formula, by domain. A test checks that the committed file is current.
pub fn ops_markdown() -> String {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;

    let defs: Vec<_> = flopscope_counters::registry().iter().collect();
    let mut domains: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for d in &defs {
        domains.entry(d.domain_name()).or_default().push(*d);
    }
    let mut out = String::from(
        "# Ops flopscope counts\n\n\
         Generated from the op registry by `cargo xtask ops-doc`; do not edit by hand (a test \
         fails when this file is stale). `flopscope ops` prints the same table.\n\n\
         Units: `macs` are multiply-accumulates; the other FLOPs are one per element per \
         elementary operation, by kind (`add`, `mul`, `div`, `cmp`, `special`); data movement \
         costs 0 FLOPs. `numel(Y)` is the number of elements of output Y.\n\n",
    );
    for (domain, ops) in &domains {
        let distinct: std::collections::BTreeSet<&str> = ops.iter().map(|d| d.op_type).collect();
        let _ = writeln!(
            out,
            "- `{domain}`: {} ops ({} records)",
            distinct.len(),
            ops.len()
        );
    }
    for (domain, ops) in &domains {
        let _ = writeln!(
            out,
            "\n## {domain}\n\n| op | opsets | cost |\n|---|---|---|"
        );
        for d in ops {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                d.op_type,
                d.opsets,
                d.formula.replace('|', "\\|")
            );
        }
    }
    out
}

/// Loads and profiles a model file into a [`Report`].
pub fn report_file(path: &Path, options: &ProfileOptions) -> Result<Report, Error> {
    let (model, profile) = profile_file(path, options)?;
    Ok(Report::new(&path.display().to_string(), &model, &profile))
}
