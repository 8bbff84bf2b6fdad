//! Whole-process wall time and peak resident memory of a command, for `bench-peers` and
//! `bench-weights`.
//!
//! Peak RSS is the `ru_maxrss` that `wait4` returns for the reaped child (the kernel's
//! high-water mark of its resident pages, file-backed pages of a mapped model included). One
//! Linux detail decides how the child is started: at `exec`, the kernel keeps the high-water
//! RSS of the address space being replaced as a floor of the new program's `ru_maxrss`. A
//! child spawned straight from xtask would report at least xtask's own peak (half a gigabyte
//! once `bench-weights` has written its inline model). So every measurement goes through a
//! fresh helper process, xtask re-executed as `xtask measure-child -- CMD...`: the helper
//! forks (the copy of its small address space is the floor, well under a mebibyte), the child
//! execs, and the helper times from before the fork to the reaping and reads the child's
//! rusage. The helper's own start-up is outside the timed span.

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// What one run of a command cost, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run {
    pub wall: Duration,
    /// Peak resident set size in bytes.
    pub peak_rss: u64,
    /// `Err(line)`: the command failed; `line` says why (see [`error_line`]).
    pub outcome: Result<(), String>,
}

/// Runs `command` with its standard output discarded and waits for it: wall time from
/// before the fork to the reaping, the child's peak RSS, its exit status. This is the
/// helper's work; call it in a process whose own RSS is small (see the module doc).
pub(crate) fn fork_and_wait(command: &mut Command) -> Result<(Duration, u64, ExitStatus)> {
    command.stdin(Stdio::null()).stdout(Stdio::null());
    // A `pre_exec` hook makes the standard library fork instead of posix_spawn (which shares
    // this process's whole address space with the child until exec, so its high-water mark
    // would be the floor).
    // SAFETY: the hook does nothing, so it is async-signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(|| Ok(()));
    }
    let start = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("cannot run {:?}", command.get_program()))?;
    let pid = libc::pid_t::try_from(child.id()).context("process id out of range")?;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data, for which all zero bytes is a valid value.
    #[allow(unsafe_code)]
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types; `pid` is our child,
        // not yet reaped (`child` is never waited on by the standard library).
        #[allow(unsafe_code)]
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error).context("wait4 failed");
        }
    }
    let wall = start.elapsed();
    // Linux reports ru_maxrss in KiB.
    let peak_rss = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
    Ok((wall, peak_rss, ExitStatus::from_raw(status)))
}

/// The helper's entry point (`xtask measure-child -- CMD...`): runs the command, passes its
/// standard error through, and prints one line: `<wall ns> <peak RSS bytes> <status>`.
pub(crate) fn child_main(command: &[OsString]) -> Result<()> {
    let Some((program, args)) = command.split_first() else {
        bail!("measure-child: no command given");
    };
    let mut cmd = Command::new(program);
    cmd.args(args).stderr(Stdio::inherit());
    let (wall, peak_rss, status) = fork_and_wait(&mut cmd)?;
    println!("{} {peak_rss} {}", wall.as_nanos(), status_word(&status));
    Ok(())
}

/// `exit:N` or `signal:N`.
fn status_word(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit:{code}"),
        (None, Some(signal)) => format!("signal:{signal}"),
        (None, None) => "exit:?".to_owned(),
    }
}

/// Parses the helper's report line.
pub(crate) fn parse_report(line: &str) -> Option<(Duration, u64, String)> {
    let mut fields = line.split_whitespace();
    let wall = Duration::from_nanos(fields.next()?.parse().ok()?);
    let peak_rss = fields.next()?.parse().ok()?;
    let status = fields.next()?.to_owned();
    fields.next().is_none().then_some((wall, peak_rss, status))
}

/// Runs `command` once through the helper `helper` (the xtask binary).
pub(crate) fn measure(helper: &Path, command: &[OsString]) -> Result<Run> {
    let output = Command::new(helper)
        .arg("measure-child")
        .arg("--")
        .args(command)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start the measuring helper {}", helper.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report = stdout.lines().last().and_then(parse_report);
    let Some((wall, peak_rss, status)) = report else {
        // The helper itself failed: the command could not be started.
        return Ok(Run {
            wall: Duration::ZERO,
            peak_rss: 0,
            outcome: Err(error_line(&stderr, "the command could not be started")),
        });
    };
    let outcome = if status == "exit:0" {
        Ok(())
    } else {
        Err(error_line(&stderr, &status.replace(':', " ")))
    };
    Ok(Run {
        wall,
        peak_rss,
        outcome,
    })
}

/// The line of a failed command's standard error that says what went wrong: for a Python
/// traceback the exception (its last line), else the first non-empty line, else `fallback`
/// (the exit status).
pub(crate) fn error_line(stderr: &str, fallback: &str) -> String {
    let mut lines = stderr.lines().map(str::trim_end).filter(|l| !l.is_empty());
    let line = if stderr.contains("Traceback (most recent call last):") {
        lines.rfind(|l| !l.starts_with(' '))
    } else {
        lines.map(str::trim).next()
    };
    line.map_or_else(|| fallback.to_owned(), str::to_owned)
}

/// The median of a sample (the mean of the middle two for an even count); `None` if empty.
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// What a command costs, measured `runs` times after a warm-up.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    /// Medians over the runs.
    Measured { wall: Duration, peak_rss: u64 },
    /// The command failed (at the warm-up or any run): why.
    Failed(String),
}

impl Cell {
    /// The median wall time and peak RSS, if measured.
    pub(crate) fn measured(&self) -> Option<(Duration, u64)> {
        match self {
            Cell::Measured { wall, peak_rss } => Some((*wall, *peak_rss)),
            Cell::Failed(_) => None,
        }
    }
}

/// Runs `command` once to warm up (file cache, dynamic loader), then `runs` times, through
/// `run_once`; the cell holds the medians, or the first failure.
pub(crate) fn sample(runs: usize, mut run_once: impl FnMut() -> Result<Run>) -> Result<Cell> {
    let mut walls = Vec::with_capacity(runs);
    let mut rss = Vec::with_capacity(runs);
    for i in 0..=runs {
        let run = run_once()?;
        if let Err(line) = run.outcome {
            return Ok(Cell::Failed(line));
        }
        if i > 0 {
            walls.push(run.wall.as_secs_f64());
            rss.push(run.peak_rss as f64);
        }
    }
    match (median(&walls), median(&rss)) {
        (Some(wall), Some(peak_rss)) => Ok(Cell::Measured {
            wall: Duration::from_secs_f64(wall),
            peak_rss: peak_rss.round() as u64,
        }),
        _ => bail!("--runs must be at least 1"),
    }
}

/// `12.3 ms`.
pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// `8.1 MiB`.
pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}

/// Builds the release `flopscope` binary (incremental: `cargo xtask` already built the
/// libraries in release) and returns its path.
pub(crate) fn build_flopscope() -> Result<std::path::PathBuf> {
    let root = crate::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building the release flopscope binary (cargo build --release -p flopscope)");
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--quiet", "--release", "-p", "flopscope"])
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo build --release -p flopscope failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let binary = target.join("release/flopscope");
    if !binary.is_file() {
        bail!("{} not found after the build", binary.display());
    }
    Ok(binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 4.0]), Some(4.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 10.0]), Some(3.5));
    }

    #[test]
    fn error_lines() {
        let traceback = "Traceback (most recent call last):\n  File \"x.py\", line 3, in <module>\n    \
                         f()\nValueError: cannot select an axis\n";
        assert_eq!(
            error_line(traceback, "exit 1"),
            "ValueError: cannot select an axis"
        );
        assert_eq!(
            error_line(
                "\nerror: model.onnx: not a valid ONNX model\nmore\n",
                "exit 1"
            ),
            "error: model.onnx: not a valid ONNX model"
        );
        assert_eq!(error_line("  \n", "signal 9"), "signal 9");
    }

    #[test]
    fn report_lines() {
        assert_eq!(
            parse_report("1500000 8388608 exit:0"),
            Some((Duration::from_micros(1500), 8 << 20, "exit:0".to_owned()))
        );
        assert_eq!(parse_report("1500000 8388608"), None);
        assert_eq!(parse_report("1 2 exit:0 extra"), None);
        assert_eq!(parse_report("soon 2 exit:0"), None);
    }

    #[test]
    fn a_failure_at_any_run_is_the_cell() {
        let mut calls = 0;
        let cell = sample(5, || {
            calls += 1;
            Ok(Run {
                wall: Duration::from_millis(calls),
                peak_rss: 1 << 20,
                outcome: if calls == 3 {
                    Err("boom".to_owned())
                } else {
                    Ok(())
                },
            })
        })
        .unwrap();
        assert_eq!((cell, calls), (Cell::Failed("boom".to_owned()), 3));

        // The warm-up (1 ms) is left out: the median of 2..=6 ms is 4 ms.
        let mut calls = 0;
        let cell = sample(5, || {
            calls += 1;
            Ok(Run {
                wall: Duration::from_millis(calls),
                peak_rss: calls << 20,
                outcome: Ok(()),
            })
        })
        .unwrap();
        assert_eq!(
            cell,
            Cell::Measured {
                wall: Duration::from_millis(4),
                peak_rss: 4 << 20
            }
        );
    }

    #[test]
    fn fork_and_wait_reads_the_status_time_and_peak_memory() {
        let (wall, _, status) = fork_and_wait(Command::new("sh").args(["-c", "exit 3"])).unwrap();
        assert_eq!(status.code(), Some(3));
        assert!(wall > Duration::ZERO);

        // dd holds (and fills) one 64 MiB block: its peak RSS is at least that. (A child
        // forked from here starts from a copy of this test process, whose resident size is
        // its floor; the helper process exists so that floor is small in the benchmarks.)
        let (_, peak_rss, status) = fork_and_wait(Command::new("dd").args([
            "if=/dev/zero",
            "of=/dev/null",
            "bs=64M",
            "count=1",
        ]))
        .unwrap();
        assert!(status.success());
        assert!(peak_rss >= 64 << 20, "{peak_rss}");
    }
}
