//! The `flopscope` binary.

/// Decoding, profiling and reporting make many small allocations (names, dims, report rows);
/// mimalloc serves them in a fraction of the system allocator's instructions.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    flopscope::cli::main()
}
