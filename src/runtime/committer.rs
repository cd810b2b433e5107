//! Group commit across streams. Each reservation is its own stream, so the per-stream writers
//! batch nothing for them: a flash sale's thousands of holds would each pay their own commit
//! (and its WAL flush) twice. Writers instead hand what they decided to a few committer tasks,
//! which write whatever has queued up meanwhile (events of many streams, their new effects rows,
//! the rows they consumed) in one statement and one commit.
//!
//! The group is all-or-nothing, so one write set that lost a race (another process appended to
//! its stream, carried out its effect row first, or took the id of a stream it starts) would fail
//! the rest: the committer then
//! writes each set on its own, and only the loser hears about it (and decides again on the
//! stream as it now is, by the writer's ordinary path).

use std::sync::Arc;

use sqlx::{PgPool, Row};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::store::effects::NewEffect;
use crate::store::{EncodedBatch, EventRows, StoreError, events_and_lookups_sql};

/// What one writer wants committed atomically.
#[derive(Debug)]
pub(crate) struct WriteSet {
    pub events: EncodedBatch,
    /// Streams this write starts (new reservations held in the batch): each must be new.
    pub opened: Vec<EncodedBatch>,
    pub effects: Vec<NewEffect>,
    /// Effects rows this write carries out: deleted with it, and all must still exist.
    pub consumed: Vec<i64>,
    /// The stream is one many buyers write (an event, its inventory): the write is refused as a
    /// lost race while another process holds its turn on it (see the writer's module doc).
    pub gated: bool,
}

/// How it went for one write set.
#[derive(Debug)]
pub(crate) enum Committed {
    /// Written: the new effects rows' ids, in the order given.
    Done { effect_ids: Vec<i64> },
    /// Another process appended to the stream first, or carried out one of the consumed rows:
    /// decide again on the stream as it is now.
    Lost,
    /// The database failed; nothing of this write set was written.
    Failed(String),
}

struct Request {
    set: WriteSet,
    reply: oneshot::Sender<Committed>,
}

/// The queue to the committer tasks.
#[derive(Debug, Clone)]
pub(crate) struct Committer {
    queue: mpsc::Sender<Request>,
}

impl Committer {
    /// Starts `tasks` committers, each writing up to `group_max` write sets per commit, on
    /// connections of their own to the database of `pool` (see [`own_pool`]).
    pub(crate) fn start(pool: &PgPool, tasks: usize, group_max: usize) -> Self {
        let pool = own_pool(pool, tasks);
        let (queue, rx) = mpsc::channel::<Request>(group_max.max(1) * tasks.max(1) * 4);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..tasks.max(1) {
            let (pool, rx) = (pool.clone(), rx.clone());
            tokio::spawn(async move {
                loop {
                    let group = {
                        let mut rx = rx.lock().await;
                        let Some(first) = rx.recv().await else { return };
                        let mut group = vec![first];
                        while group.len() < group_max {
                            match rx.try_recv() {
                                Ok(request) => group.push(request),
                                Err(_) => break,
                            }
                        }
                        group
                    };
                    commit_group(&pool, group).await;
                }
            });
        }
        Self { queue }
    }

    pub(crate) async fn commit(&self, set: WriteSet) -> Committed {
        let (reply, answer) = oneshot::channel();
        if self.queue.send(Request { set, reply }).await.is_err() {
            return Committed::Failed("the committer stopped".into());
        }
        answer.await.unwrap_or_else(|_| Committed::Failed("the committer stopped".into()))
    }
}

/// The committers' connections. The group statement is prepared once per connection and runs
/// on its cached generic plan: parsing, analysing and planning it for every group cost about a
/// quarter of a core at 1,000 holds/s (`pg_stat_statements` with `track_planning`: 0.15 ms of
/// planning a call, more than its execution). A generic plan is made once, maybe while `effects`
/// is small, and with autovacuum late or off nothing replans it; the statement only ever finds
/// consumed rows by their key, so these connections never scan a table: a plan made on a small
/// table must not become a scan of every pending timer later.
fn own_pool(pool: &PgPool, tasks: usize) -> PgPool {
    let options = (*pool.connect_options()).clone().options([("enable_seqscan", "off")]);
    crate::store::database::pool_options(u32::try_from(tasks.max(1)).unwrap_or(u32::MAX)).connect_lazy_with(options)
}

#[allow(clippy::cast_precision_loss)] // a group's size, as a metric
async fn commit_group(pool: &PgPool, group: Vec<Request>) {
    metrics::histogram!("commit_group_size").record(group.len() as f64);
    let sets: Vec<&WriteSet> = group.iter().map(|r| &r.set).collect();
    match write(pool, &sets).await {
        Ok(ids) => {
            for (request, effect_ids) in group.into_iter().zip(ids) {
                let _ = request.reply.send(Committed::Done { effect_ids });
            }
        }
        Err(Failure::Lost) if group.len() > 1 => {
            // Someone in the group lost a race: find out who, one set at a time.
            for request in group {
                let outcome = match write(pool, &[&request.set]).await {
                    Ok(mut ids) => Committed::Done { effect_ids: ids.pop().unwrap_or_default() },
                    Err(Failure::Lost) => Committed::Lost,
                    Err(Failure::Store(e)) => Committed::Failed(e),
                };
                let _ = request.reply.send(outcome);
            }
        }
        Err(failure) => {
            for request in group {
                let _ = request.reply.send(match &failure {
                    Failure::Lost => Committed::Lost,
                    Failure::Store(e) => Committed::Failed(e.clone()),
                });
            }
        }
    }
}

enum Failure {
    Lost,
    Store(String),
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        match StoreError::from(error) {
            StoreError::Conflict { .. } => Self::Lost,
            other => Self::Store(other.to_string()),
        }
    }
}

/// Writes `sets` atomically; the new effects rows' ids per set.
///
/// One statement, so one round trip and its own transaction: every consumed row must still be
/// there (else someone else carried it out and this group's decisions about it are void), and no
/// gated stream may be in another process's turn; the statement checks both itself and fails
/// with a serialization failure otherwise.
async fn write(pool: &PgPool, sets: &[&WriteSet]) -> Result<Vec<Vec<i64>>, Failure> {
    let ids = group_statement(pool, sets).await?;
    let mut ids = ids.into_iter();
    Ok(sets.iter().map(|s| ids.by_ref().take(s.effects.len()).collect()).collect())
}

/// Events, lookups, consumed rows and new rows of every set, in one statement that fails unless
/// it deleted every consumed row: the new rows' ids (drawn in input order, so sorted they give
/// each set's rows back in order).
async fn group_statement(pool: &PgPool, sets: &[&WriteSet]) -> Result<Vec<i64>, sqlx::Error> {
    let batches = sets.iter().flat_map(|s| std::iter::once(&s.events).chain(&s.opened));
    let effects = || sets.iter().flat_map(|s| s.effects.iter());
    let consumed: Vec<i64> = sets.iter().flat_map(|s| s.consumed.iter().copied()).collect();
    let gated: Vec<&str> = sets.iter().filter(|s| s.gated).map(|s| s.events.stream.as_str()).collect();
    let statement = EventRows::of(batches).bind(sqlx::query(concat!(
        "WITH ",
        events_and_lookups_sql!(),
        ", consumed AS (
             DELETE FROM effects WHERE id = ANY($13) RETURNING id
         ), input AS (
             SELECT * FROM UNNEST($14::text[], $15::text[], $16::bytea[], $17::timestamptz[], $18::timestamptz[],
                                  $19::uuid[], $20::uuid[])
                 WITH ORDINALITY AS t(kind, target_stream, payload, due_at, leased_until, correlation_id, causation_id, n)
         ), inserted AS (
             INSERT INTO effects (kind, target_stream, payload, due_at, leased_until, correlation_id, causation_id)
             SELECT kind, target_stream, payload, due_at, leased_until, correlation_id, causation_id
             FROM input ORDER BY n
             RETURNING id
         )
         SELECT effects_all_consumed((SELECT count(*) FROM consumed), cardinality($13::bigint[])),
                streams_not_in_turn($21::text[]),
                COALESCE((SELECT array_agg(id ORDER BY id) FROM inserted), '{}'::bigint[])"
    )));
    statement
        .bind(consumed)
        .bind(effects().map(|e| e.kind.as_str()).collect::<Vec<_>>())
        .bind(effects().map(|e| e.target_stream.as_str()).collect::<Vec<_>>())
        .bind(effects().map(|e| e.payload.as_slice()).collect::<Vec<_>>())
        .bind(effects().map(|e| e.due_at).collect::<Vec<_>>())
        .bind(effects().map(|e| e.leased_until).collect::<Vec<_>>())
        .bind(effects().map(|e| e.correlation_id).collect::<Vec<_>>())
        .bind(effects().map(|e| e.causation_id).collect::<Vec<_>>())
        .bind(gated)
        .fetch_one(pool)
        .await?
        .try_get(2)
}
