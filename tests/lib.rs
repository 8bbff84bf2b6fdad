//! Helpers for flopscope's end-to-end tests: where the fixtures and the shared zoo are, and
//! running the CLI in-process.
//!
//! Tests that need `../shared` (the model zoo and its anchors, beside the repository in CI),
//! ONNX Runtime or Chromium carry `#[cfg_attr(not(has_shared), ignore = "...")]` (`has_ort`,
//! `has_chromium`): the build script (`build.rs`) sets the cfg when it finds them, so on a
//! clone without them `cargo test` lists those tests as ignored, with the reason. With
//! `FLOPSCOPE_REQUIRE_SHARED=1` (`_ORT`, `_CHROMIUM`), as `.ci/run` sets, a missing one fails
//! the build instead.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The repository root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace root")
        .to_path_buf()
}

/// A file under `fixtures/`.
pub fn fixture(relative: &str) -> PathBuf {
    workspace_root().join("fixtures").join(relative)
}

pub mod browser;
mod prereq;

/// `../shared`, for the tests marked `#[cfg_attr(not(has_shared), ignore = ...)]`: they run
/// only when the build script found it (`build.rs`), so here it is there.
pub fn shared_dir() -> PathBuf {
    prereq::shared_dir_in(&workspace_root()).unwrap_or_else(|why| panic!("{why}"))
}

/// A Chromium binary, for the tests marked `#[cfg_attr(not(has_chromium), ignore = ...)]`.
pub fn chromium() -> PathBuf {
    prereq::chromium().unwrap_or_else(|why| panic!("{why}"))
}

/// A Chromium binary, or why there is none (for the benchmarks, which skip without one).
pub fn find_chromium() -> Result<PathBuf, String> {
    prereq::chromium()
}

/// What a CLI run printed.
#[derive(Debug)]
pub struct Run {
    pub code: ExitCode,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == ExitCode::SUCCESS
    }
}

/// The path of `fixtures/models/NAME.onnx`, as an argument.
pub fn model(name: &str) -> String {
    fixture(&format!("models/{name}.onnx"))
        .display()
        .to_string()
}

/// What `flopscope ARGS...` printed, which must succeed (its stderr is the failure).
pub fn run_ok(args: &[&str]) -> String {
    let run = flopscope(args);
    assert!(
        run.success(),
        "flopscope {}: {}",
        args.join(" "),
        run.stderr
    );
    run.stdout
}

/// The JSON that `flopscope ARGS...` printed, which must succeed.
pub fn json_ok(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&run_ok(args)).expect("the output is JSON")
}

/// A report node's module path (its JSON `module`), outermost scope first.
pub fn module_path(node: &serde_json::Value) -> Vec<&str> {
    node["module"]
        .as_array()
        .expect("a module path")
        .iter()
        .map(|s| s.as_str().expect("a scope name"))
        .collect()
}

/// Runs `flopscope ARGS...` in-process.
pub fn flopscope(args: &[&str]) -> Run {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("flopscope").chain(args.iter().copied());
    let code = flopscope::cli::run_with(argv, &mut out, &mut err);
    Run {
        code,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    }
}
