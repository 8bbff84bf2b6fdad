//! The `flopscope` command line: [`args`] holds what several commands take, [`commands`] one
//! module per command, and this module parses, dispatches and turns the outcome into an
//! [`ExitStatus`].
//!
//! Exit statuses: 0 success (also when the reader of the output went away: `flopscope ops |
//! head`); 1 the model could not be loaded or profiled (one line on stderr, with every cause);
//! 2 bad command-line usage; 3 a `diff --fail-above` gate failed.

pub(crate) mod args;
pub(crate) mod commands;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::{bench, compare, diff, generate, ops, profile, sweep};

#[derive(Debug, Parser)]
#[command(
    name = "flopscope",
    version,
    about = "What an ONNX model costs: MACs, FLOPs, params, memory"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Count the MACs, FLOPs, params and memory of a model, per node and in total.
    Profile(profile::Args),
    /// Count a model as thop, ptflops, fvcore, torch's FlopCounterMode and onnx-tool would,
    /// side by side and by op class, with what each counts and ignores.
    Compare(compare::Args),
    /// The totals over a grid of input sizes (the batch × resolution study), with ratios to
    /// the first point and how each total grows with the model's dims.
    Sweep(sweep::Args),
    /// What changed between two models or two JSON reports: totals with Δ and Δ%, then the
    /// modules and nodes added, removed and changed.
    Diff(diff::Args),
    /// What a generation costs on a decoder with a key/value cache: the prefill over the
    /// prompt, then one decode step per new token, in closed form from the formulas.
    Generate(generate::Args),
    /// Run the model in ONNX Runtime: latency, throughput and achieved GFLOPS, and the time,
    /// intensity and bound of every kernel, joined with flopscope's counts.
    Bench(bench::Args),
    /// List the ops flopscope can count, with their cost formulas.
    Ops(ops::Args),
}

/// How a run of the CLI ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done (or the reader of the output closed it).
    Success,
    /// The model could not be read, profiled or run.
    Error,
    /// The command line is wrong.
    Usage,
    /// A `diff --fail-above` gate did not hold.
    GateFailed,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Error => ExitCode::from(1),
            ExitStatus::Usage => ExitCode::from(2),
            ExitStatus::GateFailed => ExitCode::from(3),
        }
    }
}

/// A command line that parses but asks for something that cannot be (a negative size).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

/// The reader of the output closed it: nothing more to print, and nothing wrong.
#[derive(Debug, thiserror::Error)]
#[error("the output was closed")]
pub(crate) struct OutputClosed;

/// An error and its causes on one line, each cause once: a cause whose text its parent's
/// message already carries is not repeated.
pub fn cause_chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

/// Runs the CLI on the given arguments (the first is the program name), writing what it prints
/// to `out` and `err` (never in colour).
pub fn run_with<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_on(args, out, err, false).into()
}

/// What the output is: whether colour may be used, and how wide tables may be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Terminal {
    /// `out` is a terminal and `NO_COLOR` is unset.
    pub color: bool,
    /// Tables wrap long names and formulas to this many columns (a terminal's width).
    pub width: Option<u16>,
}

impl Terminal {
    /// Standard output as it is: colour on a terminal without `NO_COLOR`; the width of the
    /// terminal (`COLUMNS` when set), none when the output is a file or a pipe.
    pub fn stdout() -> Terminal {
        use std::io::IsTerminal;
        let tty = std::io::stdout().is_terminal();
        let columns = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse().ok());
        let measured = || terminal_size::terminal_size().map(|(w, _)| w.0);
        Terminal {
            color: tty && std::env::var_os("NO_COLOR").is_none(),
            width: if tty { columns.or_else(measured) } else { None },
        }
    }
}

/// [`run_with`], with colour allowed when `tty` (`out` is a terminal and `NO_COLOR` is unset).
pub fn run_on<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write, tty: bool) -> ExitStatus
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let term = Terminal {
        color: tty,
        width: None,
    };
    run_in(args, out, err, term)
}

/// [`run_with`] for an output described by `term`.
pub fn run_in<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write, term: Terminal) -> ExitStatus
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to `out` with status 0; usage errors to `err` with 2.
            let text = e.render().to_string();
            return if e.use_stderr() {
                let _ = write!(err, "{text}");
                ExitStatus::Usage
            } else {
                let _ = write!(out, "{text}");
                ExitStatus::Success
            };
        }
    };
    let result = match cli.command {
        Command::Profile(args) => profile::run(args, out, term),
        Command::Compare(args) => compare::run(args, out, term),
        Command::Sweep(args) => sweep::run(args, out, term),
        Command::Generate(args) => generate::run(args, out),
        Command::Diff(args) => diff::run(args, out, term),
        Command::Bench(args) => bench::run(args, out, term),
        Command::Ops(args) => ops::run(args, out, term),
    };
    match result {
        Ok(()) => ExitStatus::Success,
        Err(e) if e.is::<OutputClosed>() => ExitStatus::Success,
        Err(e) if e.is::<diff::GateFailed>() => {
            let _ = writeln!(err, "diff --fail-above: {e}");
            ExitStatus::GateFailed
        }
        Err(e) if e.is::<UsageError>() => {
            let _ = writeln!(err, "error: {e}");
            ExitStatus::Usage
        }
        Err(e) => {
            let _ = writeln!(err, "error: {}", cause_chain(&e));
            ExitStatus::Error
        }
    }
}

/// The entry point of the `flopscope` binary: `fn main() -> ExitCode { flopscope::cli::main() }`.
/// A binary that links plugin crates calls this too, after `use my_plugin as _;`.
pub fn main() -> ExitCode {
    run_in(
        std::env::args_os(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
        Terminal::stdout(),
    )
    .into()
}
