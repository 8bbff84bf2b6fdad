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
    /// CPU time, user and system (`ru_utime + ru_stime`): unlike wall time, barely moved by
    /// other processes competing for the cores.
    pub cpu: Duration,
    /// `Err(line)`: the command failed; `line` says why (see [`error_line`]).
    pub outcome: Result<(), String>,
}

/// Runs `command` with its standard output discarded and waits for it: wall time from
/// before the fork to the reaping, the child's peak RSS, its exit status. This is the
/// helper's work; call it in a process whose own RSS is small (see the module doc).
pub(crate) fn fork_and_wait(
    command: &mut Command,
) -> Result<(Duration, u64, Duration, ExitStatus)> {
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
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    let cpu = time(usage.ru_utime) + time(usage.ru_stime);
    Ok((wall, peak_rss, cpu, ExitStatus::from_raw(status)))
}

/// The helper's entry point (`xtask measure-child -- CMD...`): runs the command, passes its
/// standard error through, and prints one line: `<wall ns> <peak RSS bytes> <status>`.
pub(crate) fn child_main(command: &[OsString]) -> Result<()> {
    let Some((program, args)) = command.split_first() else {
        bail!("measure-child: no command given");
    };
    let mut cmd = Command::new(program);
    cmd.args(args).stderr(Stdio::inherit());
    let (wall, peak_rss, cpu, status) = fork_and_wait(&mut cmd)?;
    println!(
        "{} {peak_rss} {} {}",
        wall.as_nanos(),
        cpu.as_nanos(),
        status_word(&status)
    );
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
pub(crate) fn parse_report(line: &str) -> Option<(Duration, u64, Duration, String)> {
    let mut fields = line.split_whitespace();
    let wall = Duration::from_nanos(fields.next()?.parse().ok()?);
    let peak_rss = fields.next()?.parse().ok()?;
    let cpu = Duration::from_nanos(fields.next()?.parse().ok()?);
    let status = fields.next()?.to_owned();
    fields
        .next()
        .is_none()
        .then_some((wall, peak_rss, cpu, status))
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
    let Some((wall, peak_rss, cpu, status)) = report else {
        // The helper itself failed: the command could not be started.
        return Ok(Run {
            wall: Duration::ZERO,
            peak_rss: 0,
            cpu: Duration::ZERO,
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
        cpu,
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
    Measured {
        wall: Duration,
        peak_rss: u64,
        cpu: Duration,
    },
    /// The command failed (at the warm-up or any run): why.
    Failed(String),
}

impl Cell {
    /// The median CPU time, if measured.
    pub(crate) fn cpu(&self) -> Option<Duration> {
        match self {
            Cell::Measured { cpu, .. } => Some(*cpu),
            Cell::Failed(_) => None,
        }
    }

    /// The median wall time and peak RSS, if measured.
    pub(crate) fn measured(&self) -> Option<(Duration, u64)> {
        match self {
            Cell::Measured { wall, peak_rss, .. } => Some((*wall, *peak_rss)),
            Cell::Failed(_) => None,
        }
    }
}

/// Measures `count` commands taking turns: each runs once to warm up (file cache, dynamic
/// loader), then `runs` rounds run each once, so a slow spell of the machine (another
/// process's burst) touches every command alike instead of one command's whole sample.
/// `run_once(i)` runs command `i`. A command that fails stops being run; its cell is its
/// first failure. The other cells hold the medians.
pub(crate) fn sample_interleaved(
    runs: usize,
    count: usize,
    mut run_once: impl FnMut(usize) -> Result<Run>,
) -> Result<Vec<Cell>> {
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    let mut failed: Vec<Option<String>> = vec![None; count];
    let mut walls = vec![Vec::with_capacity(runs); count];
    let mut rss = vec![Vec::with_capacity(runs); count];
    let mut cpu = vec![Vec::with_capacity(runs); count];
    for round in 0..=runs {
        for i in 0..count {
            if failed[i].is_some() {
                continue;
            }
            let run = run_once(i)?;
            match run.outcome {
                Err(line) => failed[i] = Some(line),
                Ok(()) if round > 0 => {
                    walls[i].push(run.wall.as_secs_f64());
                    rss[i].push(run.peak_rss as f64);
                    cpu[i].push(run.cpu.as_secs_f64());
                }
                Ok(()) => {}
            }
        }
    }
    Ok((0..count)
        .map(|i| {
            let medians = (median(&walls[i]), median(&rss[i]), median(&cpu[i]));
            match (&failed[i], medians) {
                (Some(line), _) => Cell::Failed(line.clone()),
                (None, (Some(wall), Some(peak_rss), Some(cpu))) => Cell::Measured {
                    wall: Duration::from_secs_f64(wall),
                    peak_rss: peak_rss.round() as u64,
                    cpu: Duration::from_secs_f64(cpu),
                },
                (None, _) => Cell::Failed("not measured".to_owned()),
            }
        })
        .collect())
}

/// The number of CPUs and the load averages (`/proc/loadavg`), to read the times by.
pub(crate) fn machine_load() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| {
            let f: Vec<&str> = l.split_whitespace().take(3).collect();
            (f.len() == 3).then(|| f.join(" "))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{cpus} CPUs, load average {load} (1, 5, 15 min)")
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

/// The arguments of `cargo xtask measure-child`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub(crate) command: Vec<std::ffi::OsString>,
}

/// `cargo xtask measure-child`.
pub(crate) fn main(args: Args) -> anyhow::Result<()> {
    let Args { command } = args;
    crate::measure::child_main(&command)
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
            parse_report("1500000 8388608 1000000 exit:0"),
            Some((
                Duration::from_micros(1500),
                8 << 20,
                Duration::from_millis(1),
                "exit:0".to_owned()
            ))
        );
        assert_eq!(parse_report("1500000 8388608 exit:0"), None);
        assert_eq!(parse_report("1 2 3 exit:0 extra"), None);
        assert_eq!(parse_report("soon 2 3 exit:0"), None);
    }

    #[test]
    fn a_failure_at_any_run_is_the_cell() {
        let mut calls = 0;
        let cell = sample_interleaved(5, 1, |_| {
            calls += 1;
            Ok(Run {
                wall: Duration::from_millis(calls),
                peak_rss: 1 << 20,
                cpu: Duration::from_millis(calls),
                outcome: if calls == 3 {
                    Err("boom".to_owned())
                } else {
                    Ok(())
                },
            })
        })
        .unwrap();
        assert_eq!((cell, calls), (vec![Cell::Failed("boom".to_owned())], 3));

        // The warm-up (1 ms) is left out: the median of 2..=6 ms is 4 ms.
        let mut calls = 0;
        let cell = sample_interleaved(5, 1, |_| {
            calls += 1;
            Ok(Run {
                wall: Duration::from_millis(calls),
                peak_rss: calls << 20,
                cpu: Duration::from_millis(7 - calls),
                outcome: Ok(()),
            })
        })
        .unwrap();
        assert_eq!(
            cell,
            [Cell::Measured {
                wall: Duration::from_millis(4),
                peak_rss: 4 << 20,
                cpu: Duration::from_millis(3),
            }]
        );
    }

    #[test]
    fn commands_take_turns_and_a_failure_stops_only_its_command() {
        let mut order = Vec::new();
        let cells = sample_interleaved(2, 3, |i| {
            order.push(i);
            Ok(Run {
                wall: Duration::from_millis(10 * (i as u64 + 1) + order.len() as u64),
                peak_rss: 1 << 20,
                cpu: Duration::ZERO,
                outcome: if i == 1 && order.len() > 3 {
                    Err("second run of 1 failed".to_owned())
                } else {
                    Ok(())
                },
            })
        })
        .unwrap();
        // Warm-up 0 1 2, round 0 1 2 (1 fails), round 0 2.
        assert_eq!(order, [0, 1, 2, 0, 1, 2, 0, 2]);
        assert_eq!(cells[1], Cell::Failed("second run of 1 failed".to_owned()));
        // Command 0's timed runs: 10 + 4 and 10 + 7 ms; command 2's: 30 + 6 and 30 + 8 ms.
        assert_eq!(
            cells[0].measured().unwrap().0,
            Duration::from_micros(15_500)
        );
        assert_eq!(cells[2].measured().unwrap().0, Duration::from_millis(37));
        assert!(sample_interleaved(0, 1, |_| unreachable!()).is_err());
    }

    #[test]
    fn fork_and_wait_reads_the_status_time_and_peak_memory() {
        let (wall, _, _, status) =
            fork_and_wait(Command::new("sh").args(["-c", "exit 3"])).unwrap();
        assert_eq!(status.code(), Some(3));
        assert!(wall > Duration::ZERO);

        // dd holds (and fills) one 64 MiB block: its peak RSS is at least that. (A child
        // forked from here starts from a copy of this test process, whose resident size is
        // its floor; the helper process exists so that floor is small in the benchmarks.)
        let (wall, peak_rss, cpu, status) = fork_and_wait(Command::new("dd").args([
            "if=/dev/zero",
            "of=/dev/null",
            "bs=64M",
            "count=1",
        ]))
        .unwrap();
        assert!(status.success());
        assert!(peak_rss >= 64 << 20, "{peak_rss}");
        // Zeroing 64 MiB takes the kernel some time, and one thread cannot use more CPU
        // than wall time (rusage counts in microseconds).
        assert!(
            cpu > Duration::ZERO && cpu <= wall + Duration::from_millis(1),
            "{cpu:?}"
        );
    }
}
