//! The command line: `serve` (default), `migrate`, `check`, `openapi`.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::{
    config::{self, ConfigError, ProcessEnv, Settings},
    db::connect,
    startup::{self, Application, ExitStatus, StartupError},
    telemetry,
};

#[derive(Debug, Parser)]
#[command(
    name = "todo-api",
    version,
    about = "Multi-user Todo API backed by PostgreSQL (Neon)",
    long_about = "Multi-user Todo API backed by PostgreSQL (Neon).\n\n\
        Configuration comes from the environment and a `.env` file: DATABASE_URL and JWT_SECRET \
        are required; see .env.example for the rest.\n\n\
        Exit codes: 0 ok, 1 other failure, 2 bad configuration, 3 database unreachable, \
        4 schema problem."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate and verify the schema, then serve the API until SIGINT/SIGTERM (the default).
    Serve,
    /// Apply pending migrations over the direct connection, verify the schema, and exit.
    Migrate,
    /// Check configuration, connectivity and schema without changing anything; print a
    /// report and exit non-zero on any problem.
    Check,
    /// Print the OpenAPI document to stdout.
    Openapi {
        /// Output format.
        #[arg(long, value_enum, default_value_t = SpecFormat::Json)]
        format: SpecFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SpecFormat {
    Json,
    Yaml,
}

/// Runs a command and returns the process exit code, once its log lines are written out.
pub async fn run(cli: Cli) -> ExitCode {
    let code = run_command(cli).await;
    telemetry::finish();
    code
}

async fn run_command(cli: Cli) -> ExitCode {
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Migrate => migrate().await,
        Command::Check => return check().await,
        Command::Openapi { format } => {
            print_spec(format);
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("todo-api: {e}");
            e.exit_code().into()
        }
    }
}

#[allow(clippy::print_stdout)]
fn print_spec(format: SpecFormat) {
    match format {
        SpecFormat::Json => println!("{}", crate::api::spec_json()),
        SpecFormat::Yaml => println!("{}", crate::api::spec_yaml()),
    }
}

/// `.env`, then logging, then the settings: so even a bad setting is reported in the
/// configured log format.
fn load_settings() -> Result<Settings, ConfigError> {
    config::load_dotenv()?;
    telemetry::init(config::log_format(&ProcessEnv)?);
    Settings::from_env(&ProcessEnv)
}

async fn serve() -> Result<(), StartupError> {
    let settings = load_settings()?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting todo-api");
    let app = Application::build(settings).await?;
    app.run_until(startup::shutdown_signal())
        .await
        .map_err(|e| StartupError::Other(format!("server error: {e}")))
}

async fn migrate() -> Result<(), StartupError> {
    let settings = load_settings()?;
    let ready = startup::prepare_database(&settings.database, true).await?;
    if !ready.report.is_ok() {
        return Err(StartupError::Schema(ready.report.problems.join("; ")));
    }
    tracing::info!(
        "migrations applied; schema verified (version {})",
        ready.report.version.unwrap_or(0)
    );
    startup::log_newer_schema(&ready.report);
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn check() -> ExitCode {
    println!("todo-api check");
    let settings = match load_settings() {
        Ok(s) => s,
        Err(e) => {
            println!("  config    FAIL  {e}");
            return ExitStatus::Config.into();
        }
    };
    let db = &settings.database;
    println!(
        "  config    ok    DATABASE_URL={} ({})",
        db.url,
        connect::describe_tls(&db.url)
    );
    if let Some(direct) = &db.unpooled_url {
        println!("                  direct URL for migrations: {direct}");
    }
    let ready = match startup::prepare_database(db, false).await {
        Ok(r) => r,
        Err(e) => {
            println!("  database  FAIL  {e}");
            return e.exit_code().into();
        }
    };
    println!(
        "  database  ok    connected in {:.1} ms to PostgreSQL {}",
        ready.info.latency.as_secs_f64() * 1000.0,
        ready.info.version
    );
    let report = &ready.report;
    let version = report
        .version
        .map_or_else(|| "none".to_owned(), |v| v.to_string());
    if report.is_ok() {
        println!(
            "  schema    ok    version {version} of {}",
            report.expected_version
        );
        if !report.newer.is_empty() {
            println!(
                "                  newer than this build: migrations {:?} are a later release's; \
                 what this build uses is unchanged",
                report.newer
            );
        }
        ExitStatus::Ok.into()
    } else {
        println!(
            "  schema    FAIL  version {version} of {}, {} problem(s):",
            report.expected_version,
            report.problems.len()
        );
        for p in &report.problems {
            println!("                  - {p}");
        }
        ExitStatus::Schema.into()
    }
}
