//! The `flopscope` binary.

fn main() -> std::process::ExitCode {
    flopscope::cli::main()
}
