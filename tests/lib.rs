//! Helpers for flopscope's end-to-end tests: where the fixtures and the shared zoo are, and
//! running the CLI in-process.
//!
//! Tests that need `../shared` (the model zoo and its anchors, beside the repository in CI)
//! call [`shared_dir`]: on a clone without it they print that they are skipped and pass, unless
//! `FLOPSCOPE_REQUIRE_SHARED=1` (set by `.ci/run`), which makes its absence a failure.

use std::io::Write;
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

/// `../shared` if present; `None` (after saying the test is skipped) if not. Panics when
/// `FLOPSCOPE_REQUIRE_SHARED=1` and it is missing.
pub fn shared_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("FLOPSCOPE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("..").join("shared"));
    if dir.join("zoo").join("ANCHORS.json").is_file() {
        return Some(dir);
    }
    if std::env::var("FLOPSCOPE_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!(
            "{test}: FLOPSCOPE_REQUIRE_SHARED=1 but {} has no zoo/ANCHORS.json",
            dir.display()
        );
    }
    // Written straight to stderr, past the test harness's capture, so that the skip shows.
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: {} not found (the shared model zoo is only beside the repository in CI)",
        dir.display()
    );
    None
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

/// Whether ONNX Runtime can be loaded here (`pip install onnxruntime`, or `ORT_DYLIB_PATH`).
/// Without it the test says it is skipped, unless `FLOPSCOPE_REQUIRE_ORT=1` (set by
/// `.ci/run`), which makes its absence a failure.
pub fn ort_available(test: &str) -> bool {
    match flopscope_ort::Runtime::load() {
        Ok(_) => true,
        Err(e) => {
            assert!(
                !std::env::var("FLOPSCOPE_REQUIRE_ORT").is_ok_and(|v| v == "1"),
                "{test}: FLOPSCOPE_REQUIRE_ORT=1 but ONNX Runtime cannot be loaded: {e}"
            );
            let _ = writeln!(std::io::stderr(), "skipped {test}: {e}");
            false
        }
    }
}
