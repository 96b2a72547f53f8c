//! The `tessera` binary: parse the command line and hand over to the library.
use std::process::ExitCode;

fn main() -> ExitCode {
    // Before any thread allocates: the arena limit holds only for arenas made after it.
    tessera::hashing::tune_allocator();
    tessera::cli::main()
}
