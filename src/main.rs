//! The `ticketing` command: a thin shell over the library.

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use ticketing::config::Config;
use ticketing::store::{EventStore, database};

#[derive(Debug, Parser)]
#[command(name = "ticketing", version, about = "Event-sourced ticketing platform")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Migrate, then serve the API with the worker, the bus and the read models.
    Serve,
    /// Create the databases if missing and bring their schemas up to date.
    Migrate,
    /// Create (once) a published, on-sale demo event with a general and a numbered section.
    SeedDemo,
    /// Make `--email` an admin and print a one-time sign-in link for it.
    BootstrapAdmin {
        #[arg(long)]
        email: String,
    },
    /// Empty read models and replay them from the start of the event log.
    RebuildProjections {
        /// Only this read model (catalogue, availability, reservations, payments, sales, analytics).
        #[arg(long)]
        only: Option<String>,
    },
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

async fn migrate_all(config: &Config) -> Result<(sqlx::PgPool, sqlx::PgPool, sqlx::PgPool), sqlx::Error> {
    Ok((
        database::migrate_events(&config.database_url_events).await?,
        database::migrate(&config.database_url_projections, &database::PROJECTIONS_MIGRATOR).await?,
        database::migrate(&config.database_url_analytics, &database::ANALYTICS_MIGRATOR).await?,
    ))
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    match cli.command {
        Cmd::Serve => {
            ticketing::app::Application::build(config).await?.run_until_stopped().await?;
        }
        Cmd::Migrate => {
            migrate_all(&config).await?;
            database::migrate(&config.database_url_auth, &database::AUTH_MIGRATOR).await?;
            tracing::info!("databases migrated");
        }
        Cmd::SeedDemo => {
            migrate_all(&config).await?;
            let created = ticketing::demo::seed(&config).await.map_err(|e| e.to_string())?;
            eprintln!("{}", if created { "demo event created" } else { "demo event already there" });
        }
        Cmd::BootstrapAdmin { email } => {
            database::migrate(&config.database_url_auth, &database::AUTH_MIGRATOR).await?;
            let link = ticketing::demo::bootstrap_admin(&config, &email).await.map_err(|e| e.to_string())?;
            println!("{link}");
        }
        Cmd::RebuildProjections { only } => {
            let (events, projections, analytics) = migrate_all(&config).await?;
            let store = EventStore::new(events);
            let mut targets: Vec<(std::sync::Arc<dyn ticketing::projections::Projector>, sqlx::PgPool)> =
                ticketing::projections::all().into_iter().map(|p| (p, projections.clone())).collect();
            targets.push((std::sync::Arc::new(ticketing::analytics::AnalyticsEtl::default()), analytics.clone()));
            if let Some(name) = &only {
                targets.retain(|(p, _)| p.name() == name);
                if targets.is_empty() {
                    return Err(format!("no read model named {name:?}").into());
                }
            }
            for (projector, pool) in targets {
                let total = store.count_after(ticketing::store::LogPosition::default()).await?;
                ticketing::projections::reset(&pool, projector.as_ref()).await?;
                eprintln!("{}: replaying {total} events", projector.name());
                let mut done = 0;
                loop {
                    let n = ticketing::projections::catch_up_once(&store, &pool, projector.as_ref(), 2_000).await?;
                    if n == 0 {
                        break;
                    }
                    done += n;
                    eprintln!("{}: {done}/{total}", projector.name());
                }
                // Whatever became visible meanwhile (and events written during the rebuild).
                ticketing::projections::catch_up(&store, &pool, projector.as_ref(), 2_000).await?;
                if projector.name() == "analytics" {
                    ticketing::analytics::refresh(&pool).await?;
                }
                eprintln!("{}: rebuilt", projector.name());
            }
        }
    }
    Ok(())
}
