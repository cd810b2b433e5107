//! Creating and migrating the databases.

use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

pub static EVENTS_MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| newer_allowed(sqlx::migrate!("./migrations_events")));
pub static PROJECTIONS_MIGRATOR: LazyLock<Migrator> =
    LazyLock::new(|| newer_allowed(sqlx::migrate!("./migrations_projections")));
pub static ANALYTICS_MIGRATOR: LazyLock<Migrator> =
    LazyLock::new(|| newer_allowed(sqlx::migrate!("./migrations_analytics")));
pub static AUTH_MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| newer_allowed(sqlx::migrate!("./migrations_auth")));

/// A migrator that starts on a database a newer release has migrated further: every instance
/// migrates when it starts, and schema changes are expand/contract, so an instance of the
/// previous release that restarts during a rolling deploy, or one a rollback brings back, works
/// with the newer schema. By default sqlx refuses to start when the database has a migration
/// the binary does not know (`VersionMissing`); [`migrate`] keeps that refusal for a migration
/// older than this release's newest, which no newer release can have added.
fn newer_allowed(mut migrator: Migrator) -> Migrator {
    migrator.set_ignore_missing(true);
    migrator
}

/// Creates the database named in `url` if it does not exist (connecting to the server's
/// `postgres` database to do so).
///
/// # Errors
/// A malformed URL, an unreachable server, or missing privileges.
pub async fn ensure_database(url: &str) -> Result<(), sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?;
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let mut admin = options.clone().database("postgres").connect().await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut admin)
        .await?;
    if !exists {
        // Identifiers cannot be bound; quote it. Two instances racing here is harmless: the loser
        // gets duplicate_database (42P04), which is success for us.
        let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        if let Err(e) = sqlx::query(&sql).execute(&mut admin).await {
            let duplicate = matches!(&e, sqlx::Error::Database(db) if db.code().as_deref() == Some("42P04"));
            if !duplicate {
                return Err(e);
            }
        }
        tracing::info!(database = %name, "created database");
    }
    admin.close().await?;
    Ok(())
}

/// A pool for `url`.
///
/// # Errors
/// A malformed URL.
pub fn pool(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?;
    Ok(pool_options(max_connections).connect_lazy_with(options))
}

/// How long a pooled connection may sit unused before it is pinged when next taken.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Every pool's settings: at most `max_connections`, 5 s to get one, and a connection that sat
/// idle for [`PING_AFTER_IDLE`] or more pinged before use (a broken one is dropped and another
/// taken), so one left over from before a database restart is not handed out.
///
/// Not every connection, as sqlx does by default: in a flash sale connections go back and forth
/// within milliseconds, and a ping per acquire (a round trip before every group commit and every
/// read-model batch, about a thousand a second) was 2.5 % of the server's time in a profile of
/// the closed loop, and PostgreSQL's time too. A connection that breaks while in use fails its
/// statement as it would after a successful ping.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(connection).await?;
                }
                Ok(true)
            })
        })
}

/// Creates a database if missing and brings its schema up to date with `migrator`.
///
/// # Errors
/// As [`ensure_database`], or a failed migration.
pub async fn migrate(url: &str, migrator: &Migrator) -> Result<PgPool, sqlx::Error> {
    ensure_database(url).await?;
    let pool = pool(url, 5)?;
    refuse_a_lost_migration(&pool, migrator).await?;
    migrator.run(&pool).await?;
    Ok(pool)
}

/// Refuses a database that has run a migration this release lacks although it is older than
/// this release's newest: releases add migrations with later versions, so such a one was
/// deleted or renamed in this release's files, and the schema may not be what the code
/// expects. A migration newer than every one this release knows came from a newer release
/// (see [`newer_allowed`]); it is logged and allowed.
async fn refuse_a_lost_migration(pool: &PgPool, migrator: &Migrator) -> Result<(), sqlx::Error> {
    let applied: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, description FROM _sqlx_migrations ORDER BY version")
            .fetch_all(pool)
            .await
            .or_else(|error| match &error {
                // A database no migrator has run on yet.
                sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => Ok(Vec::new()),
                _ => Err(error),
            })?;
    let newest_known = migrator.iter().map(|m| m.version).max().unwrap_or(i64::MIN);
    for (version, description) in applied {
        if migrator.iter().any(|m| m.version == version) {
            continue;
        }
        if version < newest_known {
            return Err(sqlx::Error::Migrate(Box::new(sqlx::migrate::MigrateError::VersionMissing(version))));
        }
        tracing::warn!(version, %description, "the database has a migration from a newer release");
    }
    Ok(())
}

/// The events database, created and migrated.
///
/// # Errors
/// As [`migrate`].
pub async fn migrate_events(url: &str) -> Result<PgPool, sqlx::Error> {
    migrate(url, &EVENTS_MIGRATOR).await
}
