use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    todo_api::cli::run(todo_api::cli::Cli::parse()).await
}
