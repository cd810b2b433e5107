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

/// After this many failed attempts a row is parked for an operator (`failed_at` set).
pub const MAX_ATTEMPTS: i32 = 12;

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

    fn parse(s: &str) -> Option<Self> {
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

/// Records a failed attempt: retried after 2^attempts seconds (at most 5 minutes), parked after
/// [`MAX_ATTEMPTS`].
///
/// # Errors
/// The database.
pub async fn record_failure<'e, E>(executor: E, id: i64, error: &str, now: Timestamp) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = Postgres>,
{
    sqlx::query(
        "UPDATE effects SET last_error = $2, leased_until = NULL,
                due_at = $3 + make_interval(secs => LEAST(300, power(2, LEAST(attempts, 8)))),
                failed_at = CASE WHEN attempts >= $4 THEN $3 END
         WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(now)
    .bind(MAX_ATTEMPTS)
    .execute(executor)
    .await?;
    Ok(())
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
    .fetch_all(pool)
    .await?;
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

/// Rows not yet carried out (for metrics, health and tests).
///
/// # Errors
/// The database.
pub async fn pending_count(pool: &PgPool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM effects WHERE failed_at IS NULL").fetch_one(pool).await?)
}
