//! One writer task per live stream in this process. Commands for a stream queue in its mailbox;
//! the writer decides a whole batch against its cached state and appends every resulting event,
//! new effect and consumed effect in one transaction. A hot inventory stream thus pays one
//! round of SQL per batch instead of one per buyer.
//!
//! Several processes may write the same stream: `UNIQUE(stream_id, version)` turns the loser's
//! append into a conflict, and the writer reloads and decides the batch again. A batch that
//! appends nothing (every command refused, or answered without a new event) would slip past
//! that check, and a refusal decided on a stale cache ("sold out" when another instance has
//! since released the seats) would be final. So such a batch first asks whether the stream is
//! still at the version it decided on, and decides again if not.
//!
//! Optimistic appends are unfair under contention: with two processes selling one hot section,
//! the loser reloads the stream while the winner commits its next batch, and a batch could lose
//! every retry (found by the flash-sale harness: 128 holds at a time answered 503). A writer that
//! has lost a race therefore works in turns for a while: it takes a PostgreSQL advisory lock on
//! its stream for each batch, catches up with what others appended, and commits on its own. Two
//! contending processes both end up taking turns, in the order they asked.
//!
//! A turn is only a turn if nobody writes meanwhile: an optimistic append from a process that has
//! not lost yet could still land between the turn holder's catch-up and its commit, batch after
//! batch (once in 30,000 holds with two instances, a batch lost 20 times and answered 503). So an
//! optimistic append to a stream many buyers write (an event, its inventory) takes the stream's
//! lock shared, without waiting, in its own transaction: while another process holds the turn it
//! fails as a lost race, and its writer then takes turns too, from the next attempt on.
//!
//! A turn is bounded both ways: a writer waits for it at most `turn_wait` (its batch is then
//! answered "unavailable", and effects rows it carried stay for the worker), and a holder that
//! stops using the turn's connection for `turn_idle_limit` (frozen, or cut off from the database
//! while the server still sees its socket) loses the turn to the database. Turns are about
//! fairness: correctness rests on `UNIQUE(stream_id, version)` either way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::committer::{Committed, WriteSet};
use super::new_hold::{self, NewReservation};
use super::{Ctx, PendingEffect, RuntimeError};
use crate::domain::DomainError;
use crate::domain::reducer::{Addressed, Aggregate, Effect};
use crate::domain::reservation::Reservation;
use crate::store::effects::{self, EffectKind, NewEffect};
use crate::store::{EncodedBatch, EventStore, Loaded, Metadata, StoreError, Stored, codec, stream_id};

/// How many times a batch is decided again after losing a race to another process.
const MAX_CONFLICT_RETRIES: usize = 20;
/// How long a writer takes turns (see the module's doc) after it last lost a race.
const TAKE_TURNS_FOR: Duration = Duration::from_secs(10);

/// What a job asks of a writer.
pub(crate) struct Job<A: Aggregate> {
    /// `None`: just read the current state.
    pub command: Option<A::Command>,
    /// The effects row this command carries out, if any: consumed in the same transaction.
    pub source: Option<i64>,
    pub meta: Metadata,
    pub want_state: bool,
    /// For reads: catch up with events other processes appended before answering.
    pub fresh: bool,
    /// A new reservation to start and hold seats for in this batch (see [`new_hold`]).
    pub new_reservation: Option<NewReservation>,
    pub reply: oneshot::Sender<Result<Outcome<A>, RuntimeError>>,
}

/// What became of a job.
#[derive(Debug)]
pub struct Outcome<A> {
    /// New effects rows, with their ids, for the caller to carry out.
    pub effects: Vec<PendingEffect>,
    pub events: usize,
    /// The state after the batch, when asked for.
    pub state: Option<A>,
    /// The source row had already been carried out by someone else: nothing was done.
    pub skipped: bool,
    /// The job's new reservation, as its events left it.
    pub reservation: Option<Reservation>,
}

/// The writers of one aggregate type in this process.
pub(crate) struct Writers<A: Aggregate> {
    mailboxes: Mutex<HashMap<Uuid, mpsc::Sender<Job<A>>>>,
}

impl<A: Aggregate> Default for Writers<A> {
    fn default() -> Self {
        Self { mailboxes: Mutex::new(HashMap::new()) }
    }
}

impl<A: Stored + Addressed> Writers<A> {
    /// Queues `job` for stream `id`, starting a writer if none is running.
    pub(crate) async fn submit(
        self: &Arc<Self>,
        ctx: &Arc<Ctx>,
        id: Uuid,
        mut job: Job<A>,
    ) -> Result<(), RuntimeError> {
        for _ in 0..8 {
            let sender = {
                let mut map = self.mailboxes.lock().unwrap_or_else(PoisonError::into_inner);
                map.entry(id)
                    .or_insert_with(|| {
                        let (tx, rx) = mpsc::channel(ctx.config.mailbox_capacity);
                        let writer = Writer {
                            id,
                            stream: stream_id::<A>(id),
                            loaded: None,
                            just_loaded: false,
                            snapshot_at: 0,
                            last_snapshot: None,
                            take_turns_until: None,
                            ctx: ctx.clone(),
                        };
                        tokio::spawn(writer.run(rx, tx.clone(), self.clone()));
                        tx
                    })
                    .clone()
            };
            match sender.send(job).await {
                Ok(()) => return Ok(()),
                // The writer stopped (idle) between our lookup and the send: start a new one.
                Err(mpsc::error::SendError(back)) => {
                    job = back;
                    let mut map = self.mailboxes.lock().unwrap_or_else(PoisonError::into_inner);
                    if map.get(&id).is_some_and(|s| s.same_channel(&sender)) {
                        map.remove(&id);
                    }
                }
            }
        }
        Err(RuntimeError::Unavailable("stream writer could not be started".into()))
    }

    fn retire(&self, id: Uuid, own: &mpsc::Sender<Job<A>>) {
        let mut map = self.mailboxes.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(&id).is_some_and(|s| s.same_channel(own)) {
            map.remove(&id);
        }
    }

    pub(crate) fn live(&self) -> usize {
        self.mailboxes.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// What the writer decided for one job of a batch.
enum Decided {
    Skipped,
    Read,
    Refused(DomainError),
    Done {
        events: usize,
        effects: std::ops::Range<usize>,
    },
    /// A new reservation was decided with its hold.
    Opened {
        events: usize,
        effects: std::ops::Range<usize>,
        reservation: Box<Reservation>,
    },
}

struct Writer<A: Aggregate> {
    id: Uuid,
    stream: String,
    /// The cached state; `None` after any failure, so the next batch reloads from the store.
    loaded: Option<Loaded<A>>,
    /// `loaded` came from the store for this very batch (not from the cache).
    just_loaded: bool,
    /// The version of the newest snapshot this writer knows of.
    snapshot_at: i64,
    /// When this writer last saved one.
    last_snapshot: Option<std::time::Instant>,
    /// Until when this writer takes turns with other processes (it lost a race recently).
    take_turns_until: Option<std::time::Instant>,
    ctx: Arc<Ctx>,
}

impl<A: Stored + Addressed> Writer<A> {
    async fn run(mut self, mut rx: mpsc::Receiver<Job<A>>, own: mpsc::Sender<Job<A>>, writers: Arc<Writers<A>>) {
        let idle = self.ctx.config.writer_idle;
        loop {
            let first = match tokio::time::timeout(idle, rx.recv()).await {
                Ok(Some(job)) => job,
                Ok(None) => break,
                Err(_) => {
                    // Idle: leave the registry first, then finish whatever slipped in.
                    writers.retire(self.id, &own);
                    rx.close();
                    let mut rest = Vec::new();
                    while let Ok(job) = rx.try_recv() {
                        rest.push(job);
                    }
                    if !rest.is_empty() {
                        Box::pin(self.process(rest)).await;
                    }
                    break;
                }
            };
            let mut batch = vec![first];
            while batch.len() < self.ctx.config.batch_max {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            // Boxed, so this task stays smaller: it idles for `writer_idle` after its last job
            // (every hold starts one, for its new stream), and the commit path's state is 2 KB
            // (release build). Inline, each new task copied it into fresh memory and kept it.
            Box::pin(self.process(batch)).await;
        }
    }

    async fn process(&mut self, jobs: Vec<Job<A>>) {
        let contended = self.take_turns_until.is_some_and(|until| until > std::time::Instant::now());
        let jobs = if contended {
            jobs
        } else {
            match self.decide_and_commit(jobs, false).await {
                Some(lost) => lost,
                None => return,
            }
        };
        let mut turn = match self.ctx.store.pool().acquire().await {
            Ok(connection) => connection,
            Err(e) => return reply_all(jobs, &RuntimeError::from(StoreError::from(e))),
        };
        // Session-level: held while other connections load, decide and commit; released below,
        // or by PostgreSQL if this process dies with the connection, or stops using it for
        // `turn_idle_limit`. Waited for at most `turn_wait`: behind a holder that never lets go,
        // the buyers are told "unavailable" (their effects rows stay for the worker) instead of
        // waiting with it (see migrations_events/20261206000001_bounded_turns.sql).
        let config = &self.ctx.config;
        let taken = sqlx::query("SELECT take_stream_turn($1, $2, $3)")
            .bind(&self.stream)
            .bind(millis(config.turn_wait))
            .bind(millis(config.turn_idle_limit))
            .execute(&mut *turn)
            .await;
        if let Err(e) = taken {
            // A session lock survives the failure of the statement that took it: never hand a
            // connection that may hold one back to the pool.
            drop(turn.detach());
            metrics::counter!("stream_turns_not_taken_total", "kind" => A::KIND).increment(1);
            tracing::warn!(stream = %self.stream, error = %e, "turn on the stream not taken");
            return reply_all(jobs, &RuntimeError::from(StoreError::from(e)));
        }
        if let Some(jobs) = self.decide_and_commit(jobs, true).await {
            reply_all(jobs, &RuntimeError::Conflict);
        }
        let ended = sqlx::query("SELECT end_stream_turn($1)").bind(&self.stream).execute(&mut *turn).await;
        if ended.is_err() {
            // Never hand a connection that may still hold the lock back to the pool.
            drop(turn.detach());
        }
    }

    /// Decides `jobs` and commits them; `in_turn`: this writer holds its stream's turn, so it
    /// first catches up with what other processes appended and commits on its own. Out of turn,
    /// a lost race hands the jobs back, to be decided again in turn; in turn, they are answered
    /// whatever happens (a conflict after every retry hands them back to be refused).
    async fn decide_and_commit(&mut self, mut jobs: Vec<Job<A>>, in_turn: bool) -> Option<Vec<Job<A>>> {
        let mut last_conflict = None;
        for attempt in 0..MAX_CONFLICT_RETRIES {
            self.just_loaded = self.loaded.is_none();
            if self.loaded.is_none() {
                match self.ctx.store.load::<A>(&self.stream).await {
                    Ok(loaded) => {
                        self.snapshot_at = self.snapshot_at.max(loaded.snapshot_version);
                        self.loaded = Some(loaded);
                    }
                    Err(e) => {
                        reply_all(jobs, &RuntimeError::from(e));
                        return None;
                    }
                }
            } else if attempt == 0 && (in_turn || jobs.iter().any(|j| j.command.is_none() && j.fresh)) {
                // The cache is only known stale when a write conflicts; a read that must be
                // exact first applies whatever other processes appended since.
                if let Err(e) = self.catch_up().await {
                    self.loaded = None;
                    reply_all(jobs, &RuntimeError::from(e));
                    return None;
                }
            }
            // Out of turn the batch goes through the group committer; in turn it is decided on
            // its own, locking its effects rows first.
            match self.try_batch(&jobs, in_turn).await {
                Ok(outcomes) => {
                    self.maybe_snapshot();
                    for (job, outcome) in jobs.into_iter().zip(outcomes) {
                        let _ = job.reply.send(outcome);
                    }
                    return None;
                }
                Err(StoreError::Conflict { stream }) => {
                    self.loaded = None;
                    // A new reservation whose id was taken lost that race, not this stream.
                    match self.find_taken_reservations(&mut jobs).await {
                        Ok(true) => continue,
                        Ok(false) => {}
                        Err(e) => {
                            reply_all(jobs, &RuntimeError::from(e));
                            return None;
                        }
                    }
                    self.take_turns_until = Some(std::time::Instant::now() + TAKE_TURNS_FOR);
                    if !in_turn {
                        return Some(jobs);
                    }
                    last_conflict = Some(stream);
                    // Spread competing processes apart a little before deciding again.
                    let jitter = u64::from(Uuid::new_v4().as_bytes()[0] % 8);
                    tokio::time::sleep(Duration::from_millis(jitter * (attempt as u64 + 1))).await;
                }
                Err(e) => {
                    self.loaded = None;
                    reply_all(jobs, &RuntimeError::from(e));
                    return None;
                }
            }
        }
        tracing::warn!(stream = %self.stream, conflict = ?last_conflict, "gave up after repeated conflicts");
        Some(jobs)
    }

    /// Marks the jobs whose new reservation's stream exists already; whether there were any.
    async fn find_taken_reservations(&self, jobs: &mut [Job<A>]) -> Result<bool, StoreError> {
        let streams: Vec<String> = jobs
            .iter()
            .filter_map(|j| j.new_reservation.as_ref().filter(|n| !n.exists))
            .map(|n| stream_id::<Reservation>(n.id.as_uuid()))
            .collect();
        if streams.is_empty() {
            return Ok(false);
        }
        let taken = self.ctx.store.existing_streams(&streams).await?;
        let mut found = false;
        for new in jobs.iter_mut().filter_map(|j| j.new_reservation.as_mut()) {
            if taken.contains(&stream_id::<Reservation>(new.id.as_uuid())) {
                new.exists = true;
                found = true;
            }
        }
        Ok(found)
    }

    async fn catch_up(&mut self) -> Result<(), StoreError> {
        let Some(loaded) = self.loaded.as_mut() else { return Ok(()) };
        for recorded in self.ctx.store.read_stream(&self.stream, loaded.version).await? {
            loaded.state.apply(&recorded.decode::<A>()?);
            loaded.version = recorded.version;
        }
        Ok(())
    }

    /// Decides every job against the cached state and commits the batch. On `Err` the cached state
    /// may hold undecided changes: the caller drops it.
    #[allow(clippy::too_many_lines)]
    async fn try_batch(
        &mut self,
        jobs: &[Job<A>],
        in_turn: bool,
    ) -> Result<Vec<Result<Outcome<A>, RuntimeError>>, StoreError> {
        let ctx = self.ctx.clone();
        let now = ctx.clock.now();
        let committer = if in_turn { None } else { ctx.committer() };
        // Out of turn, an append to a stream many buyers write must not slip into another
        // process's turn (see the module's doc).
        let gated = !in_turn && is_shared::<A>();
        // Only a batch that consumes effects rows needs its transaction before deciding (to lock
        // them); otherwise decide first and open one only if there is something to write, so
        // reads of the cached state cost no round trip. The group committer instead checks, as it
        // commits, that every consumed row is still there.
        let sources: Vec<i64> = jobs.iter().filter_map(|j| j.source).collect();
        let mut early_tx = None;
        let mut alive: std::collections::HashSet<i64> = std::collections::HashSet::new();
        if committer.is_some() {
            alive = sources.iter().copied().collect();
        } else if !sources.is_empty() {
            let mut tx = ctx.store.pool().begin().await?;
            alive = effects::lock_in(&mut tx, &sources).await?;
            early_tx = Some(tx);
        }
        let Some(loaded) = self.loaded.as_mut() else {
            return Err(StoreError::Conflict { stream: self.stream.clone() });
        };

        let mut decided: Vec<Decided> = Vec::with_capacity(jobs.len());
        let mut events: Vec<(A::Event, Metadata)> = Vec::new();
        let mut new_effects: Vec<(Effect, NewEffect)> = Vec::new();
        let mut consumed = Vec::new();
        let mut failed = Vec::new();
        // New reservations' streams, each written from version 0.
        let mut opened: Vec<EncodedBatch> = Vec::new();
        let mut opened_ids = std::collections::HashSet::new();
        for job in jobs {
            if job.source.is_some_and(|s| !alive.contains(&s)) {
                decided.push(Decided::Skipped);
                continue;
            }
            if let Some(new) = &job.new_reservation {
                // Taken already, or twice in this batch: the second would fail the whole append.
                if new.exists || opened_ids.contains(&new.id) {
                    decided.push(Decided::Refused(DomainError::AlreadyExists("reservation")));
                    continue;
                }
                match new_hold::decide(&mut loaded.state, self.id, new, now) {
                    Ok(chain) => {
                        let count = chain.host_events.len() + chain.reservation_events.len();
                        events.extend(chain.host_events.into_iter().map(|e| (e, job.meta)));
                        let start = new_effects.len();
                        for effect in chain.effects {
                            let row = effect_row(&effect, &job.meta, now, &ctx.config)?;
                            new_effects.push((effect, row));
                        }
                        let own: Vec<_> = chain.reservation_events.into_iter().map(|e| (e, job.meta)).collect();
                        let stream = stream_id::<Reservation>(new.id.as_uuid());
                        opened.push(EncodedBatch::encode::<Reservation>(&stream, 0, &own)?);
                        opened_ids.insert(new.id);
                        let effects = start..new_effects.len();
                        let reservation = Box::new(chain.reservation);
                        decided.push(Decided::Opened { events: count, effects, reservation });
                    }
                    Err(refusal) => decided.push(Decided::Refused(refusal)),
                }
                continue;
            }
            let Some(command) = &job.command else {
                decided.push(Decided::Read);
                continue;
            };
            match loaded.state.decide(command, now) {
                Ok(decision) => {
                    for event in &decision.events {
                        loaded.state.apply(event);
                    }
                    let count = decision.events.len();
                    events.extend(decision.events.into_iter().map(|e| (e, job.meta)));
                    let start = new_effects.len();
                    for effect in decision.effects {
                        let row = effect_row(&effect, &job.meta, now, &ctx.config)?;
                        new_effects.push((effect, row));
                    }
                    decided.push(Decided::Done { events: count, effects: start..new_effects.len() });
                    consumed.extend(job.source);
                }
                Err(refusal) => {
                    if let Some(source) = job.source {
                        failed.push((source, refusal.to_string()));
                    }
                    decided.push(Decided::Refused(refusal));
                }
            }
        }

        // Nothing appended means no unique-version check: a decision (a refusal above all) is only
        // final if the stream is still where this writer thinks it is.
        let decided_on_state =
            decided.iter().any(|d| matches!(d, Decided::Refused(_) | Decided::Done { .. } | Decided::Opened { .. }));
        let must_confirm_version = events.is_empty() && decided_on_state;
        let mut pending = Vec::new();
        if events.is_empty() && opened.is_empty() && new_effects.is_empty() && consumed.is_empty() && failed.is_empty()
        {
            match early_tx {
                Some(mut tx) => {
                    if must_confirm_version {
                        EventStore::confirm_version(&mut *tx, &self.stream, loaded.version).await?;
                    }
                    tx.rollback().await?;
                }
                // Freshly loaded for this batch: decided on the stream as it is.
                None if must_confirm_version && !self.just_loaded => {
                    EventStore::confirm_version(ctx.store.pool(), &self.stream, loaded.version).await?;
                }
                None => {}
            }
        } else if let Some(committer) = committer.filter(|_| failed.is_empty() && !must_confirm_version) {
            let set = WriteSet {
                events: EncodedBatch::encode::<A>(&self.stream, loaded.version, &events)?,
                opened,
                effects: new_effects.iter().map(|(_, row)| row.clone()).collect(),
                consumed,
                gated,
            };
            let version = set.events.version_after();
            let opened_types: Vec<&'static str> =
                set.opened.iter().flat_map(|b| b.events.iter().map(|e| e.event_type)).collect();
            let ids = match committer.commit(set).await {
                Committed::Done { effect_ids } => {
                    count_events(opened_types.into_iter());
                    effect_ids
                }
                Committed::Lost => return Err(StoreError::Conflict { stream: self.stream.clone() }),
                Committed::Failed(reason) => return Err(StoreError::Unavailable(reason)),
            };
            loaded.version = version;
            count_events(events.iter().map(|(event, _)| A::event_type(event)));
            pending = new_effects.into_iter().zip(ids).map(|((effect, _), id)| PendingEffect { id, effect }).collect();
        } else {
            // Refusals of effects rows, and decisions that must first confirm the stream's
            // version, commit on their own (the group committer writes only appends).
            let mut tx = match early_tx {
                Some(tx) => tx,
                None => ctx.store.pool().begin().await?,
            };
            if gated && !events.is_empty() {
                EventStore::outside_any_turn(&mut *tx, &self.stream).await?;
            }
            if must_confirm_version {
                EventStore::confirm_version(&mut *tx, &self.stream, loaded.version).await?;
            }
            let version = EventStore::append_in::<A>(&mut tx, &self.stream, loaded.version, &events).await?;
            EventStore::append_encoded_in(&mut tx, &opened).await?;
            let rows: Vec<NewEffect> = new_effects.iter().map(|(_, row)| row.clone()).collect();
            let ids = effects::insert_in(&mut tx, &rows).await?;
            effects::delete_in(&mut tx, &consumed).await?;
            let mut parked = Vec::new();
            for (source, reason) in &failed {
                if let Some(kind) = effects::record_failure(&mut *tx, *source, reason, now, &ctx.config.retry).await? {
                    parked.push((*source, kind, reason));
                }
            }
            tx.commit().await?;
            for (id, kind, reason) in parked {
                super::note_parked(id, kind, reason);
            }
            loaded.version = version;
            count_events(events.iter().map(|(event, _)| A::event_type(event)));
            count_events(opened.iter().flat_map(|b| b.events.iter().map(|e| e.event_type)));
            pending = new_effects.into_iter().zip(ids).map(|((effect, _), id)| PendingEffect { id, effect }).collect();
        }
        let state = self.loaded.as_ref().map(|l| &l.state);
        Ok(jobs
            .iter()
            .zip(decided)
            .map(|(job, decided)| {
                let state = job.want_state.then(|| state.cloned()).flatten();
                let effects_of = |range: std::ops::Range<usize>| {
                    pending.get(range).map(<[PendingEffect]>::to_vec).unwrap_or_default()
                };
                let (effects, events, skipped, reservation) = match decided {
                    Decided::Refused(refusal) => return Err(RuntimeError::Domain(refusal)),
                    Decided::Skipped => (Vec::new(), 0, true, None),
                    Decided::Read => (Vec::new(), 0, false, None),
                    Decided::Done { events, effects } => (effects_of(effects), events, false, None),
                    Decided::Opened { events, effects, reservation } => {
                        (effects_of(effects), events, false, Some(*reservation))
                    }
                };
                Ok(Outcome { effects, events, state, skipped, reservation })
            })
            .collect())
    }

    /// Once `snapshot_every` events have been added since the last snapshot, store the state so
    /// the next load replays only the tail. (Counting from the last snapshot, not on multiples
    /// of the interval: a stream that stops moving on a multiple must not snapshot every batch.)
    fn maybe_snapshot(&mut self) {
        let Some(loaded) = &self.loaded else { return };
        if !snapshot_due(loaded.version, self.snapshot_at, self.ctx.config.snapshot_every)
            || self.last_snapshot.is_some_and(|t| t.elapsed() < self.ctx.config.snapshot_min_interval)
        {
            return;
        }
        self.snapshot_at = loaded.version;
        self.last_snapshot = Some(std::time::Instant::now());
        let (store, stream, version, state) =
            (self.ctx.store.clone(), self.stream.clone(), loaded.version, loaded.state.clone());
        tokio::spawn(async move {
            if let Err(e) = store.save_snapshot::<A>(&stream, version, &state).await {
                tracing::warn!(%stream, error = %e, "snapshot not saved");
            }
        });
    }
}

fn count_events(types: impl Iterator<Item = &'static str>) {
    for event_type in types {
        metrics::counter!("domain_events_total", "type" => event_type).increment(1);
    }
}

/// Whether a stream at `version`, last snapshotted at `snapshot_at`, is due another snapshot.
fn snapshot_due(version: i64, snapshot_at: i64, every: i64) -> bool {
    every > 0 && version - snapshot_at >= every
}

/// Whether streams of `A` are written by many buyers at once (an event, its inventory), so that
/// several processes may contend for them: their optimistic appends respect another's turn.
fn is_shared<A: Stored>() -> bool {
    matches!(A::KIND, "event" | "inventory")
}

/// A duration as whole milliseconds for a PostgreSQL setting (at least 1: 0 would mean "never").
fn millis(duration: Duration) -> i32 {
    i32::try_from(duration.as_millis()).unwrap_or(i32::MAX).max(1)
}

fn reply_all<A: Aggregate>(jobs: Vec<Job<A>>, error: &RuntimeError) {
    for job in jobs {
        let _ = job.reply.send(Err(error.clone()));
    }
}

/// The effect row for an effect (used by the writer; the payloads are read back by the worker).
pub(crate) fn effect_row(
    effect: &Effect,
    meta: &Metadata,
    now: crate::domain::values::Timestamp,
    config: &super::RuntimeConfig,
) -> Result<NewEffect, StoreError> {
    use crate::domain::reducer::Command;
    let target = |command: &Command| match command {
        Command::Event(id, _) => stream_id::<crate::domain::event::Event>(id.as_uuid()),
        Command::Inventory(id, _) => stream_id::<crate::domain::inventory::Inventory>(id.as_uuid()),
        Command::Reservation(id, _) => stream_id::<crate::domain::reservation::Reservation>(id.as_uuid()),
        Command::Payment(id, _) => stream_id::<crate::domain::payment::Payment>(id.as_uuid()),
    };
    let inline_lease = Some(now + config.inline_lease);
    let (kind, target_stream, payload, due_at, leased_until) = match effect {
        Effect::Send(command) => (EffectKind::Command, target(command), codec::encode(command)?, now, inline_lease),
        Effect::Schedule { at, command } => (EffectKind::Command, target(command), codec::encode(command)?, *at, None),
        Effect::Charge { payment_id, amount } => (
            EffectKind::Charge,
            stream_id::<crate::domain::payment::Payment>(payment_id.as_uuid()),
            codec::encode(&(payment_id, amount))?,
            now + config.charge_grace,
            None,
        ),
        Effect::ReturnFunds { payment_id, refund_id, amount } => (
            EffectKind::Refund,
            stream_id::<crate::domain::payment::Payment>(payment_id.as_uuid()),
            codec::encode(&(payment_id, refund_id, amount))?,
            now,
            inline_lease,
        ),
    };
    Ok(NewEffect {
        kind,
        target_stream,
        payload,
        due_at,
        leased_until,
        correlation_id: meta.correlation_id,
        causation_id: meta.command_id,
    })
}

#[cfg(test)]
mod tests {
    use super::snapshot_due;

    #[test]
    fn a_snapshot_is_due_every_interval_counted_from_the_last_one() {
        assert!(!snapshot_due(499, 0, 500));
        assert!(snapshot_due(500, 0, 500));
        // A sold-out event stops moving on a multiple of the interval: the batches that follow
        // (all refusals) must not snapshot again and again.
        assert!(!snapshot_due(500, 500, 500));
        // A batch that jumps past a multiple still snapshots.
        assert!(snapshot_due(1_003, 500, 500));
        assert!(!snapshot_due(10, 0, 0), "0 turns snapshots off");
    }
}
