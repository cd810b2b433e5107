//! Creating and migrating the databases.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

pub static EVENTS_MIGRATOR: Migrator = sqlx::migrate!("./migrations_events");
pub static PROJECTIONS_MIGRATOR: Migrator = sqlx::migrate!("./migrations_projections");
pub static ANALYTICS_MIGRATOR: Migrator = sqlx::migrate!("./migrations_analytics");
pub static AUTH_MIGRATOR: Migrator = sqlx::migrate!("./migrations_auth");

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
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options))
}

/// Creates a database if missing and brings its schema up to date with `migrator`.
///
/// # Errors
/// As [`ensure_database`], or a failed migration.
pub async fn migrate(url: &str, migrator: &Migrator) -> Result<PgPool, sqlx::Error> {
    ensure_database(url).await?;
    let pool = pool(url, 5)?;
    migrator.run(&pool).await?;
    Ok(pool)
}

/// The events database, created and migrated.
///
/// # Errors
/// As [`migrate`].
pub async fn migrate_events(url: &str) -> Result<PgPool, sqlx::Error> {
    migrate(url, &EVENTS_MIGRATOR).await
}
