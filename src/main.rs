//! The `ticketing` command: a thin shell over the library.

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use ticketing::config::Config;
use ticketing::store::database;

#[derive(Debug, Parser)]
#[command(name = "ticketing", version, about = "Event-sourced ticketing platform")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Create the databases if missing and bring their schemas up to date.
    Migrate,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if json {
        tracing_subscriber::fmt().json().with_writer(std::io::stderr).with_env_filter(filter).init();
    } else {
        tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).init();
    }
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    match cli.command {
        Cmd::Migrate => {
            database::migrate_events(&config.database_url_events).await?;
            tracing::info!("events database migrated");
        }
    }
    Ok(())
}
