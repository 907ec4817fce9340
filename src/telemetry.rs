//! Logging: human-readable text or one JSON object per line, filtered by `RUST_LOG`.

use std::{
    io::{BufWriter, IsTerminal},
    sync::{Mutex, PoisonError},
};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

/// sqlx logs every statement at info; keep that at warn unless RUST_LOG asks for it.
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Installs the global subscriber; logs go to stderr so stdout stays for command output.
/// Call [`finish`] before the process exits.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let registry = tracing_subscriber::registry().with(filter);
    // Lines are written to stderr by a thread of their own, buffered while more are queued:
    // a request hands its line over instead of making a write system call, and under load
    // one call writes many lines. Never lossy: past 128 000 queued lines, a request waits.
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("todo-api-log")
        .finish(BufWriter::with_capacity(64 * 1024, std::io::stderr()));
    let result = match format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_writer(writer)
                    .with_target(false)
                    // Colour codes are for people at a terminal, not for files and collectors.
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_writer(writer)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
    };
    // A subscriber is already installed (tests start several apps in one process): keep it,
    // and let this writer's thread end.
    if result.is_ok() {
        *writer_guard() = Some(guard);
    }
}

/// Kept until [`finish`]: its drop writes out what is queued and ends the writer's thread.
static WRITER: Mutex<Option<WorkerGuard>> = Mutex::new(None);

fn writer_guard() -> std::sync::MutexGuard<'static, Option<WorkerGuard>> {
    WRITER.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes out every line logged so far; called once the command is done, before the process
/// exits (lines logged afterwards go nowhere).
pub fn finish() {
    drop(writer_guard().take());
}
