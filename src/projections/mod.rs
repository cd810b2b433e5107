//! Read models: one module per projection (its `apply` and its queries), and the machinery that
//! feeds them.
//!
//! A projector applies a batch of events in one transaction that also records, for every stream
//! it touched, the last version applied, and (for the in-process source) its checkpoint in the
//! global log. A redelivered event (version not above the recorded one) is skipped, so delivery
//! at least once has effect exactly once, and a projector killed mid-batch resumes where its last
//! committed batch ended.
//!
//! A batch's transaction starts with [`BATCH_BEGIN`]. Its statements find existing rows only by
//! the keys of an `UNNEST` (a batch's reservations), and they are prepared: planned once, on
//! their generic plan. Left to itself PostgreSQL made that plan on the first runs, often on an
//! empty table (a new database), where the join became a hash join over a sequential scan, and
//! with autovacuum late or off nothing replanned it: in a flash sale that scanned every pending
//! hold for each batch (3.4 ms for 15 rows, `pg_stat_statements`). Planned afresh for every
//! batch instead, they spent more time parsing and planning than running. With scans and hash
//! or merge joins off for the transaction, the one generic plan probes the primary key per row,
//! whatever the table's size when it was made.

pub mod availability;
pub mod catalogue;
pub mod holds;
pub mod payments;
pub mod reservations;
pub mod sales;
pub mod tail;

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;
use uuid::Uuid;

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
    /// Whether `event` may be applied together with others of its kind by [`Self::apply_many`]:
    /// `Some((kind, key))`, where `key` names the rows the event changes (its reservation's),
    /// apart from counters it only adds to. Events of such kinds with different keys commute,
    /// so [`plan`] gathers them across the batch, in log order within each kind.
    fn groups(&self, _event: &BusEvent) -> Option<(&'static str, Uuid)> {
        None
    }
    /// Whether an event of `kind` may be applied in the same step as its key's earlier event of
    /// kind `earlier` (by [`Self::apply_many`] of `earlier`): a hold started and given its seats
    /// in one batch is then one row written once, not a row inserted and then updated.
    fn joins(&self, _kind: &'static str, _earlier: &'static str) -> bool {
        false
    }
    /// Applies events of one kind (see [`Self::groups`]), in the order given, with distinct keys;
    /// each may be followed by one event of its key that joins it (see [`Self::joins`]).
    fn apply_many<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        _kind: &'static str,
        events: &'a [&'a BusEvent],
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            for event in events {
                self.apply(tx, event).await?;
            }
            Ok(())
        })
    }
    /// The kinds (of [`Self::groups`]) whose events are usually followed within milliseconds by
    /// the next event of their stream, which [`Self::joins`] them (a hold's start, then its
    /// seats). The live reader of the log then waits a moment for that next event instead of
    /// writing the row twice: inserted, then updated (see [`TailReader::holding_back`]). A read
    /// model with none is read without holding back, one page at a time.
    fn awaiting(&self) -> &'static [&'static str] {
        &[]
    }
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
/// `store`: the log, which the sales read model reads a sale's hold from.
pub fn all(store: &EventStore) -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(catalogue::Catalogue),
        Arc::new(availability::Availability),
        Arc::new(reservations::Reservations),
        Arc::new(payments::Payments),
        Arc::new(sales::Sales::new(store.clone())),
    ]
}

/// Applies `events` (in log order) and, when given, moves the checkpoint to `checkpoint`, all in
/// one transaction. Returns how many events changed the read model.
///
/// Two sources feed a projector, and each knows differently what it has already applied:
/// - the **log** (in-process bus, `checkpoint` given): events come in the log's global order, so
///   the checkpoint, moved in the same transaction as what it covers, is the whole record. The
///   checkpoint row is locked first: a second copy of the projector (a leadership handover)
///   waits, then skips what the first applied. Nothing is written per stream: that was two
///   statements and a row per reservation per read model, a fifth of PostgreSQL's time in a
///   flash sale.
/// - the **bus** (Kafka, no checkpoint): partitions have no order between them, so each stream's
///   last applied version is kept (and locked) per stream. Whatever lies at or before the log
///   checkpoint (applied while the projector read the log) is skipped too, so switching the bus
///   on replays nothing twice; and the log source consults the bus's per-stream versions where
///   any exist, so switching it off does not either. Both lock the checkpoint row, so a rebuild
///   from the log running beside a live Kafka consumer takes turns with it.
///
/// # Errors
/// The database; nothing of the batch is applied then.
pub async fn apply_batch<E: Borrow<BusEvent>>(
    pool: &PgPool,
    projector: &dyn Projector,
    events: &[E],
    checkpoint: Option<LogPosition>,
) -> Result<usize, ProjectionError> {
    Ok(apply_batch_above(pool, projector, events, checkpoint, LogPosition::default()).await?.map_or(0, |a| a.events))
}

/// What one batch did.
struct Applied {
    /// Events that changed the read model.
    events: usize,
    /// The checkpoint the batch's transaction left.
    checkpoint: LogPosition,
}

/// How a batch's transaction begins (one round trip): plans by key only (see the module's doc).
const BATCH_BEGIN: &str = "BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; \
                           SET LOCAL enable_mergejoin = off; SET LOCAL plan_cache_mode = force_generic_plan";

/// How a batch read from the log begins: as [`BATCH_BEGIN`], committed without waiting for the
/// WAL flush. Its checkpoint is in the same transaction, so a crash that loses the last few
/// milliseconds of commits loses their checkpoint with them and the projector applies those
/// events again, as after a crash in the middle of a batch; other sessions see the commit at
/// once either way. Not for a batch from the broker: its offsets are committed to the broker
/// once the transaction has, and a commit lost after that would lose its events for good.
const LOG_BATCH_BEGIN: &str = "BEGIN; SET LOCAL synchronous_commit = off; SET LOCAL enable_seqscan = off; \
                               SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; \
                               SET LOCAL plan_cache_mode = force_generic_plan";

/// As [`apply_batch`], unless the checkpoint is found below `floor` (a rebuild reset it since the
/// caller last looked): then nothing is applied and the answer is `None`.
async fn apply_batch_above<E: Borrow<BusEvent>>(
    pool: &PgPool,
    projector: &dyn Projector,
    events: &[E],
    checkpoint: Option<LogPosition>,
    floor: LogPosition,
) -> Result<Option<Applied>, ProjectionError> {
    let from_log = checkpoint.is_some();
    let mut tx = pool.begin_with(if from_log { LOG_BATCH_BEGIN } else { BATCH_BEGIN }).await?;
    let progress = progress(&mut tx, projector.name(), from_log).await?;
    if progress.applied_to < floor {
        return Ok(None);
    }
    let wanted: Vec<&BusEvent> = events
        .iter()
        .map(Borrow::borrow)
        .filter(|e| e.position > progress.applied_to && projector.wants(&e.event))
        .collect();
    let mut applied = 0;
    if !wanted.is_empty() {
        let track_streams = !from_log;
        let mut versions = if track_streams || progress.has_stream_versions {
            stream_versions(&mut tx, projector.name(), &wanted).await?
        } else {
            HashMap::new()
        };
        let mut fresh = Vec::with_capacity(wanted.len());
        for event in wanted {
            let seen = versions.get(&event.stream_id).copied().unwrap_or(0);
            if event.version <= seen {
                continue;
            }
            if track_streams {
                versions.insert(event.stream_id.clone(), event.version);
            }
            fresh.push(event);
        }
        applied = fresh.len();
        // A flash sale's holds are a few kinds of event, thousands of them: one statement per
        // kind and batch instead of one per event (they were most of PostgreSQL's statements).
        for step in plan(&fresh, |e| projector.groups(e), |kind, earlier| projector.joins(kind, earlier)) {
            match step {
                Step::One(event) => projector.apply(&mut tx, event).await?,
                Step::Many(kind, events) => projector.apply_many(&mut tx, kind, &events).await?,
            }
        }
        if track_streams && !versions.is_empty() {
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
    }
    let mut saved = progress.applied_to;
    if let Some(at) = checkpoint.filter(|at| *at > progress.applied_to) {
        save_checkpoint(&mut tx, projector.name(), at).await?;
        saved = at;
    }
    tx.commit().await?;
    if applied > 0 {
        projector.after_batch(pool).await?;
    }
    Ok(Some(Applied { events: applied, checkpoint: saved }))
}

/// What a projector has applied, as its transaction sees it.
struct Progress {
    /// Everything of the log at or before this position.
    applied_to: LogPosition,
    /// Some streams' last versions were recorded (by the bus source).
    has_stream_versions: bool,
}

/// The projector's checkpoint, locked (created first if missing, so there is a row to lock), and
/// for the log source whether any per-stream versions exist.
///
/// Both sources lock it, so a rebuild from the log and a live Kafka consumer of the same read
/// model take turns batch by batch. Whether per-stream versions exist is asked after the lock is
/// held, by a statement of its own: one asked together with the lock would use a snapshot taken
/// before waiting for it, and miss the versions a Kafka batch committed meanwhile.
async fn progress(tx: &mut PgConnection, name: &str, from_log: bool) -> Result<Progress, sqlx::Error> {
    const LOCK: &str = "SELECT transaction_id, position FROM projector_checkpoints WHERE projector = $1 FOR UPDATE";
    let mut row: Option<(i64, i64)> = sqlx::query_as(LOCK).bind(name).fetch_optional(&mut *tx).await?;
    if row.is_none() {
        sqlx::query(
            "INSERT INTO projector_checkpoints (projector, transaction_id, position, updated_at) VALUES ($1, 0, 0, now())
             ON CONFLICT (projector) DO NOTHING",
        )
        .bind(name)
        .execute(&mut *tx)
        .await?;
        row = sqlx::query_as(LOCK).bind(name).fetch_optional(&mut *tx).await?;
    }
    let has_stream_versions = !from_log
        || sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM projector_streams WHERE projector = $1)")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
    let (transaction_id, position) = row.unwrap_or_default();
    Ok(Progress { applied_to: LogPosition { transaction_id, position }, has_stream_versions })
}

/// The last applied version of each stream among `events`, locked for this transaction.
async fn stream_versions(
    tx: &mut PgConnection,
    name: &str,
    events: &[&BusEvent],
) -> Result<HashMap<String, i64>, sqlx::Error> {
    let mut streams: Vec<&str> = events.iter().map(|e| e.stream_id.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    // One primary-key probe per stream, whatever the statistics say. `stream_id = ANY($2)`
    // let a generic plan made while the table was small (or never analysed: autovacuum off)
    // scan every stream of the projector per batch.
    let known: Vec<(String, i64)> = sqlx::query_as(
        "SELECT p.stream_id, p.version FROM unnest($2::text[]) AS s(stream_id)
         CROSS JOIN LATERAL (SELECT stream_id, version FROM projector_streams
                             WHERE projector = $1 AND stream_id = s.stream_id FOR UPDATE) p",
    )
    .bind(name)
    .bind(&streams)
    .fetch_all(&mut *tx)
    .await?;
    Ok(known.into_iter().collect())
}

/// One step of applying a batch: an event alone, or events of one kind together.
#[derive(Debug, PartialEq)]
pub enum Step<'e> {
    One(&'e BusEvent),
    Many(&'static str, Vec<&'e BusEvent>),
}

/// The steps that apply `events` (in log order) with the same effect as one by one: events that
/// `groups` gathers wait in one list per kind until an event that is not gathered arrives, or
/// one that could not keep its place behind its key's earlier events; then the lists are applied,
/// then that event.
///
/// A key's events must be applied in log order, so when a key's event joins a list after another
/// of its events waits in an earlier list, that list must be applied first. The lists are applied
/// in an order that keeps every such "first" (kinds in the order they first came where nothing
/// says otherwise). An event that would make two lists each need to go first (a cycle: the same
/// key's later event in its earlier event's list, or kinds that followed each other both ways)
/// waits for what is gathered to be applied.
///
/// An event whose kind `joins` its key's earlier event's kind (`joins(kind, earlier)`) goes in
/// that event's list, right after it (once per key): a flash sale's hold often starts
/// (`Initiated`) and gets its seats (`SeatsAllocated`) in the same batch, and is then written
/// once.
pub fn plan<'e>(
    events: &[&'e BusEvent],
    groups: impl Fn(&BusEvent) -> Option<(&'static str, Uuid)>,
    joins: impl Fn(&'static str, &'static str) -> bool,
) -> Vec<Step<'e>> {
    let mut steps = Vec::new();
    let mut waiting = Waiting::default();
    for &event in events {
        let Some((kind, key)) = groups(event) else {
            waiting.flush(&mut steps);
            steps.push(Step::One(event));
            continue;
        };
        if !waiting.add(kind, key, event, &joins) {
            // An empty plan takes any event.
            waiting.flush(&mut steps);
            waiting.add(kind, key, event, &joins);
        }
    }
    waiting.flush(&mut steps);
    steps
}

/// What [`plan`] has gathered and not yet applied.
#[derive(Default)]
struct Waiting<'e> {
    /// One list per kind, in the order the kinds first came.
    lists: Vec<(&'static str, Vec<&'e BusEvent>)>,
    /// The list each key's last event waits in.
    keys: HashMap<Uuid, usize>,
    /// `(a, b)`: list `a` must be applied before list `b`.
    before: HashSet<(usize, usize)>,
    /// Keys with an event that joined its earlier event's list.
    joined: HashSet<Uuid>,
}

impl<'e> Waiting<'e> {
    /// Adds `event` (in its key's earlier event's list if it joins it) unless its list would
    /// have to be applied both before and after another.
    fn add(
        &mut self,
        kind: &'static str,
        key: Uuid,
        event: &'e BusEvent,
        joins: &impl Fn(&'static str, &'static str) -> bool,
    ) -> bool {
        if let Some(&earlier) = self.keys.get(&key) {
            let (earlier_kind, events) = &mut self.lists[earlier];
            if *earlier_kind != kind && !self.joined.contains(&key) && joins(kind, earlier_kind) {
                events.push(event);
                self.joined.insert(key);
                return true;
            }
        }
        let list = self.lists.iter().position(|(k, _)| *k == kind).unwrap_or(self.lists.len());
        if let Some(&earlier) = self.keys.get(&key) {
            if earlier == list || (list < self.lists.len() && self.reaches(list, earlier)) {
                return false;
            }
            self.before.insert((earlier, list));
        }
        if list == self.lists.len() {
            self.lists.push((kind, Vec::new()));
        }
        self.lists[list].1.push(event);
        self.keys.insert(key, list);
        true
    }

    /// Whether list `from` must be applied before list `to`, directly or through others.
    fn reaches(&self, from: usize, to: usize) -> bool {
        let mut seen = vec![false; self.lists.len()];
        let mut next = vec![from];
        while let Some(at) = next.pop() {
            if at == to {
                return true;
            }
            if std::mem::replace(&mut seen[at], true) {
                continue;
            }
            next.extend(self.before.iter().filter(|(a, _)| *a == at).map(|(_, b)| *b));
        }
        false
    }

    /// Moves the lists to `steps`, each after every list that must go first.
    fn flush(&mut self, steps: &mut Vec<Step<'e>>) {
        let mut lists: Vec<Option<(&'static str, Vec<&'e BusEvent>)>> = self.lists.drain(..).map(Some).collect();
        while let Some(ready) = (0..lists.len())
            .find(|&i| lists[i].is_some() && !self.before.iter().any(|&(a, b)| b == i && lists[a].is_some()))
        {
            if let Some((kind, events)) = lists[ready].take() {
                steps.push(if events.len() == 1 { Step::One(events[0]) } else { Step::Many(kind, events) });
            }
        }
        // `add` never lets the lists need each other both ways, so nothing is left here; were
        // anything left, it is still applied rather than lost.
        for (kind, events) in lists.into_iter().flatten() {
            steps.push(if events.len() == 1 { Step::One(events[0]) } else { Step::Many(kind, events) });
        }
        self.keys.clear();
        self.before.clear();
        self.joined.clear();
    }
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
    let events: Vec<BusEvent> = recorded.into_iter().map(BusEvent::from_recorded).collect::<Result<_, _>>()?;
    apply_batch(pool, projector, &events, Some(last)).await?;
    Ok(events.len())
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

/// How long a projector that reached the end of the log waits for more before its next batch:
/// each batch is a transaction, and at a thousand holds a second a projector going straight on
/// applied a few events per commit. A caller waiting to read its own write waits up to this long more.
const LINGER: Duration = Duration::from_millis(10);

/// Feeds `projector` from the in-process bus (the log, through this instance's shared tail)
/// until `shutdown`.
pub async fn run_in_process(
    tail: Arc<tail::LogTail>,
    pool: PgPool,
    projector: Arc<dyn Projector>,
    batch: usize,
    idle_wait: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::info!(projector = projector.name(), "projector started");
    // Only a read model that joins a hold's start with its seats gains from holding back; the
    // others would read four pages a step, and apply batches four times larger, for nothing.
    let holds_back = !projector.awaiting().is_empty();
    let new_reader = || if holds_back { TailReader::holding_back(HOLD_BACK) } else { TailReader::default() };
    let mut reader = new_reader();
    while !*shutdown.borrow() {
        let wait = match reader.step(&tail, &pool, projector.as_ref(), batch).await {
            // Behind: straight on.
            Ok(n) if n >= batch => continue,
            // At the end of the log while events keep coming (or a hold's seats are about to):
            // let a few milliseconds of them gather, so that a sale's events are applied dozens
            // per transaction, not a handful.
            Ok(n) if n > 0 || reader.holding() => LINGER,
            Ok(_) => idle_wait,
            Err(e) => {
                tracing::warn!(projector = projector.name(), error = %e, "projector batch failed; retrying");
                reader = new_reader();
                idle_wait
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::info!(projector = projector.name(), "projector stopped");
}

/// How long the live reader of a read model that joins a hold's start with its seats waits for
/// the seats, at most (see [`TailReader::holding_back`]). A hold's seats are written two group
/// commits after its start: milliseconds when the sale is quiet, but up to about a request's
/// latency at its peak. In the closed loop of 256 buyers they came 500 to over 1,000 events
/// later; a 100 ms limit joined half of them, 250 ms five in six (PERFORMANCE.md). The read
/// models lag by as much more only while seats are on their way; read-your-writes waits for it.
pub const HOLD_BACK: Duration = Duration::from_millis(250);

/// How many of `events` (in log order) may be applied now, by a reader that holds back: the
/// longest run from the first in which every event that awaits the next event of its stream
/// ([`Projector::awaiting`]) has that next event too, unless the last of `events` was
/// recorded `hold_back` or more after it. Further back in the log than that, its next event is
/// late (a delayed allocation): it is applied alone rather than holding the read model up.
pub fn ready_prefix<E: Borrow<BusEvent>>(events: &[E], projector: &dyn Projector, hold_back: Duration) -> usize {
    let awaiting = projector.awaiting();
    if awaiting.is_empty() {
        return events.len();
    }
    let Some(newest) = events.last().map(|e| e.borrow().recorded_at) else { return 0 };
    let hold_back = chrono::Duration::from_std(hold_back).unwrap_or(chrono::Duration::MAX);
    // Built only when some event waits: most read models, and most batches, have none.
    let mut index: Option<HashMap<(&str, i64), usize>> = None;
    // needs[c]: the events before `c` need the first `needs[c]` events applied with them.
    let mut needs = Vec::with_capacity(events.len() + 1);
    needs.push(0);
    for event in events {
        let event = event.borrow();
        let awaits = projector.groups(event).is_some_and(|(kind, _)| awaiting.contains(&kind));
        // Recorded by the same clock (the events database's); one that went back releases it.
        let behind = newest - event.recorded_at;
        let need = if awaits && behind >= chrono::Duration::zero() && behind < hold_back {
            let index = index.get_or_insert_with(|| {
                events
                    .iter()
                    .enumerate()
                    .map(|(at, e)| ((e.borrow().stream_id.as_str(), e.borrow().version), at))
                    .collect()
            });
            index.get(&(event.stream_id.as_str(), event.version + 1)).map_or(usize::MAX, |next| next + 1)
        } else {
            0
        };
        needs.push(need.max(needs.last().copied().unwrap_or(0)));
    }
    (0..=events.len()).rev().find(|&c| needs[c] <= c).unwrap_or(0)
}

/// Where one projector fed from the tail has got to, kept in memory between batches.
///
/// The checkpoint row stays the record (moved in the same transaction as what it covers), but
/// reading it before every batch, and writing it after a batch of events the projector does not
/// want, cost a query and a whole transaction per batch: in a flash sale the catalogue and the
/// payments read models did nothing else, as fast as holds arrived. Skipped events are recorded
/// with the next batch that applies something, when the log runs dry, and at least every
/// [`TailReader::RECORD_SKIPPED_EVERY`]; whoever waits for the checkpoint (read-your-writes, `lag`)
/// waits for events this read model applies, which always move it in their own transaction.
#[derive(Debug, Default)]
pub struct TailReader {
    /// The checkpoint as this reader last read or wrote it (`None`: read it first).
    saved: Option<LogPosition>,
    /// Read past `saved` through events the projector does not want, not yet recorded; since when.
    skipped: Option<(LogPosition, tokio::time::Instant)>,
    /// At most how long a hold's start waits for its seats (`None`: never; see [`Self::holding_back`]).
    hold_back: Option<Duration>,
    /// The newest event read, and when it was first read.
    head: Option<(LogPosition, tokio::time::Instant)>,
    /// The last step left events for later.
    holding: bool,
}

impl TailReader {
    const RECORD_SKIPPED_EVERY: Duration = Duration::from_secs(1);
    /// How many batches' worth of events a reader that holds back reads at a time.
    const LOOK_AHEAD: usize = 4;

    /// A reader that, at the end of the log, applies a hold's start together with its seats.
    ///
    /// The reservations read model writes a row when a hold starts and
    /// updates it when its seats are priced, two group commits later. A reader at the end of the
    /// log usually found the start in one batch and the seats in a later one: in a flash sale
    /// 38 % of those updates were HOT, and each other one wrote the row again with every index
    /// entry and a lock record (`pg_waldump`). Holding the start back until its seats are in
    /// the log writes the row once.
    ///
    /// A start is held back for at most `hold_back` of the log's time behind the newest event
    /// read, and only while the log moves (its newest event is less than `hold_back` old to this
    /// reader): a hold whose seats are delayed is applied alone.
    pub fn holding_back(hold_back: Duration) -> Self {
        Self { hold_back: Some(hold_back), ..Self::default() }
    }

    /// Whether the last step left events for later (it read them but applied only those before).
    pub fn holding(&self) -> bool {
        self.holding
    }

    /// Up to `limit` events after `from` and how many of them to apply now (see
    /// [`Self::holding_back`]).
    async fn read(
        &mut self,
        tail: &tail::LogTail,
        from: LogPosition,
        limit: usize,
        projector: &dyn Projector,
    ) -> Result<(Vec<Arc<BusEvent>>, usize), ProjectionError> {
        let mut events = tail.after(from, limit).await?;
        let mut ready = self.ready(&events, projector, limit);
        // What a held start waits for comes after the last event the tail keeps: read on, as a
        // reader at the tail's end would (otherwise only other readers move the tail on).
        if let (true, Some(newest)) = (self.holding && events.len() < limit, events.last().map(|e| e.position)) {
            events.extend(tail.after(newest, limit - events.len()).await?);
            ready = self.ready(&events, projector, limit);
        }
        Ok((events, ready))
    }

    /// How many of `events` to apply now (see [`Self::holding_back`]).
    fn ready(&mut self, events: &[Arc<BusEvent>], projector: &dyn Projector, limit: usize) -> usize {
        self.holding = false;
        let (Some(hold_back), Some(newest)) = (self.hold_back, events.last().map(|e| e.position)) else {
            return events.len();
        };
        let since = match self.head {
            Some((head, since)) if head == newest => since,
            _ => self.head.insert((newest, tokio::time::Instant::now())).1,
        };
        if since.elapsed() >= hold_back {
            return events.len();
        }
        let ready = ready_prefix(events, projector, hold_back);
        if ready == 0 && events.len() >= limit {
            // Starts whose seats lie beyond a whole read: go on (they are late anyway).
            return events.len();
        }
        self.holding = ready < events.len();
        ready
    }

    /// Reads up to `limit` events after where this reader is and applies them; how many were read
    /// (0: caught up).
    ///
    /// # Errors
    /// Either database, or an undecodable event; start again with a new reader then.
    pub async fn step(
        &mut self,
        tail: &tail::LogTail,
        pool: &PgPool,
        projector: &dyn Projector,
        limit: usize,
    ) -> Result<usize, ProjectionError> {
        let saved = match self.saved {
            Some(saved) => saved,
            None => *self.saved.insert(checkpoint(pool, projector.name()).await?),
        };
        let from = self.skipped.map_or(saved, |(to, _)| to);
        // A hold's seats can be a thousand events after its start at a sale's peak: a reader
        // that holds starts back for them looks further ahead than one batch.
        let limit = if self.hold_back.is_some() { limit.saturating_mul(Self::LOOK_AHEAD) } else { limit };
        let (mut events, ready) = self.read(tail, from, limit, projector).await?;
        events.truncate(ready);
        if events.is_empty() && self.holding {
            return Ok(0);
        }
        let Some(last) = events.last().map(|e| e.position) else {
            self.record_skipped(pool, projector.name()).await?;
            // Idle: look at the checkpoint again next time, as a rebuild may have reset it.
            self.saved = None;
            return Ok(0);
        };
        if !events.iter().any(|e| projector.wants(&e.event)) {
            let since = self.skipped.map_or_else(tokio::time::Instant::now, |(_, since)| since);
            self.skipped = Some((last, since));
            if since.elapsed() >= Self::RECORD_SKIPPED_EVERY {
                self.record_skipped(pool, projector.name()).await?;
            }
            return Ok(events.len());
        }
        // Events between `saved` and `from` were not wanted: the batch's checkpoint covers them.
        let applied = apply_batch_above(pool, projector, &events, Some(last), saved).await?;
        self.skipped = None;
        self.saved = applied.map(|a| a.checkpoint);
        Ok(events.len())
    }

    /// Moves the checkpoint over the skipped events, unless it moved since this reader last saw
    /// it (a rebuild reset it, or another copy took over): then the next step reads it again.
    async fn record_skipped(&mut self, pool: &PgPool, name: &str) -> Result<(), sqlx::Error> {
        let (Some(saved), Some((to, _))) = (self.saved, self.skipped.take()) else { return Ok(()) };
        let statement = if saved == LogPosition::default() {
            // No row yet, or one at the start of the log.
            "INSERT INTO projector_checkpoints AS c (projector, transaction_id, position, updated_at)
             VALUES ($1, $2, $3, now())
             ON CONFLICT (projector) DO UPDATE SET transaction_id = $2, position = $3, updated_at = now()
             WHERE (c.transaction_id, c.position) = ($4, $5)"
        } else {
            "UPDATE projector_checkpoints SET transaction_id = $2, position = $3, updated_at = now()
             WHERE projector = $1 AND (transaction_id, position) = ($4, $5)"
        };
        let moved = sqlx::query(statement)
            .bind(name)
            .bind(to.transaction_id)
            .bind(to.position)
            .bind(saved.transaction_id)
            .bind(saved.position)
            .execute(pool)
            .await?
            .rows_affected();
        self.saved = (moved == 1).then_some(to);
        Ok(())
    }
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
    let mut readers: Vec<(&'static str, &PgPool)> = all(store).iter().map(|p| (p.name(), projections)).collect();
    readers.push(("notifications", projections));
    readers.push(("analytics", analytics));
    let mut lags = Vec::with_capacity(readers.len());
    for (name, pool) in readers {
        lags.push((name, lag(store, pool, name).await));
    }
    lags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::EventId;
    use crate::domain::inventory::InventoryEvent;

    fn event(n: i64) -> BusEvent {
        BusEvent {
            stream_id: format!("s-{n}"),
            version: n,
            position: LogPosition { transaction_id: 1, position: n },
            event_type: "T".into(),
            event_version: 1,
            recorded_at: chrono::DateTime::UNIX_EPOCH,
            metadata: None,
            event: DomainEvent::Inventory(EventId::from_uuid(Uuid::nil()), InventoryEvent::EventCancelled),
        }
    }

    /// Steps as (kind or "one", the events' numbers), for comparing.
    fn shape(steps: &[Step<'_>]) -> Vec<(&'static str, Vec<i64>)> {
        steps
            .iter()
            .map(|s| match s {
                Step::One(e) => ("one", vec![e.version]),
                Step::Many(kind, events) => (*kind, events.iter().map(|e| e.version).collect()),
            })
            .collect()
    }

    /// The test's grouping, by number: a kind and a key per event, or `None` (applied alone).
    fn plan_of(kinds: &[(i64, Option<(&'static str, u128)>)]) -> Vec<(&'static str, Vec<i64>)> {
        plan_joining(kinds, |_, _| false)
    }

    /// As [`plan_of`], with kinds that join others.
    fn plan_joining(
        kinds: &[(i64, Option<(&'static str, u128)>)],
        joins: impl Fn(&'static str, &'static str) -> bool,
    ) -> Vec<(&'static str, Vec<i64>)> {
        let events: Vec<BusEvent> = kinds.iter().map(|(n, _)| event(*n)).collect();
        let refs: Vec<&BusEvent> = events.iter().collect();
        let steps = plan(
            &refs,
            |e| {
                kinds
                    .iter()
                    .find(|(n, _)| *n == e.version)
                    .and_then(|(_, g)| g.map(|(k, key)| (k, Uuid::from_u128(key))))
            },
            joins,
        );
        shape(&steps)
    }

    /// A hold's seats join its start.
    fn seats_join_starts(kind: &'static str, earlier: &'static str) -> bool {
        (kind, earlier) == ("seated", "started")
    }

    #[test]
    fn a_hold_started_and_seated_in_one_batch_is_applied_in_one_step() {
        // 2 and 3, 4 and 5 started and got their seats in this batch; 1 is the seats of a hold
        // started earlier; 6 is a second change to hold 1, after its seats.
        let steps = plan_joining(
            &[
                (1, Some(("seated", 9))),
                (2, Some(("started", 1))),
                (3, Some(("seated", 1))),
                (4, Some(("started", 2))),
                (5, Some(("seated", 2))),
                (6, Some(("seated", 1))),
            ],
            seats_join_starts,
        );
        assert_eq!(steps, vec![("started", vec![2, 3, 4, 5]), ("seated", vec![1, 6])]);
        // Only an event that joins: a start after a start of the same key still waits.
        let steps = plan_joining(&[(1, Some(("started", 1))), (2, Some(("started", 1)))], seats_join_starts);
        assert_eq!(steps, vec![("one", vec![1]), ("one", vec![2])]);
    }

    #[test]
    fn events_of_one_kind_with_different_keys_are_applied_together_in_log_order() {
        let steps = plan_of(&[(1, Some(("held", 1))), (2, Some(("held", 2))), (3, Some(("held", 3)))]);
        assert_eq!(steps, vec![("held", vec![1, 2, 3])]);
    }

    #[test]
    fn kinds_interleaved_in_the_log_are_gathered_per_kind() {
        let steps = plan_of(&[
            (1, Some(("started", 1))),
            (2, Some(("seated", 9))),
            (3, Some(("started", 2))),
            (4, Some(("seated", 8))),
        ]);
        assert_eq!(steps, vec![("started", vec![1, 3]), ("seated", vec![2, 4])]);
    }

    #[test]
    fn a_second_event_for_the_same_key_waits_until_the_first_is_applied() {
        // 3 changes the rows 1 created: 1 must be applied (with what waits beside it) first.
        let steps = plan_of(&[
            (1, Some(("started", 1))),
            (2, Some(("started", 2))),
            (3, Some(("seated", 1))),
            (4, Some(("seated", 3))),
        ]);
        assert_eq!(steps, vec![("started", vec![1, 2]), ("seated", vec![3, 4])]);
        // The same kind twice for one key: the first must be applied before the second joins.
        let steps = plan_of(&[(1, Some(("seated", 1))), (2, Some(("seated", 2))), (3, Some(("seated", 1)))]);
        assert_eq!(steps, vec![("seated", vec![1, 2]), ("one", vec![3])]);
    }

    #[test]
    fn a_hold_started_and_seated_in_one_batch_does_not_split_it_whatever_kind_came_first() {
        // 1 is the seats of a hold started in an earlier batch; 2 and 3, 4 and 5 are holds that
        // started and got their seats in this one. Starts go first, so every seat finds its row.
        let steps = plan_of(&[
            (1, Some(("seated", 9))),
            (2, Some(("started", 1))),
            (3, Some(("seated", 1))),
            (4, Some(("started", 2))),
            (5, Some(("seated", 2))),
        ]);
        assert_eq!(steps, vec![("started", vec![2, 4]), ("seated", vec![1, 3, 5])]);
    }

    #[test]
    fn kinds_that_followed_each_other_both_ways_are_applied_in_turn() {
        // Key 1 needs "started" first, key 2 needs "seated" first: 4 waits for 1 to 3.
        let steps = plan_of(&[
            (1, Some(("started", 1))),
            (2, Some(("seated", 1))),
            (3, Some(("seated", 2))),
            (4, Some(("started", 2))),
            (5, Some(("started", 3))),
        ]);
        assert_eq!(steps, vec![("one", vec![1]), ("seated", vec![2, 3]), ("started", vec![4, 5])]);
    }

    #[test]
    fn an_event_applied_alone_is_a_barrier_nothing_moves_across() {
        let steps =
            plan_of(&[(1, Some(("held", 1))), (2, Some(("held", 2))), (3, None), (4, Some(("held", 4))), (5, None)]);
        assert_eq!(steps, vec![("held", vec![1, 2]), ("one", vec![3]), ("one", vec![4]), ("one", vec![5])]);
    }

    proptest::proptest! {
        /// Any mix of kinds, keys and events applied alone: every event once, and a key's events
        /// (and anything around an event applied alone) in log order.
        #[test]
        fn any_log_is_planned_whole_and_in_order_per_key(
            log in proptest::collection::vec(proptest::option::weighted(0.9, (0..3usize, 0..6u128)), 0..60)
        ) {
            let kinds: Vec<(i64, Option<(&'static str, u128)>)> = log
                .iter()
                .enumerate()
                .map(|(n, g)| (i64::try_from(n).unwrap(), g.map(|(k, key)| (["a", "b", "c"][k], key))))
                .collect();
            // "b" joins "a", once per key; "a" then "b" then "b" of one key shows it.
            let steps = plan_joining(&kinds, |kind, earlier| (kind, earlier) == ("b", "a"));
            let order: Vec<i64> = steps.iter().flat_map(|(_, ns)| ns.clone()).collect();
            let mut applied = order.clone();
            applied.sort_unstable();
            proptest::prop_assert_eq!(applied, (0..i64::try_from(kinds.len()).unwrap()).collect::<Vec<_>>());
            let at = |n: i64| order.iter().position(|&m| m == n).unwrap();
            for (i, a) in &kinds {
                for (j, b) in kinds.iter().filter(|(j, _)| j > i) {
                    let ordered = match (a, b) {
                        (Some((_, x)), Some((_, y))) => x == y,
                        _ => true,
                    };
                    if ordered {
                        proptest::prop_assert!(at(*i) < at(*j), "{} must stay before {}", i, j);
                    }
                }
            }
            // A list holds one event per key, or an "a" followed by the "b" that joined it
            // (apply_many's contract).
            for (kind, ns) in &steps {
                let mut per_key: HashMap<u128, Vec<&'static str>> = HashMap::new();
                for n in ns {
                    if let Some((k, key)) = kinds[usize::try_from(*n).unwrap()].1 {
                        per_key.entry(key).or_default().push(k);
                    }
                }
                for events in per_key.values() {
                    let joined = *kind == "a" && events == &["a", "b"];
                    proptest::prop_assert!(events.len() == 1 || joined, "{:?} in one list of {}", events, kind);
                }
            }
        }
    }

    #[test]
    fn nothing_is_lost_or_repeated() {
        let kinds: Vec<(i64, Option<(&'static str, u128)>)> = (0..200)
            .map(|n: i64| {
                let kind = match n % 5 {
                    0 => None,
                    1 | 2 => Some(("a", u128::try_from(n % 7).unwrap())),
                    _ => Some(("b", u128::try_from(n % 11).unwrap())),
                };
                (n, kind)
            })
            .collect();
        let order: Vec<i64> = plan_of(&kinds).into_iter().flat_map(|(_, ns)| ns).collect();
        let mut applied = order.clone();
        applied.sort_unstable();
        assert_eq!(applied, (0..200).collect::<Vec<_>>());
        // Two events of one key, or either applied alone, keep their log order.
        let at = |n: i64| order.iter().position(|&m| m == n).unwrap();
        for (i, a) in &kinds {
            for (j, b) in kinds.iter().filter(|(j, _)| j > i) {
                let ordered = match (a, b) {
                    (Some((_, x)), Some((_, y))) => x == y,
                    _ => true,
                };
                if ordered {
                    assert!(at(*i) < at(*j), "{i} must stay before {j}");
                }
            }
        }
    }
}
