//! Executes commands: load (cached) state, decide, append, then carry out the effects.
//!
//! Whoever executes a command also carries out the immediate effects it caused (commands for
//! other aggregates, refunds), depth-first, so a request gets a final answer ("these seats,
//! this total, held until T") instead of "pending". Every effect is also a row written with its
//! cause; if this process dies mid-way, [`worker`] picks the rows up when their lease runs out.
//! Timers are rows due later, fired by the same worker. A new hold is the exception that makes a
//! flash sale cheap: its first steps are decided and committed in one go by its inventory's
//! writer ([`new_hold`]).

mod committer;
pub mod gateway;
mod new_hold;
pub mod purchase;
pub mod worker;
mod writer;

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::Duration;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::clock::Clock;
use crate::domain::DomainError;
use crate::domain::event::Event;
use crate::domain::ids::{EventId, ReservationId};
use crate::domain::inventory::Inventory;
use crate::domain::payment::{Payment, PaymentCommand};
use crate::domain::reducer::{Addressed, Command, Effect};
use crate::domain::reservation::{Reservation, ReservationCommand};
use crate::store::{EventStore, Metadata, StoreError, Stored, effects};
use gateway::{Card, GatewayError, PaymentGateway};
pub use writer::Outcome;
use writer::{Job, Writers};

/// How the runtime behaves; defaults suit production, tests shorten the times.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Hold length for new reservations.
    pub hold_seconds: u32,
    /// Unpaid seats one customer may hold in one event at once.
    pub max_held_per_customer: u8,
    /// Commands decided and appended in one transaction, at most; also the most write sets of
    /// different streams one group commit writes.
    pub batch_max: usize,
    /// Tasks committing the writers' decisions in groups across streams (0: every writer
    /// commits on its own). Two: one commits while the next group gathers. Four made groups
    /// smaller and commits more frequent (the 1,000 holds/s open loop's p99 78–102 ms against
    /// 59–60 with two; one committer: 84 ms).
    pub committers: usize,
    /// Queued commands per stream before callers wait (backpressure).
    pub mailbox_capacity: usize,
    /// A stream's writer (and its cached state) stops after this long without work.
    pub writer_idle: std::time::Duration,
    /// How long a writer that lost a race waits for its turn on the stream before its batch is
    /// answered "unavailable" (see the writer's module doc).
    pub turn_wait: std::time::Duration,
    /// A turn whose holder stops using its connection this long is ended by the database: a
    /// frozen or cut-off process must not hold up everyone else's turns on a hot stream.
    pub turn_idle_limit: std::time::Duration,
    /// Save a snapshot every this many events (0: never).
    pub snapshot_every: i64,
    /// ...and no sooner than this after the stream's previous snapshot from this process: a hot
    /// inventory's state is megabytes, and it gains hundreds of events a second in an on-sale.
    pub snapshot_min_interval: std::time::Duration,
    /// How long the executor of a command has to carry out its immediate effects before the
    /// worker assumes it died and takes over.
    pub inline_lease: Duration,
    /// How long a started charge may go without an outcome before the worker reconciles it
    /// with the gateway.
    pub charge_grace: Duration,
    /// How long the worker holds rows it leased.
    pub worker_lease: Duration,
    /// How often the worker looks for due rows when idle.
    pub poll_interval: std::time::Duration,
    /// Effects carried out inline after one command, at most (the rest go to the worker).
    pub inline_limit: usize,
    /// How failed effects are retried, and when they are parked for an operator.
    pub retry: effects::RetryPolicy,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            hold_seconds: 300,
            max_held_per_customer: 8,
            batch_max: 256,
            committers: 2,
            mailbox_capacity: 4096,
            writer_idle: std::time::Duration::from_secs(30),
            turn_wait: std::time::Duration::from_secs(5),
            turn_idle_limit: std::time::Duration::from_secs(10),
            snapshot_every: 500,
            snapshot_min_interval: std::time::Duration::from_secs(10),
            inline_lease: Duration::seconds(10),
            charge_grace: Duration::seconds(60),
            worker_lease: Duration::seconds(30),
            poll_interval: std::time::Duration::from_millis(100),
            inline_limit: 256,
            retry: effects::RetryPolicy::default(),
        }
    }
}

/// Why a command could not be carried out.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    /// A business rule said no: nothing changed.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Lost the race for a stream too many times in a row.
    #[error("too much contention, try again")]
    Conflict,
    /// A dependency (database, gateway) failed: nothing was lost, try again later.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for RuntimeError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { .. } => RuntimeError::Conflict,
            other => RuntimeError::Unavailable(other.to_string()),
        }
    }
}

impl From<GatewayError> for RuntimeError {
    fn from(error: GatewayError) -> Self {
        RuntimeError::Unavailable(error.to_string())
    }
}

/// An effect row written by a decision, with its id.
#[derive(Debug, Clone)]
pub struct PendingEffect {
    pub id: i64,
    pub effect: Effect,
}

/// Who acts and why: becomes the events' metadata.
#[derive(Debug, Clone, Copy)]
pub struct Cause {
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    pub user_id: Option<Uuid>,
}

impl Cause {
    /// A fresh request by `user` (or by the system).
    pub fn new(user_id: Option<Uuid>) -> Self {
        let id = Uuid::new_v4();
        Self { correlation_id: id, causation_id: id, user_id }
    }

    fn metadata(&self, command_id: Uuid) -> Metadata {
        Metadata {
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            command_id,
            user_id: self.user_id,
        }
    }
}

/// Shared by the runtime's parts.
pub(crate) struct Ctx {
    pub store: EventStore,
    pub clock: Arc<dyn Clock>,
    pub gateway: Arc<dyn PaymentGateway>,
    pub config: RuntimeConfig,
    /// Started on first use (from inside the async runtime).
    committer: std::sync::OnceLock<committer::Committer>,
}

impl Ctx {
    /// The group committer, unless turned off.
    pub(crate) fn committer(&self) -> Option<&committer::Committer> {
        (self.config.committers > 0).then(|| {
            self.committer.get_or_init(|| {
                committer::Committer::start(self.store.pool(), self.config.committers, self.config.batch_max)
            })
        })
    }
}

struct Inner {
    ctx: Arc<Ctx>,
    events: Arc<Writers<Event>>,
    inventories: Arc<Writers<Inventory>>,
    reservations: Arc<Writers<Reservation>>,
    payments: Arc<Writers<Payment>>,
}

/// The command side of the product. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("config", &self.inner.ctx.config).finish_non_exhaustive()
    }
}

impl Runtime {
    pub fn new(
        store: EventStore,
        clock: Arc<dyn Clock>,
        gateway: Arc<dyn PaymentGateway>,
        config: RuntimeConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                ctx: Arc::new(Ctx { store, clock, gateway, config, committer: std::sync::OnceLock::new() }),
                events: Arc::default(),
                inventories: Arc::default(),
                reservations: Arc::default(),
                payments: Arc::default(),
            }),
        }
    }

    pub fn store(&self) -> &EventStore {
        &self.inner.ctx.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.ctx.clock
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.ctx.config
    }

    /// Stream writers alive in this process (for metrics).
    pub fn live_writers(&self) -> usize {
        let i = &self.inner;
        i.events.live() + i.inventories.live() + i.reservations.live() + i.payments.live()
    }

    async fn submit<A: Stored + Addressed>(
        &self,
        writers: &Arc<Writers<A>>,
        id: Uuid,
        command: Option<A::Command>,
        source: Option<i64>,
        cause: &Cause,
        (want_state, fresh): (bool, bool),
    ) -> Result<Outcome<A>, RuntimeError> {
        let (reply, answer) = oneshot::channel();
        let meta = cause.metadata(Uuid::new_v4());
        let job = Job { command, source, meta, want_state, fresh, new_reservation: None, reply };
        writers.submit(&self.inner.ctx, id, job).await?;
        answer.await.map_err(|_| RuntimeError::Unavailable("stream writer stopped".into()))?
    }

    /// Starts reservation `id` with `initiate` and holds its seats in one step, in the batch of
    /// the inventory of `event_id` (see [`new_hold`]). The reservation as it stands afterwards
    /// (with its seats, or rejected), and the effects rows written for it (its timer).
    ///
    /// # Errors
    /// The reservation's refusal to start (`AlreadyExists` for an id already taken), or an
    /// unavailable store: then nothing at all was written.
    pub(crate) async fn start_reservation(
        &self,
        event_id: EventId,
        id: ReservationId,
        initiate: ReservationCommand,
        cause: &Cause,
    ) -> Result<(Reservation, Vec<PendingEffect>), RuntimeError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            command: None,
            source: None,
            meta: cause.metadata(Uuid::new_v4()),
            want_state: false,
            fresh: false,
            new_reservation: Some(new_hold::NewReservation { id, initiate, exists: false }),
            reply,
        };
        self.inner.inventories.submit(&self.inner.ctx, event_id.as_uuid(), job).await?;
        let outcome = answer.await.map_err(|_| RuntimeError::Unavailable("stream writer stopped".into()))??;
        let reservation =
            outcome.reservation.ok_or_else(|| RuntimeError::Unavailable("the hold was not decided".into()))?;
        Ok((reservation, outcome.effects))
    }

    /// The current state of an aggregate, exactly as the write side sees it.
    ///
    /// # Errors
    /// The store is unavailable.
    pub async fn state<A: Stored + Addressed>(&self, id: Uuid) -> Result<A, RuntimeError>
    where
        Self: WritersFor<A>,
    {
        let outcome = self.submit(self.writers(), id, None, None, &Cause::new(None), (true, true)).await?;
        Ok(outcome.state.unwrap_or_default())
    }

    /// The state as this process last saw it: may miss what another process appended moments
    /// ago. For facts that do not change or are checked again where it matters.
    ///
    /// # Errors
    /// The store is unavailable.
    pub async fn state_cached<A: Stored + Addressed>(&self, id: Uuid) -> Result<A, RuntimeError>
    where
        Self: WritersFor<A>,
    {
        let outcome = self.submit(self.writers(), id, None, None, &Cause::new(None), (true, false)).await?;
        Ok(outcome.state.unwrap_or_default())
    }

    /// Executes one command and returns its outcome, without carrying out its effects.
    ///
    /// # Errors
    /// The domain's refusal, or an unavailable store.
    pub async fn execute(
        &self,
        command: Command,
        source: Option<i64>,
        cause: &Cause,
    ) -> Result<Vec<PendingEffect>, RuntimeError> {
        let flags = (false, false);
        let effects = match command {
            Command::Event(id, c) => {
                self.submit(&self.inner.events, id.as_uuid(), Some(c), source, cause, flags).await?.effects
            }
            Command::Inventory(id, c) => {
                self.submit(&self.inner.inventories, id.as_uuid(), Some(c), source, cause, flags).await?.effects
            }
            Command::Reservation(id, c) => {
                self.submit(&self.inner.reservations, id.as_uuid(), Some(c), source, cause, flags).await?.effects
            }
            Command::Payment(id, c) => {
                self.submit(&self.inner.payments, id.as_uuid(), Some(c), source, cause, flags).await?.effects
            }
        };
        Ok(effects)
    }

    /// Executes a command and then carries out, depth-first, the immediate effects it caused and
    /// those they cause in turn. `card` pays a charge that the chain starts.
    ///
    /// # Errors
    /// The first command's refusal or an unavailable store. Failures further down the chain are
    /// left to the worker (their rows stay) and logged.
    pub async fn run(&self, command: Command, cause: &Cause, card: Option<&Card>) -> Result<(), RuntimeError> {
        let first = self.execute(command, None, cause).await?;
        self.carry_out(first, cause, card).await;
        Ok(())
    }

    /// Carries out `pending` effects and what they lead to, up to the inline limit.
    pub(crate) async fn carry_out(&self, pending: Vec<PendingEffect>, cause: &Cause, card: Option<&Card>) {
        let mut queue: VecDeque<PendingEffect> = pending.into();
        let mut done = 0;
        while let Some(next) = queue.pop_front() {
            if done >= self.inner.ctx.config.inline_limit {
                break;
            }
            done += 1;
            let cause = Cause { causation_id: Uuid::new_v4(), ..*cause };
            match self.carry_out_one(&next, &cause, card).await {
                Ok(more) => queue.extend(more),
                // A refusal was recorded on the row by the writer that refused it.
                Err(RuntimeError::Domain(_)) => {}
                // A charge keeps its grace period: reconciling early would void a good card.
                Err(e) if matches!(next.effect, Effect::Charge { .. }) => {
                    tracing::warn!(effect = next.id, error = %e, "charge left for its retry or the worker");
                }
                Err(e) => {
                    tracing::warn!(effect = next.id, error = %e, "effect left for the worker");
                    self.record_failure(next.id, &e).await;
                }
            }
        }
    }

    /// Notes a failed attempt on an effects row (backoff, then parked), counting parked rows for
    /// operators. Best effort: if even this fails, the row's lease runs out and it is retried.
    pub(crate) async fn record_failure(&self, id: i64, error: &RuntimeError) {
        let now = self.clock().now();
        match effects::record_failure(self.store().pool(), id, &error.to_string(), now, &self.config().retry).await {
            Ok(Some(kind)) => note_parked(id, kind, &error.to_string()),
            Ok(None) => {}
            Err(e) => tracing::warn!(effect = id, error = %e, "could not record the failure"),
        }
    }

    async fn carry_out_one(
        &self,
        pending: &PendingEffect,
        cause: &Cause,
        card: Option<&Card>,
    ) -> Result<Vec<PendingEffect>, RuntimeError> {
        let gateway = &self.inner.ctx.gateway;
        match &pending.effect {
            Effect::Send(command) => self.execute(command.clone(), Some(pending.id), cause).await,
            // Timers fire from the worker; a charge without the card is reconciled by it later.
            Effect::Schedule { .. } => Ok(Vec::new()),
            Effect::Charge { payment_id, amount } => {
                let Some(card) = card else { return Ok(Vec::new()) };
                let outcome = gateway.charge(*payment_id, *amount, card).await?;
                let record = Command::Payment(*payment_id, PaymentCommand::RecordOutcome { outcome });
                self.execute(record, Some(pending.id), cause).await
            }
            Effect::ReturnFunds { payment_id, refund_id, amount } => {
                gateway.refund(*payment_id, *refund_id, *amount).await?;
                effects::delete(self.store().pool(), pending.id).await?;
                Ok(Vec::new())
            }
        }
    }
}

/// A row gave up: tell operators (metric `effects_parked_total{kind}`, an error in the log).
pub(crate) fn note_parked(id: i64, kind: effects::EffectKind, error: &str) {
    metrics::counter!("effects_parked_total", "kind" => kind.as_str()).increment(1);
    tracing::error!(effect = id, kind = kind.as_str(), error, "effect parked after its last attempt: see RUNBOOK");
}

/// Maps an aggregate type to its writers (lets `state::<A>` be generic).
pub trait WritersFor<A: Stored + Addressed> {
    #[doc(hidden)]
    #[allow(private_interfaces)]
    fn writers(&self) -> &Arc<Writers<A>>;
}

macro_rules! writers_for {
    ($($aggregate:ty => $field:ident),*) => {$(
        impl WritersFor<$aggregate> for Runtime {
            #[allow(private_interfaces)]
            fn writers(&self) -> &Arc<Writers<$aggregate>> {
                &self.inner.$field
            }
        }
    )*};
}
writers_for!(Event => events, Inventory => inventories, Reservation => reservations, Payment => payments);
