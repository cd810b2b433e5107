//! The `ticketing` command: a thin shell over the library.

use std::io::Write as _;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use ticketing::config::Config;
use ticketing::store::{EventStore, database};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Print the OpenAPI document (`/api/openapi.json`) without serving: the web app's API types
    /// are generated from it.
    Openapi,
    /// Effects that gave up (parked after their last attempt): list them, or retry them.
    Effects {
        #[command(subcommand)]
        action: EffectsCmd,
    },
    /// Empty read models and replay them from the start of the event log.
    RebuildProjections {
        /// Only this read model (catalogue, availability, reservations, payments, sales, analytics).
        #[arg(long)]
        only: Option<String>,
    },
    /// Exit 0 when this machine's server answers `GET /health` with 200 within 3 s (the
    /// container image's HEALTHCHECK: no curl in a slim image).
    Healthcheck {
        /// Defaults to the port of `HTTP_ADDR` on 127.0.0.1.
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum EffectsCmd {
    /// Every parked row: id, kind, target, attempts, last error. Refunds here are money owed.
    Parked,
    /// Put parked rows back in the queue, due now (after fixing what made them fail).
    Retry {
        /// One row.
        #[arg(long, conflicts_with = "kind")]
        id: Option<i64>,
        /// Every parked row of a kind: command, charge or refund.
        #[arg(long)]
        kind: Option<String>,
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
    if let Cmd::Openapi = cli.command {
        // A closed pipe (`| head`) is not an error worth a panic.
        let _ = writeln!(std::io::stdout(), "{}", ticketing::http::openapi::document().to_pretty_json()?);
        return Ok(());
    }
    if let Cmd::Healthcheck { url } = &cli.command {
        return healthcheck(url.clone()).await;
    }
    let config = Config::from_env()?;
    match cli.command {
        Cmd::Openapi | Cmd::Healthcheck { .. } => {}
        Cmd::Effects { action } => {
            let pool = database::migrate_events(&config.database_url_events).await?;
            match action {
                EffectsCmd::Parked => {
                    let rows = ticketing::store::effects::parked(&pool).await?;
                    println!(
                        "{:>8}  {:<8} {:<50} {:>8}  {:<25}  last error",
                        "id", "kind", "target", "attempts", "parked at"
                    );
                    for row in &rows {
                        let at = row.failed_at.map(|t| t.to_rfc3339()).unwrap_or_default();
                        let error = row.last_error.as_deref().unwrap_or("");
                        println!(
                            "{:>8}  {:<8} {:<50} {:>8}  {:<25}  {error}",
                            row.id, row.kind, row.target_stream, row.attempts, at
                        );
                    }
                    eprintln!("{} parked", rows.len());
                }
                EffectsCmd::Retry { id, kind } => {
                    let kind = match kind.as_deref() {
                        None => None,
                        Some(k) => Some(
                            ticketing::store::effects::EffectKind::parse(k)
                                .ok_or_else(|| format!("--kind must be command, charge or refund, not {k:?}"))?,
                        ),
                    };
                    let count = ticketing::store::effects::retry_parked(&pool, id, kind).await?;
                    eprintln!("{count} row(s) queued again; a running worker carries them out now");
                }
            }
        }
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
                ticketing::projections::all(&store).into_iter().map(|p| (p, projections.clone())).collect();
            targets
                .push((std::sync::Arc::new(ticketing::analytics::AnalyticsEtl::new(store.clone())), analytics.clone()));
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

async fn healthcheck(url: Option<String>) -> Result<(), Box<dyn std::error::Error>> {
    let url = url.unwrap_or_else(|| {
        let addr = std::env::var("HTTP_ADDR").unwrap_or_else(|_| "0.0.0.0:8080".into());
        let port = addr.rsplit(':').next().unwrap_or("8080").to_owned();
        format!("http://127.0.0.1:{port}/health")
    });
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
    let status = client.get(&url).send().await?.status();
    if status.is_success() { Ok(()) } else { Err(format!("{url} answered {status}").into()) }
}
