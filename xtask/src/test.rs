//! `cargo xtask test`: every test, Rust and Python, in one command (the README's).
//!
//! First `cargo test --workspace`, then the Python package: `pip install ./crates/flopscope-py`
//! into a virtual environment (`target/py-venv` unless `--venv` names another, such as CI's
//! cached one with PyTorch) and its pytest suite. Without a Python that can make a venv, the
//! Python part is skipped with the reason, unless `FLOPSCOPE_REQUIRE_PYTHON=1` (set by
//! `.ci/run`) makes that a failure. The pytest suite skips what needs PyTorch, ONNX Runtime or
//! `../shared` the same way, under its own `FLOPSCOPE_REQUIRE_*` variables.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The Python that makes the virtual environment.
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// The virtual environment the package is installed into (made if absent).
    #[arg(long)]
    venv: Option<PathBuf>,
    /// Only the Rust tests.
    #[arg(long)]
    no_python: bool,
    /// Arguments passed on to `cargo test` (after `--`).
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

fn status(command: &mut Command) -> Result<()> {
    let shown = format!("{command:?}");
    println!("\n$ {shown}");
    let status = command
        .status()
        .with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// Whether `python` runs `code` successfully (quietly).
fn python_ok(python: &Path, code: &str) -> bool {
    Command::new(python)
        .args(["-c", code])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub(crate) fn main(args: Args) -> Result<()> {
    let root = crate::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    status(
        Command::new(&cargo)
            .current_dir(&root)
            .args(["test", "--workspace", "--locked"])
            .args(&args.cargo_args),
    )?;
    if args.no_python {
        println!("\nthe Python package's tests: skipped (--no-python)");
        return Ok(());
    }
    let venv = args.venv.unwrap_or_else(|| root.join("target/py-venv"));
    let python = venv.join("bin/python");
    if !python.exists() {
        let made = Command::new(&args.python)
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status();
        if !made.as_ref().is_ok_and(|s| s.success()) {
            let why = match made {
                Ok(s) => format!("`{} -m venv` failed ({s})", args.python.display()),
                Err(e) => format!("cannot run {}: {e}", args.python.display()),
            };
            if std::env::var_os("FLOPSCOPE_REQUIRE_PYTHON").is_some_and(|v| v == "1") {
                bail!("FLOPSCOPE_REQUIRE_PYTHON=1, but {why}");
            }
            println!(
                "\nthe Python package's tests: SKIPPED, {why} (they need python3 with venv \
                 and pip)"
            );
            return Ok(());
        }
    }
    // `pip install` from the workspace root, its Rust builds in the workspace's target.
    let pip = |packages: &[&str]| -> Result<()> {
        status(
            Command::new(&python)
                .current_dir(&root)
                .env("CARGO_TARGET_DIR", root.join("target"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(packages),
        )
    };
    if !python_ok(&python, "import pytest, jsonschema") {
        pip(&["pytest", "jsonschema"])?;
    }
    pip(&["./crates/flopscope-py"])?;
    status(Command::new(&python).current_dir(&root).args([
        "-m",
        "pytest",
        "-q",
        "-rs",
        "crates/flopscope-py/tests",
    ]))
}
