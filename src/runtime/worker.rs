//! Carries out effects rows that nobody else is carrying out: timers that came due, and rows
//! whose executor died (its lease ran out). Run one per process; any number of processes can run
//! it at once (rows are leased with `FOR UPDATE SKIP LOCKED`). On start it is also the crash
//! recovery: every step recorded but not carried out, and every overdue timer, is a due row.

use futures::StreamExt;
use tokio::sync::watch;

use super::{Cause, PendingEffect, Runtime, RuntimeError};
use crate::domain::ids::{PaymentId, RefundId};
use crate::domain::money::Money;
use crate::domain::payment::PaymentCommand;
use crate::domain::reducer::{Command, Effect};
use crate::store::codec;
use crate::store::effects::{self, EffectKind, EffectRow};

/// Rows leased per round.
const LEASE_BATCH: i64 = 128;
/// Rows carried out at once.
const CONCURRENCY: usize = 32;

impl Runtime {
    /// Runs until `shutdown` turns true.
    pub async fn run_worker(&self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!("effects worker started");
        loop {
            let worked = match self.work_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "effects worker could not lease rows");
                    0
                }
            };
            if *shutdown.borrow() {
                break;
            }
            if worked == 0 {
                tokio::select! {
                    () = tokio::time::sleep(self.config().poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        tracing::info!("effects worker stopped");
    }

    /// Leases the due rows once and carries them out; returns how many there were.
    ///
    /// # Errors
    /// The store could not be reached.
    pub async fn work_once(&self) -> Result<usize, RuntimeError> {
        let now = self.clock().now();
        let rows = effects::lease_due(self.store().pool(), now, self.config().worker_lease, LEASE_BATCH).await?;
        let count = rows.len();
        futures::stream::iter(rows)
            .for_each_concurrent(CONCURRENCY, |row| async move {
                let id = row.id;
                match self.carry_out_row(row).await {
                    Ok(()) | Err(RuntimeError::Domain(_)) => {}
                    Err(e) => {
                        tracing::warn!(effect = id, error = %e, "effect failed; will retry");
                        self.record_failure(id, &e).await;
                    }
                }
            })
            .await;
        Ok(count)
    }

    async fn carry_out_row(&self, row: EffectRow) -> Result<(), RuntimeError> {
        let cause = Cause { correlation_id: row.correlation_id, causation_id: row.causation_id, user_id: None };
        let undecodable = |e: String| RuntimeError::Unavailable(format!("effect {} undecodable: {e}", row.id));
        let next = match row.kind {
            EffectKind::Command => {
                let command: Command = codec::decode(&row.payload).map_err(undecodable)?;
                self.execute(command, Some(row.id), &cause).await?
            }
            EffectKind::Charge => {
                // Its executor died mid-charge: ask the gateway what happened (and make sure a
                // late attempt can no longer succeed), then record that outcome.
                let (payment_id, amount): (PaymentId, Money) = codec::decode(&row.payload).map_err(undecodable)?;
                let outcome = self.inner.ctx.gateway.reconcile(payment_id, amount).await?;
                let record = Command::Payment(payment_id, PaymentCommand::RecordOutcome { outcome });
                self.execute(record, Some(row.id), &cause).await?
            }
            EffectKind::Refund => {
                // Money owed: its failure must be recorded on this row (backoff, then parked),
                // not merely logged.
                let (payment_id, refund_id, amount): (PaymentId, RefundId, Money) =
                    codec::decode(&row.payload).map_err(undecodable)?;
                let pending =
                    PendingEffect { id: row.id, effect: Effect::ReturnFunds { payment_id, refund_id, amount } };
                self.carry_out_one(&pending, &cause, None).await?
            }
        };
        self.carry_out(next, &cause, None).await;
        Ok(())
    }
}
