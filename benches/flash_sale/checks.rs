//! The promise, checked after each run against the event log (the write side's truth, replayed
//! afresh) and the gateway's own ledger: no seat held or sold twice, no more than capacity, every
//! 201 its own seats, and the money captured equal to the completed orders.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use ticketing::clock::SystemClock;
use ticketing::domain::ids::{EventId, ReservationId};
use ticketing::domain::inventory::{HoldStatus, SeatState};
use ticketing::domain::reservation::ReservationStatus;
use ticketing::runtime::gateway::SimulatedGateway;
use ticketing::runtime::{Runtime, RuntimeConfig};
use ticketing::store::EventStore;
use uuid::Uuid;

use crate::client::BoxError;
use crate::load::Win;

/// What the check found; `violations` must be empty.
#[derive(Debug, Default)]
pub struct Verdict {
    pub facts: Vec<String>,
    pub violations: Vec<String>,
}

impl Verdict {
    pub fn text(&self) -> String {
        let mut lines = self.facts.clone();
        if self.violations.is_empty() {
            lines.push("promise kept: no violation".into());
        } else {
            lines.extend(self.violations.iter().map(|v| format!("VIOLATION: {v}")));
        }
        lines.join("; ")
    }
}

/// A runtime over the run's event log, read with this build's code. The log of a server built
/// from an older commit (`BENCH_TICKETING_BIN`, for before/after runs) is first brought to this
/// build's schema: the event log's migrations are expand steps, or contract steps of what the
/// release before no longer needs, so an older server of the release before this one, still
/// running, keeps working with it. One older than that may not: a server from before 5541b7d
/// reads the JSONB `metadata` that `20261208000001` drops, so its scenarios after the first check
/// fail; run such a build one scenario at a time.
async fn runtime(events_url: &str) -> Result<Runtime, BoxError> {
    let pool = ticketing::store::database::pool(events_url, 8)?;
    ticketing::store::database::EVENTS_MIGRATOR.run(&pool).await?;
    Ok(Runtime::new(
        EventStore::new(pool.clone()),
        Arc::new(SystemClock),
        Arc::new(SimulatedGateway::new(pool)),
        RuntimeConfig::default(),
    ))
}

/// Seats: the inventory replayed from the log, against every hold the clients were granted.
pub async fn seats(events_url: &str, event_id: &str, wins: &[Win]) -> Result<Verdict, BoxError> {
    let rt = runtime(events_url).await?;
    let inventory = rt.inventory(EventId::from_uuid(event_id.parse()?)).await?;
    let mut verdict = Verdict::default();
    if let Err(broken) = inventory.check_invariants() {
        verdict.violations.push(format!("inventory invariant: {broken}"));
    }
    for (name, section) in inventory.sections() {
        let (held, sold, capacity) = (section.reserved(), section.sold(), section.capacity());
        verdict.facts.push(format!("{name}: {held} held + {sold} sold of {capacity}"));
        if held + sold > capacity {
            verdict.violations.push(format!("{name}: {held} + {sold} > {capacity}"));
        }
    }
    // Seats come back (cancelled, declined, expired) and are sold again: a seat may appear in
    // two 201s over time, never in two holds that are live (held or sold) together.
    let mut live_seats = HashSet::new();
    let (mut duplicates, mut unknown, mut mismatched, mut live) = (0, 0, 0, 0);
    for win in wins {
        let id = ReservationId::from_uuid(win.reservation_id);
        let Some((hold, section)) = inventory.hold(id).and_then(|h| Some((h, h.section.as_ref()?))) else {
            unknown += 1;
            continue;
        };
        let granted: HashSet<Uuid> = win.seat_ids.iter().copied().collect();
        let recorded: HashSet<Uuid> =
            inventory.assignments(section, &hold.positions).iter().map(|a| a.seat_id.as_uuid()).collect();
        if granted != recorded {
            mismatched += 1;
        }
        if matches!(hold.status, HoldStatus::Held | HoldStatus::Sold) {
            live += 1;
            duplicates += granted.iter().filter(|seat| !live_seats.insert(**seat)).count();
            let owned = hold.positions.iter().all(|&p| {
                matches!(section_seat(&inventory, section.as_str(), p), Some(SeatState::Reserved(r) | SeatState::Sold(r)) if r == id)
            });
            if !owned {
                mismatched += 1;
            }
        }
    }
    if duplicates > 0 {
        verdict.violations.push(format!("{duplicates} seats belong to two live holds"));
    }
    if unknown > 0 {
        verdict.violations.push(format!("{unknown} answered holds the inventory never recorded"));
    }
    if mismatched > 0 {
        verdict.violations.push(format!("{mismatched} holds whose seats differ from the answer or belong to another"));
    }
    verdict.facts.push(format!(
        "{} holds answered 201 ({live} still held or sold, on {} distinct seats)",
        wins.len(),
        live_seats.len()
    ));
    Ok(verdict)
}

fn section_seat(
    inventory: &ticketing::domain::inventory::Inventory,
    section: &str,
    position: u32,
) -> Option<SeatState> {
    inventory.section(section)?.seat(position)
}

/// Money: what the gateway captured (less refunds) for these reservations equals the totals of
/// the completed ones; every payment answered 200 is a completed order.
pub async fn money(events_url: &str, wins: &[Win], paid: &[Uuid]) -> Result<Verdict, BoxError> {
    let rt = runtime(events_url).await?;
    let ids: Vec<ReservationId> = wins.iter().map(|w| ReservationId::from_uuid(w.reservation_id)).collect();
    let loaded: Vec<_> = futures::stream::iter(ids.iter().map(|&id| {
        let rt = rt.clone();
        async move { rt.reservation(id).await }
    }))
    .buffer_unordered(16)
    .collect()
    .await;
    let mut verdict = Verdict::default();
    let mut completed_cents = 0u64;
    let mut completed = HashSet::new();
    let mut by_status = std::collections::BTreeMap::<String, u64>::new();
    for reservation in loaded {
        let reservation = reservation?;
        *by_status.entry(format!("{:?}", reservation.status)).or_default() += 1;
        if reservation.status == ReservationStatus::Completed {
            completed_cents += reservation.total.cents() - reservation.refunded.cents();
            completed.insert(reservation.reservation_id.as_uuid());
        }
    }
    let payments: Vec<Uuid> = ids.iter().map(|&id| Runtime::payment_of(id).as_uuid()).collect();
    let (captured, refunded): (i64, i64) = sqlx::query_as(
        "SELECT
           COALESCE((SELECT sum(amount_cents) FROM gateway_simulator_charges WHERE status = 'captured' AND payment_id = ANY($1)), 0)::BIGINT,
           COALESCE((SELECT sum(amount_cents) FROM gateway_simulator_refunds WHERE payment_id = ANY($1)), 0)::BIGINT",
    )
    .bind(&payments)
    .fetch_one(rt.store().pool())
    .await?;
    let net = u64::try_from(captured - refunded).unwrap_or(0);
    verdict.facts.push(format!("reservations by status: {by_status:?}"));
    verdict.facts.push(format!(
        "gateway captured {captured} − refunded {refunded} = {net} cents; completed orders {completed_cents} cents"
    ));
    if net != completed_cents {
        verdict.violations.push(format!("money: gateway net {net} ≠ completed orders {completed_cents}"));
    }
    let unpaid = paid.iter().filter(|id| !completed.contains(id)).count();
    if unpaid > 0 {
        verdict.violations.push(format!("{unpaid} payments answered 200 whose order is not completed"));
    }
    Ok(verdict)
}
