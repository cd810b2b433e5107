//! Read-your-writes: what a request changed is visible to the same caller's next read.
//!
//! Read models lag the write side by milliseconds (more under load), so without care a buyer
//! who just paid lists their tickets and finds none. A write records, for its caller, the
//! streams it changed (a set per user in Redis, shared by every instance, kept a minute). A read
//! served from a read model first looks at that set: for the streams the model follows it takes
//! their last events from the event log and waits, briefly and boundedly, until the model has
//! passed them (its log checkpoint, or its per-stream versions under Kafka). A caller with no
//! recent writes pays one Redis lookup.
//!
//! A write answered under an `Idempotency-Key` is remembered in the same Redis round trip that
//! records its answer (see [`Deferred`]): the mark is still stored before the answer leaves.
//!
//! Only the caller's own streams are recorded (their reservations and payments, an admin's
//! events), never a shared one like an event's inventory, which everybody's purchases move:
//! waiting for that would be waiting for everyone.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::AsyncCommands;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, Result};
use crate::store::LogPosition;

/// How long a write is remembered for its caller's reads.
const REMEMBER_SECONDS: i64 = 60;
/// The longest a read waits for a read model; then it answers with what it has.
pub const MAX_WAIT: Duration = Duration::from_secs(1);

/// A read model a read is served from, and the kind of stream it follows.
#[derive(Debug, Clone, Copy)]
pub struct ReadModel {
    pub projector: &'static str,
    pub stream_kind: &'static str,
}

pub const RESERVATIONS: ReadModel = ReadModel { projector: "reservations", stream_kind: "reservation" };
pub const CATALOGUE: ReadModel = ReadModel { projector: "catalogue", stream_kind: "event" };
pub const PAYMENTS: ReadModel = ReadModel { projector: "payments", stream_kind: "payment" };

fn key(state: &AppState, user: Uuid) -> String {
    format!("{}wrote:{user}", state.auth.prefix())
}

tokio::task_local! {
    /// Set while a request whose answer will be recorded under its `Idempotency-Key` runs.
    static DEFERRED: Deferred;
}

/// The marks of a request whose answer is recorded under its `Idempotency-Key`: collected while
/// it runs and written to Redis with the record, one round trip instead of two per write. The
/// record is stored before the answer is sent, so the caller's next read still finds them.
#[derive(Debug, Clone, Default)]
pub struct Deferred(Arc<Mutex<Vec<Mark>>>);

/// One write to remember: the caller's Redis set and the streams that go in it.
#[derive(Debug)]
struct Mark {
    key: String,
    streams: Vec<String>,
}

impl Deferred {
    /// Runs `work` with the marks it makes collected here instead of written.
    pub async fn collect<F: std::future::Future>(&self, work: F) -> F::Output {
        DEFERRED.scope(self.clone(), work).await
    }

    /// What was collected, as Redis commands added to `pipe`.
    pub fn add_to(&self, pipe: &mut redis::Pipeline) {
        let marks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for Mark { key, streams } in marks.iter() {
            pipe.sadd(key, streams).ignore().expire(key, REMEMBER_SECONDS).ignore();
        }
    }
}

/// Remembers that `user` just changed `streams`. A failure here loses only the wait, never the
/// write (which has happened): it is logged, not returned.
pub async fn wrote(state: &AppState, user: Uuid, streams: &[String]) {
    if streams.is_empty() {
        return;
    }
    let key = key(state, user);
    let deferred = DEFERRED.try_with(|deferred| {
        deferred
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Mark { key: key.clone(), streams: streams.to_vec() });
    });
    if deferred.is_ok() {
        return;
    }
    let mut redis = state.auth.redis();
    let result: redis::RedisResult<()> = redis::pipe()
        .sadd(&key, streams)
        .ignore()
        .expire(&key, REMEMBER_SECONDS)
        .ignore()
        .query_async(&mut redis)
        .await;
    if let Err(error) = result {
        tracing::warn!(%error, "could not remember a write for read-your-writes");
    }
}

/// Waits until `model` shows everything `user` wrote to the streams it follows, for at most
/// [`MAX_WAIT`].
///
/// # Errors
/// Redis or either database is down (the read could not be served anyway).
pub async fn caught_up(state: &AppState, user: Uuid, model: ReadModel) -> Result<()> {
    let mut redis = state.auth.redis();
    let written: Vec<String> = redis.smembers(key(state, user)).await.map_err(|e| ApiError::unavailable("redis", e))?;
    let prefix = format!("{}-", model.stream_kind);
    let streams: Vec<String> = written.into_iter().filter(|s| s.starts_with(&prefix)).collect();
    if streams.is_empty() {
        return Ok(());
    }
    // Each stream's last event: its version, and where it stands in the log.
    let targets: Vec<(String, i64, i64, i64)> =
        // One index probe per stream (see `projections::stream_versions` on why not `= ANY`).
        sqlx::query_as(
            "SELECT s.stream_id, e.version, e.transaction_id::text::bigint, e.position FROM unnest($1::text[]) AS s(stream_id)
             CROSS JOIN LATERAL (SELECT version, transaction_id, position FROM events
                                 WHERE stream_id = s.stream_id ORDER BY version DESC LIMIT 1) e",
        )
            .bind(&streams)
            .fetch_all(&state.events_db)
            .await
            .map_err(|e| ApiError::unavailable("events_db", e))?;
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        // A stream is shown once the projector's log checkpoint has passed its last event (the
        // in-process bus) or its per-stream record has (Kafka): see `projections::apply_batch`.
        let seen: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "WITH c AS (SELECT transaction_id, position FROM projector_checkpoints WHERE projector = $1)
             SELECT s.stream_id, COALESCE(p.version, 0),
                    COALESCE((SELECT transaction_id FROM c), 0), COALESCE((SELECT position FROM c), 0)
             FROM unnest($2::text[]) AS s(stream_id)
             LEFT JOIN LATERAL (SELECT version FROM projector_streams
                                WHERE projector = $1 AND stream_id = s.stream_id) p ON true",
        )
        .bind(model.projector)
        .bind(&streams)
        .fetch_all(&state.projections)
        .await?;
        let behind = targets.iter().any(|(stream, version, transaction_id, position)| {
            let last = LogPosition { transaction_id: *transaction_id, position: *position };
            seen.iter().find(|(s, ..)| s == stream).is_none_or(
                |(_, seen_version, checkpoint_tx, checkpoint_position)| {
                    let checkpoint = LogPosition { transaction_id: *checkpoint_tx, position: *checkpoint_position };
                    seen_version < version && checkpoint < last
                },
            )
        });
        if !behind {
            metrics::histogram!("read_your_writes_wait_seconds").record(started.elapsed().as_secs_f64());
            return Ok(());
        }
        if started.elapsed() >= MAX_WAIT {
            metrics::counter!("read_your_writes_timeouts_total", "projector" => model.projector).increment(1);
            return Ok(());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}
