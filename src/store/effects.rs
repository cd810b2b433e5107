//! Rows of the `effects` table: what must happen because of recorded events.
//!
//! Each row is written in the transaction that recorded its cause, and deleted in the transaction
//! that carries it out, so it happens exactly once in effect however often it is attempted.
//! Rows are leased while someone works on them; a lease that runs out means the worker died and
//! the row is picked up again.

use std::collections::HashSet;

use chrono::Duration;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::StoreError;
use crate::domain::values::Timestamp;

/// How a row that failed is tried again: after `first_delay`, doubling up to `max_delay`, and
/// parked for an operator (`failed_at` set, never tried again on its own) once it has been tried
/// `max_attempts` times. A parked refund is money owed: RUNBOOK.md says how to find and retry it.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub first_delay: Duration,
    pub max_delay: Duration,
    pub max_attempts: i32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { first_delay: Duration::seconds(1), max_delay: Duration::minutes(5), max_attempts: 12 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectKind {
    /// A command for an aggregate, due now or later (a timer).
    Command,
    /// A charge whose outcome must be recorded; due only if its initiator did not finish.
    Charge,
    /// Money to return at the gateway.
    Refund,
}

impl EffectKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Command => "command",
            Self::Charge => "charge",
            Self::Refund => "refund",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "command" => Some(Self::Command),
            "charge" => Some(Self::Charge),
            "refund" => Some(Self::Refund),
            _ => None,
        }
    }
}

/// A row to write.
#[derive(Debug, Clone)]
pub struct NewEffect {
    pub kind: EffectKind,
    pub target_stream: String,
    pub payload: Vec<u8>,
    pub due_at: Timestamp,
    /// Set when the writer means to carry the row out itself right away.
    pub leased_until: Option<Timestamp>,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
}

/// A row to carry out.
#[derive(Debug, Clone)]
pub struct EffectRow {
    pub id: i64,
    pub kind: EffectKind,
    pub target_stream: String,
    pub payload: Vec<u8>,
    pub attempts: i32,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
}

/// Inserts rows; returns their ids in the order given.
///
/// # Errors
/// The database.
pub async fn insert_in(tx: &mut Transaction<'_, Postgres>, effects: &[NewEffect]) -> Result<Vec<i64>, StoreError> {
    if effects.is_empty() {
        return Ok(Vec::new());
    }
    let kinds: Vec<&str> = effects.iter().map(|e| e.kind.as_str()).collect();
    let targets: Vec<&str> = effects.iter().map(|e| e.target_stream.as_str()).collect();
    let payloads: Vec<&[u8]> = effects.iter().map(|e| e.payload.as_slice()).collect();
    let due: Vec<Timestamp> = effects.iter().map(|e| e.due_at).collect();
    let leases: Vec<Option<Timestamp>> = effects.iter().map(|e| e.leased_until).collect();
    let correlations: Vec<Uuid> = effects.iter().map(|e| e.correlation_id).collect();
    let causations: Vec<Uuid> = effects.iter().map(|e| e.causation_id).collect();
    // Identity values are drawn in the order the SELECT produces rows, so sorting the returned
    // ids restores the input order.
    let ids: Vec<i64> = sqlx::query_scalar(
        "WITH input AS (
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::timestamptz[], $5::timestamptz[],
                                  $6::uuid[], $7::uuid[])
                 WITH ORDINALITY AS t(kind, target_stream, payload, due_at, leased_until, correlation_id, causation_id, n)
         ), inserted AS (
             INSERT INTO effects (kind, target_stream, payload, due_at, leased_until, correlation_id, causation_id)
             SELECT kind, target_stream, payload, due_at, leased_until, correlation_id, causation_id
             FROM input ORDER BY n
             RETURNING id
         )
         SELECT id FROM inserted ORDER BY id",
    )
    .bind(&kinds)
    .bind(&targets)
    .bind(&payloads)
    .bind(&due)
    .bind(&leases)
    .bind(&correlations)
    .bind(&causations)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids)
}

/// Locks the given rows for this transaction and returns those that still exist. A row carried
/// out meanwhile by someone else is gone (its command must then be skipped); a row someone is
/// carrying out right now makes this wait for them.
///
/// # Errors
/// The database.
pub async fn lock_in(tx: &mut Transaction<'_, Postgres>, ids: &[i64]) -> Result<HashSet<i64>, StoreError> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    let found: Vec<i64> = sqlx::query_scalar("SELECT id FROM effects WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&sorted)
        .fetch_all(&mut **tx)
        .await?;
    Ok(found.into_iter().collect())
}

/// # Errors
/// The database.
pub async fn delete_in(tx: &mut Transaction<'_, Postgres>, ids: &[i64]) -> Result<(), StoreError> {
    if !ids.is_empty() {
        sqlx::query("DELETE FROM effects WHERE id = ANY($1)").bind(ids).execute(&mut **tx).await?;
    }
    Ok(())
}

/// # Errors
/// The database.
pub async fn delete(pool: &PgPool, id: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM effects WHERE id = $1").bind(id).execute(pool).await?;
    Ok(())
}

/// Records a failed attempt with its error: tried again later by `policy`, or parked. Returns
/// the row's kind if this failure parked it (the caller counts it for operators).
///
/// # Errors
/// The database.
pub async fn record_failure<'e, E>(
    executor: E,
    id: i64,
    error: &str,
    now: Timestamp,
    policy: &RetryPolicy,
) -> Result<Option<EffectKind>, StoreError>
where
    E: sqlx::Executor<'e, Database = Postgres>,
{
    let row: Option<(String, bool)> = sqlx::query_as(
        "UPDATE effects SET last_error = left($2, 2000), leased_until = NULL,
                due_at = $3 + make_interval(secs => LEAST($5::float8, $4::float8 * power(2, LEAST(attempts, 30)))),
                failed_at = CASE WHEN attempts >= $6 THEN $3 END
         WHERE id = $1
         RETURNING kind, failed_at IS NOT NULL",
    )
    .bind(id)
    .bind(error)
    .bind(now)
    .bind(seconds(policy.first_delay))
    .bind(seconds(policy.max_delay))
    .bind(policy.max_attempts)
    .fetch_optional(executor)
    .await?;
    Ok(row.and_then(|(kind, parked)| if parked { EffectKind::parse(&kind) } else { None }))
}

#[allow(clippy::cast_precision_loss)] // delays are seconds to minutes
fn seconds(duration: Duration) -> f64 {
    duration.num_milliseconds() as f64 / 1000.0
}

/// A row an operator should look at: parked after its last attempt failed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParkedEffect {
    pub id: i64,
    pub kind: String,
    pub target_stream: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub failed_at: Option<Timestamp>,
}

/// Every parked row, oldest first.
///
/// # Errors
/// The database.
pub async fn parked(pool: &PgPool) -> Result<Vec<ParkedEffect>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, kind, target_stream, attempts, last_error, failed_at FROM effects
         WHERE failed_at IS NOT NULL ORDER BY failed_at, id",
    )
    .fetch_all(pool)
    .await?)
}

/// Puts parked rows back in the queue, due now with a fresh count of attempts (an operator's
/// decision, after fixing what made them fail): the row `id`, or every parked row of `kind`, or
/// every parked row. Returns how many.
///
/// # Errors
/// The database.
pub async fn retry_parked(pool: &PgPool, id: Option<i64>, kind: Option<EffectKind>) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE effects SET failed_at = NULL, attempts = 0, due_at = now(), leased_until = NULL
         WHERE failed_at IS NOT NULL AND ($1::bigint IS NULL OR id = $1) AND ($2::text IS NULL OR kind = $2)",
    )
    .bind(id)
    .bind(kind.map(EffectKind::as_str))
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Parked rows, by kind (for metrics).
///
/// # Errors
/// The database.
pub async fn parked_counts(pool: &PgPool) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(sqlx::query_as("SELECT kind, count(*) FROM effects WHERE failed_at IS NOT NULL GROUP BY kind")
        .fetch_all(pool)
        .await?)
}

/// Leases up to `limit` due rows to this worker until `now + lease`.
///
/// # Errors
/// The database.
pub async fn lease_due(
    pool: &PgPool,
    now: Timestamp,
    lease: Duration,
    limit: i64,
) -> Result<Vec<EffectRow>, StoreError> {
    type Row = (i64, String, String, Vec<u8>, i32, Uuid, Uuid);
    // A plain index scan of `effects_due_in_order`, never a bitmap scan: the planner prefers the
    // bitmap scan for the few rows it expects, but a bitmap scan never marks the index entries
    // of deleted rows dead, so every poll visited every row carried out since the last vacuum
    // (two per hold in a flash sale: 6.4 ms a poll after 30,000 holds, autovacuum off; 0.6 ms
    // with the index scan). Three more tiny statements per poll cost far less.
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL enable_bitmapscan = off").execute(&mut *tx).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "WITH due AS (
             SELECT id FROM effects
             WHERE due_at <= $1 AND failed_at IS NULL AND (leased_until IS NULL OR leased_until <= $1)
             ORDER BY due_at, id
             LIMIT $3
             FOR UPDATE SKIP LOCKED
         )
         UPDATE effects e SET leased_until = $2, attempts = e.attempts + 1
         FROM due WHERE e.id = due.id
         RETURNING e.id, e.kind, e.target_stream, e.payload, e.attempts, e.correlation_id, e.causation_id",
    )
    .bind(now)
    .bind(now + lease)
    .bind(limit)
    // Planned each time (see `committer::group_statement`): a generic plan made while the table
    // was small scans every row.
    .persistent(false)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut leased: Vec<EffectRow> = rows
        .into_iter()
        .filter_map(|(id, kind, target_stream, payload, attempts, correlation_id, causation_id)| {
            Some(EffectRow {
                id,
                kind: EffectKind::parse(&kind)?,
                target_stream,
                payload,
                attempts,
                correlation_id,
                causation_id,
            })
        })
        .collect();
    leased.sort_by_key(|r| r.id);
    Ok(leased)
}

/// The charge row of a payment still waiting for its outcome, if any.
///
/// # Errors
/// The database.
pub async fn pending_charge(pool: &PgPool, payment_stream: &str) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM effects WHERE kind = 'charge' AND target_stream = $1 AND failed_at IS NULL ORDER BY id LIMIT 1",
    )
    .bind(payment_stream)
    .fetch_optional(pool)
    .await?)
}

/// Rows not yet carried out (for metrics, health and tests).
///
/// # Errors
/// The database.
pub async fn pending_count(pool: &PgPool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM effects WHERE failed_at IS NULL").fetch_one(pool).await?)
}
