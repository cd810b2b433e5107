//! Read models: one module per projection (its `apply` and its queries), and the machinery that
//! feeds them.
//!
//! A projector applies a batch of events in one transaction that also records, for every stream
//! it touched, the last version applied, and (for the in-process source) its checkpoint in the
//! global log. A redelivered event (version not above the recorded one) is skipped, so delivery
//! at least once has effect exactly once, and a projector killed mid-batch resumes where its last
//! committed batch ended.

pub mod availability;
pub mod catalogue;
pub mod payments;
pub mod reservations;
pub mod sales;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use crate::bus::{BusError, BusEvent, DomainEvent};
use crate::store::{EventStore, LogPosition, StoreError};

/// A read model fed by events.
pub trait Projector: Send + Sync + 'static {
    /// Unique name: its checkpoint row and `--only NAME`.
    fn name(&self) -> &'static str;
    /// Tables it owns, emptied by a rebuild.
    fn tables(&self) -> &'static [&'static str];
    /// Whether it needs this event at all.
    fn wants(&self, event: &DomainEvent) -> bool;
    /// Applies one event inside the batch's transaction.
    fn apply<'a>(&'a self, tx: &'a mut PgConnection, event: &'a BusEvent) -> BoxFuture<'a, Result<(), sqlx::Error>>;
    /// Runs after a committed batch that changed something (e.g. refresh a materialized view).
    fn after_batch<'a>(&'a self, _pool: &'a PgPool) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async { Ok(()) })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("projection database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("{0} could not catch up: a transaction has been held open on the events database too long")]
    Behind(&'static str),
}

/// The read models of the projections database, in the order they are listed to operators.
pub fn all() -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(catalogue::Catalogue),
        Arc::new(availability::Availability),
        Arc::new(reservations::Reservations),
        Arc::new(payments::Payments),
        Arc::new(sales::Sales),
    ]
}

/// Applies `events` (in log order) and, when given, moves the checkpoint to `checkpoint`, all in
/// one transaction. Returns how many events changed the read model.
///
/// # Errors
/// The database; nothing of the batch is applied then.
pub async fn apply_batch(
    pool: &PgPool,
    projector: &dyn Projector,
    events: &[BusEvent],
    checkpoint: Option<LogPosition>,
) -> Result<usize, ProjectionError> {
    let wanted: Vec<&BusEvent> = events.iter().filter(|e| projector.wants(&e.event)).collect();
    let mut tx = pool.begin().await?;
    let mut applied = 0;
    if !wanted.is_empty() {
        let mut streams: Vec<&str> = wanted.iter().map(|e| e.stream_id.as_str()).collect();
        streams.sort_unstable();
        streams.dedup();
        // One primary-key probe per stream, whatever the statistics say. `stream_id = ANY($2)`
        // let a generic plan made while the table was small (or never analysed: autovacuum off)
        // scan every stream of the projector per batch: a fifth of PostgreSQL's time in a flash
        // sale.
        let known: Vec<(String, i64)> = sqlx::query_as(
            "SELECT p.stream_id, p.version FROM unnest($2::text[]) AS s(stream_id)
             CROSS JOIN LATERAL (SELECT stream_id, version FROM projector_streams
                                 WHERE projector = $1 AND stream_id = s.stream_id FOR UPDATE) p",
        )
        .bind(projector.name())
        .bind(&streams)
        .fetch_all(&mut *tx)
        .await?;
        let mut versions: HashMap<String, i64> = known.into_iter().collect();
        for event in wanted {
            let seen = versions.get(&event.stream_id).copied().unwrap_or(0);
            if event.version <= seen {
                continue;
            }
            projector.apply(&mut tx, event).await?;
            versions.insert(event.stream_id.clone(), event.version);
            applied += 1;
        }
        let (ids, vs): (Vec<String>, Vec<i64>) = versions.into_iter().unzip();
        sqlx::query(
            "INSERT INTO projector_streams (projector, stream_id, version) SELECT $1, * FROM UNNEST($2::text[], $3::bigint[])
             ON CONFLICT (projector, stream_id) DO UPDATE SET version = GREATEST(projector_streams.version, EXCLUDED.version)",
        )
        .bind(projector.name())
        .bind(&ids)
        .bind(&vs)
        .execute(&mut *tx)
        .await?;
    }
    if let Some(at) = checkpoint {
        save_checkpoint(&mut tx, projector.name(), at).await?;
    }
    tx.commit().await?;
    if applied > 0 {
        projector.after_batch(pool).await?;
    }
    Ok(applied)
}

async fn save_checkpoint(tx: &mut PgConnection, name: &str, at: LogPosition) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO projector_checkpoints (projector, transaction_id, position, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (projector) DO UPDATE SET transaction_id = $2, position = $3, updated_at = now()",
    )
    .bind(name)
    .bind(at.transaction_id)
    .bind(at.position)
    .execute(tx)
    .await?;
    Ok(())
}

/// Where a projector has got to in the global log.
///
/// # Errors
/// The database.
pub async fn checkpoint(pool: &PgPool, name: &str) -> Result<LogPosition, sqlx::Error> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT transaction_id, position FROM projector_checkpoints WHERE projector = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(transaction_id, position)| LogPosition { transaction_id, position }).unwrap_or_default())
}

/// Reads the log after the projector's checkpoint and applies up to `limit` events; returns how
/// many were read (0: caught up).
///
/// # Errors
/// Either database, or an undecodable event (the projector stops there rather than skip it).
pub async fn catch_up_once(
    store: &EventStore,
    pool: &PgPool,
    projector: &dyn Projector,
    limit: i64,
) -> Result<usize, ProjectionError> {
    let from = checkpoint(pool, projector.name()).await?;
    let recorded = store.read_all(from, limit).await?;
    let Some(last) = recorded.last().map(crate::store::RecordedEvent::log_position) else { return Ok(0) };
    let events: Vec<BusEvent> = recorded.iter().map(BusEvent::from_recorded).collect::<Result<_, _>>()?;
    apply_batch(pool, projector, &events, Some(last)).await?;
    Ok(recorded.len())
}

/// Applies everything in the log to `projector` until nothing is left after its checkpoint.
///
/// An event becomes readable only once every transaction older than its own has ended, anywhere
/// in the database cluster; so "the last read returned nothing" is not "caught up". This waits
/// (a few milliseconds at a time, up to 30 s) until the lag is zero.
///
/// # Errors
/// As [`catch_up_once`]; or still behind after 30 s (a transaction held open elsewhere).
pub async fn catch_up(
    store: &EventStore,
    pool: &PgPool,
    projector: &dyn Projector,
    batch: i64,
) -> Result<usize, ProjectionError> {
    let started = tokio::time::Instant::now();
    let mut total = 0;
    loop {
        let n = catch_up_once(store, pool, projector, batch).await?;
        total += n;
        if n > 0 {
            continue;
        }
        if lag(store, pool, projector.name()).await? == 0 {
            return Ok(total);
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(ProjectionError::Behind(projector.name()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Feeds `projector` from the in-process bus (the store's log) until `shutdown`.
pub async fn run_in_process(
    store: EventStore,
    pool: PgPool,
    projector: Arc<dyn Projector>,
    batch: i64,
    idle_wait: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::info!(projector = projector.name(), "projector started");
    while !*shutdown.borrow() {
        match catch_up_once(&store, &pool, projector.as_ref(), batch).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(projector = projector.name(), error = %e, "projector batch failed; retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(idle_wait) => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::info!(projector = projector.name(), "projector stopped");
}

/// Empties a projector's tables and forgets its progress: the next catch-up replays from the
/// start of the log. Readers keep being served meanwhile (the data fills in as it replays).
///
/// # Errors
/// The database.
pub async fn reset(pool: &PgPool, projector: &dyn Projector) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for table in projector.tables() {
        sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await?;
    }
    sqlx::query("DELETE FROM projector_streams WHERE projector = $1").bind(projector.name()).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM projector_checkpoints WHERE projector = $1")
        .bind(projector.name())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// How many events of the log a projector has not applied yet.
///
/// # Errors
/// Either database.
pub async fn lag(store: &EventStore, pool: &PgPool, name: &str) -> Result<i64, ProjectionError> {
    let at = checkpoint(pool, name).await?;
    Ok(store.count_after(at).await?)
}

/// Every reader of the log that keeps a checkpoint (each read model's projector, the mail
/// notifier, the analytics projector), by name, with how far behind it is.
pub async fn lags(
    store: &EventStore,
    projections: &PgPool,
    analytics: &PgPool,
) -> Vec<(&'static str, Result<i64, ProjectionError>)> {
    let mut readers: Vec<(&'static str, &PgPool)> = all().iter().map(|p| (p.name(), projections)).collect();
    readers.push(("notifications", projections));
    readers.push(("analytics", analytics));
    let mut lags = Vec::with_capacity(readers.len());
    for (name, pool) in readers {
        lags.push((name, lag(store, pool, name).await));
    }
    lags
}
