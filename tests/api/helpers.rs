//! What the black-box tests use beyond the shared support: the real binary and the contract
//! schema.

use std::{path::Path, process::Output};

pub use crate::support::*;

/// Runs the real binary with exactly `env` (nothing inherited but PATH), in `dir`.
pub fn run_binary(args: &[&str], env: &[(&str, &str)], dir: &Path) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_todo-api"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The contract schema that production databases were created with.
pub const CONTRACT_SQL: &str = include_str!("../fixtures/contract-schema.sql");
