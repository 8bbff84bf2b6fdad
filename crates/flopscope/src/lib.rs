//! flopscope: what an ONNX model costs, in MACs, FLOPs by kind, parameters and memory, per
//! node and in total, for any input size or as a formula in the model's own dims.
//!
//! This crate is the facade over the pipeline (`flopscope-onnx` → `flopscope-ir` →
//! `flopscope-counters` → `flopscope-report`) and the command-line interface. A program that
//! links extra op counters (a plugin crate) gets the same CLI by calling [`cli::main`].

pub mod cli;

use std::path::Path;

pub use flopscope_counters as counters;
pub use flopscope_ir as ir;
pub use flopscope_onnx as onnx;
pub use flopscope_report as report;

use flopscope_counters::{Profile, ProfileError, ProfileOptions};
use flopscope_ir::Model;
use flopscope_onnx::LoadError;
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
}

/// Loads and profiles a model file.
pub fn profile_file(path: &Path, options: &ProfileOptions) -> Result<(Model, Profile), Error> {
    let model = flopscope_onnx::load(path)?;
    let profile =
        flopscope_counters::profile(&model, options).map_err(|source| Error::Profile {
            path: path.to_owned(),
            source,
        })?;
    Ok((model, profile))
}

/// Loads and profiles a model file into a [`Report`].
pub fn report_file(path: &Path, options: &ProfileOptions) -> Result<Report, Error> {
    let (model, profile) = profile_file(path, options)?;
    Ok(Report::new(&path.display().to_string(), &model, &profile))
}
