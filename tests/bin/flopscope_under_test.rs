//! The `flopscope` command line exactly as `crates/flopscope/src/main.rs` builds it, for
//! `tests/hostile.rs` to run as a subprocess (Cargo tells integration tests where their own
//! package's binaries are, not another package's).
//!
//! With `FLOPSCOPE_PEAK_RSS_FILE` set, it writes its peak resident set size in KiB (`VmHWM` of
//! `/proc/self/status`) to that file once the command is done; a process that dies on the way
//! writes nothing, and its exit status tells the test why.

fn main() -> std::process::ExitCode {
    let code = flopscope::cli::main();
    if let Some(file) = std::env::var_os("FLOPSCOPE_PEAK_RSS_FILE") {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let peak = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .map(|v| v.trim().trim_end_matches("kB").trim().to_owned())
            .unwrap_or_default();
        let _ = std::fs::write(file, peak);
    }
    code
}
