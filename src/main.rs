use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: faster for the many small allocations of a
/// request, and it hands memory back to the OS (glibc keeps each thread arena's freed
/// password-hashing buffers, ~19 MiB each, for good).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    todo_api::cli::run(todo_api::cli::Cli::parse()).await
}
