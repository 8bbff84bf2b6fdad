//! `flopscope` with the example plugin linked in: the whole CLI, plus `com.example::FusedMLP`.

use std::process::ExitCode;

// Linking the plugin is all it takes: its `inventory::submit!` records join the registry.
use flopscope_plugin_example as _;

fn main() -> ExitCode {
    flopscope::cli::main()
}
