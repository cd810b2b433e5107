//! The Inventory aggregate: every seat of one event, one stream per event.
//!
//! All seat decisions for an event are serialised through this stream, so "is this seat free?"
//! and "hold it" are one atomic step. A seat is `Available`, `Reserved` by one reservation, or
//! `Sold` to one reservation; the invariants (checked after every apply in tests) are that each
//! section's `reserved + sold <= capacity` and that a seat belongs to at most one reservation.
//!
//! Every reservation the inventory has heard of keeps a [`Hold`] entry, even after release. That
//! record makes every command idempotent and closes a race: if a reservation's expiry overtakes
//! its own seat request, the release leaves a tombstone and the late request is refused, so no
//! seat is ever held for a reservation that is already over.
//!
//! `Reserve` never fails: it always answers the reservation, with its seats or with the reason it
//! got none ([`AllocationFailure`]), so the saga decides what happens next.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::error::DomainError;
use super::ids::{CustomerId, EventId, Id, ReservationId, SeatId};
use super::reducer::{Aggregate, Command, Decision, Effect};
use super::reservation::ReservationCommand;
use super::seating::{SeatNumber, SectionLayout};
use super::values::{Quantity, SectionName, Timestamp};

/// Whether the inventory may hand out seats. Mirrors the event's lifecycle, delivered by the
/// Event aggregate's effects, so the check and the hold happen in the same stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SalesState {
    #[default]
    Closed,
    Open,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeatState {
    Available,
    Reserved(ReservationId),
    Sold(ReservationId),
}

/// One seat handed to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeatAssignment {
    /// Position in the section (0-based); general-admission seats are handed out lowest first.
    pub position: u32,
    pub seat_id: SeatId,
    /// The label, for numbered sections.
    pub label: Option<SeatNumber>,
}

/// Why a reservation got no seats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AllocationFailure {
    InsufficientInventory {
        section: String,
        requested: u32,
        available: u32,
    },
    SeatUnavailable {
        seats: Vec<String>,
    },
    SalesNotOpen,
    EventCancelled,
    SectionNotFound {
        section: String,
    },
    Invalid {
        reason: String,
    },
    /// The customer already holds `held` unpaid seats of this event; `limit` is the most.
    HoldLimit {
        limit: u32,
        held: u32,
    },
}

impl AllocationFailure {
    /// The refusal as the API reports it.
    pub fn to_error(&self) -> DomainError {
        match self {
            Self::InsufficientInventory { section, requested, available } => DomainError::InsufficientInventory {
                section: section.clone(),
                requested: *requested,
                available: *available,
            },
            Self::SeatUnavailable { seats } => DomainError::SeatUnavailable { seats: seats.clone() },
            Self::SalesNotOpen => DomainError::SalesNotOpen,
            Self::EventCancelled => DomainError::EventCancelled,
            Self::SectionNotFound { section } => DomainError::SectionNotFound { section: section.clone() },
            Self::Invalid { reason } => DomainError::validation("specific_seats", reason.clone()),
            Self::HoldLimit { limit, held } => DomainError::HoldLimitReached { limit: *limit, held: *held },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InventoryCommand {
    Initialize {
        event_id: EventId,
        sections: Vec<(SectionName, SectionLayout)>,
    },
    /// `seq` is the event's lifecycle sequence: a message older than the last one applied is
    /// stale (delivered late or twice) and changes nothing, so reordering can never reopen sales.
    OpenSales {
        seq: u32,
    },
    CloseSales {
        seq: u32,
    },
    /// The organiser cancelled the event: stop selling, and tell every reservation with seats.
    CancelEvent,
    /// Hold `quantity` seats (lowest positions first), or exactly `seats` when given, for
    /// `customer_id`, who may hold at most `max_held` unpaid seats of this event at once (so one
    /// account cannot hold a whole sale).
    Reserve {
        reservation_id: ReservationId,
        customer_id: CustomerId,
        max_held: u8,
        section: SectionName,
        quantity: Quantity,
        seats: Option<Vec<SeatNumber>>,
    },
    /// Payment succeeded: the reservation's held seats become sold.
    Confirm {
        reservation_id: ReservationId,
    },
    /// The hold ended unpaid (expiry, cancellation, failed payment): its seats become available.
    Release {
        reservation_id: ReservationId,
    },
    /// A paid reservation was refunded: its sold seats go back on sale.
    ReturnSold {
        reservation_id: ReservationId,
    },
    /// The event's sections changed while it was a draft (nothing held, nothing sold).
    Redefine {
        sections: Vec<(SectionName, SectionLayout)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InventoryEvent {
    Initialized {
        event_id: EventId,
        sections: Vec<(SectionName, SectionLayout)>,
    },
    SalesOpened {
        seq: u32,
    },
    SalesClosed {
        seq: u32,
    },
    EventCancelled,
    /// v2 added `customer_id` (v1 holds count against nobody's limit).
    SeatsReserved {
        reservation_id: ReservationId,
        section: SectionName,
        positions: Vec<u32>,
        customer_id: Option<CustomerId>,
    },
    SeatsSold {
        reservation_id: ReservationId,
    },
    SeatsReleased {
        reservation_id: ReservationId,
    },
    SoldSeatsReturned {
        reservation_id: ReservationId,
    },
    /// A release arrived before any seats were held: remembered so a late request gets none.
    ReservationVoided {
        reservation_id: ReservationId,
    },
    /// New sections, replacing the old ones (a draft's).
    Redefined {
        sections: Vec<(SectionName, SectionLayout)>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldStatus {
    Held,
    Sold,
    Released,
    Returned,
}

/// What the inventory remembers about one reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub section: Option<SectionName>,
    pub positions: Vec<u32>,
    pub status: HoldStatus,
    pub customer: Option<CustomerId>,
}

/// One section's seats and counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionInventory {
    pub layout: SectionLayout,
    seats: Vec<SeatState>,
    /// Index of available positions, so "lowest N free" is O(N log n), not a scan of the section.
    available: BTreeSet<u32>,
    reserved: u32,
    sold: u32,
}

impl SectionInventory {
    fn new(layout: SectionLayout) -> Self {
        let capacity = layout.capacity();
        Self {
            layout,
            seats: vec![SeatState::Available; capacity as usize],
            available: (0..capacity).collect(),
            reserved: 0,
            sold: 0,
        }
    }

    pub fn capacity(&self) -> u32 {
        self.layout.capacity()
    }
    pub fn available(&self) -> u32 {
        u32::try_from(self.available.len()).unwrap_or(u32::MAX)
    }
    pub const fn reserved(&self) -> u32 {
        self.reserved
    }
    pub const fn sold(&self) -> u32 {
        self.sold
    }
    pub fn seat(&self, position: u32) -> Option<SeatState> {
        self.seats.get(position as usize).copied()
    }
    pub fn seats(&self) -> &[SeatState] {
        &self.seats
    }

    fn set(&mut self, position: u32, to: SeatState) {
        let Some(seat) = self.seats.get_mut(position as usize) else { return };
        match *seat {
            SeatState::Available => {
                self.available.remove(&position);
            }
            SeatState::Reserved(_) => self.reserved -= 1,
            SeatState::Sold(_) => self.sold -= 1,
        }
        match to {
            SeatState::Available => {
                self.available.insert(position);
            }
            SeatState::Reserved(_) => self.reserved += 1,
            SeatState::Sold(_) => self.sold += 1,
        }
        *seat = to;
    }
}

/// The state: empty until initialised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    event_id: Option<EventId>,
    sales: SalesState,
    /// The lifecycle sequence of the last sales change applied.
    sales_seq: u32,
    sections: BTreeMap<SectionName, SectionInventory>,
    holds: BTreeMap<ReservationId, Hold>,
    /// Unpaid seats each customer holds right now (kept by `apply`, so no scan of `holds`).
    held_by_customer: BTreeMap<CustomerId, u32>,
}

impl Inventory {
    pub const fn sales(&self) -> SalesState {
        self.sales
    }
    pub fn section(&self, name: &str) -> Option<&SectionInventory> {
        self.sections.iter().find(|(n, _)| n.as_str() == name).map(|(_, s)| s)
    }
    pub fn sections(&self) -> impl Iterator<Item = (&SectionName, &SectionInventory)> {
        self.sections.iter()
    }
    pub fn hold(&self, reservation_id: ReservationId) -> Option<&Hold> {
        self.holds.get(&reservation_id)
    }

    /// Unpaid seats `customer` holds in this event.
    pub fn held_by(&self, customer: CustomerId) -> u32 {
        self.held_by_customer.get(&customer).copied().unwrap_or(0)
    }

    /// The seats of a hold as the reservation sees them.
    pub fn assignments(&self, section: &SectionName, positions: &[u32]) -> Vec<SeatAssignment> {
        let Some(event_id) = self.event_id else { return Vec::new() };
        let layout = self.sections.get(section).map(|s| s.layout);
        positions
            .iter()
            .map(|&position| SeatAssignment {
                position,
                seat_id: seat_id(event_id, section, position),
                label: layout.and_then(|l| l.label(position)),
            })
            .collect()
    }

    /// Checks the inventory's invariants; `Err` describes the first violation. Tests call this
    /// after every applied event.
    ///
    /// # Errors
    /// A description of the first broken invariant.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut owner: BTreeMap<(&SectionName, u32), SeatState> = BTreeMap::new();
        for (name, section) in &self.sections {
            let (mut reserved, mut sold) = (0u32, 0u32);
            for (position, seat) in (0u32..).zip(&section.seats) {
                match seat {
                    SeatState::Available => {
                        if !section.available.contains(&position) {
                            return Err(format!("{name}/{position} available but not indexed"));
                        }
                    }
                    SeatState::Reserved(_) | SeatState::Sold(_) => {
                        if matches!(seat, SeatState::Reserved(_)) {
                            reserved += 1;
                        } else {
                            sold += 1;
                        }
                        owner.insert((name, position), *seat);
                    }
                }
            }
            if reserved != section.reserved || sold != section.sold {
                return Err(format!(
                    "{name}: counters {}/{} but seats say {reserved}/{sold}",
                    section.reserved, section.sold
                ));
            }
            if reserved + sold + section.available() != section.capacity() {
                return Err(format!("{name}: reserved + sold + available != capacity"));
            }
        }
        for (reservation_id, hold) in &self.holds {
            let active = matches!(hold.status, HoldStatus::Held | HoldStatus::Sold);
            for &position in &hold.positions {
                let Some(section) = hold.section.as_ref() else {
                    return Err("hold with seats but no section".into());
                };
                let owner = owner.get(&(section, position)).copied();
                let expected = match hold.status {
                    HoldStatus::Held => Some(SeatState::Reserved(*reservation_id)),
                    HoldStatus::Sold => Some(SeatState::Sold(*reservation_id)),
                    HoldStatus::Released | HoldStatus::Returned => None,
                };
                let is_owner =
                    matches!(owner, Some(SeatState::Reserved(r) | SeatState::Sold(r)) if r == *reservation_id);
                // An active hold owns its seats in its state; a finished one owns none (they may
                // be someone else's now).
                if (active && owner != expected) || (!active && is_owner) {
                    return Err(format!(
                        "{section}/{position}: hold of {reservation_id:?} is {:?} but the seat's owner is {owner:?}",
                        hold.status
                    ));
                }
            }
        }
        let claimed: usize = self
            .holds
            .values()
            .filter(|h| matches!(h.status, HoldStatus::Held | HoldStatus::Sold))
            .map(|h| h.positions.len())
            .sum();
        if claimed != owner.len() {
            return Err(format!("{} seats are taken but holds claim {claimed}", owner.len()));
        }
        Ok(())
    }

    fn reply(reservation_id: ReservationId, command: ReservationCommand) -> Effect {
        Effect::Send(Command::Reservation(reservation_id, command))
    }

    #[allow(clippy::too_many_arguments)]
    fn reserve(
        &self,
        reservation_id: ReservationId,
        customer_id: CustomerId,
        max_held: u8,
        section_name: &SectionName,
        quantity: Quantity,
        wanted: Option<&[SeatNumber]>,
    ) -> Decision<InventoryEvent> {
        let refuse = |failure| {
            Decision::nothing().with(Self::reply(reservation_id, ReservationCommand::AllocationFailed { failure }))
        };
        if let Some(hold) = self.holds.get(&reservation_id) {
            // A redelivered request: answer again with what it already got; a voided or finished
            // reservation gets nothing.
            return match (hold.status, &hold.section) {
                (HoldStatus::Held, Some(section)) => Decision::nothing().with(Self::reply(
                    reservation_id,
                    ReservationCommand::SeatsAllocated { seats: self.assignments(section, &hold.positions) },
                )),
                _ => Decision::nothing(),
            };
        }
        match self.sales {
            SalesState::Open => {}
            SalesState::Closed => return refuse(AllocationFailure::SalesNotOpen),
            SalesState::Cancelled => return refuse(AllocationFailure::EventCancelled),
        }
        let Some(section) = self.sections.get(section_name) else {
            return refuse(AllocationFailure::SectionNotFound { section: section_name.to_string() });
        };
        let held = self.held_by(customer_id);
        if held + quantity.as_u32() > u32::from(max_held) {
            return refuse(AllocationFailure::HoldLimit { limit: u32::from(max_held), held });
        }
        let positions = match wanted {
            None => {
                if section.available() < quantity.as_u32() {
                    return refuse(AllocationFailure::InsufficientInventory {
                        section: section_name.to_string(),
                        requested: quantity.as_u32(),
                        available: section.available(),
                    });
                }
                section.available.iter().take(usize::from(quantity.get())).copied().collect()
            }
            Some(wanted) => match Self::pick_specific(section, quantity, wanted) {
                Ok(positions) => positions,
                Err(failure) => return refuse(failure),
            },
        };
        let seats = self.assignments(section_name, &positions);
        Decision::event(InventoryEvent::SeatsReserved {
            reservation_id,
            section: section_name.clone(),
            positions,
            customer_id: Some(customer_id),
        })
        .with(Self::reply(reservation_id, ReservationCommand::SeatsAllocated { seats }))
    }

    fn pick_specific(
        section: &SectionInventory,
        quantity: Quantity,
        wanted: &[SeatNumber],
    ) -> Result<Vec<u32>, AllocationFailure> {
        if !section.layout.is_numbered() {
            return Err(AllocationFailure::Invalid {
                reason: "specific seats can only be chosen in numbered sections".into(),
            });
        }
        if wanted.len() != usize::from(quantity.get()) {
            return Err(AllocationFailure::Invalid {
                reason: "the number of specific seats must equal the quantity".into(),
            });
        }
        let mut positions = Vec::with_capacity(wanted.len());
        let mut unavailable = Vec::new();
        for &label in wanted {
            match section.layout.position(label) {
                Some(p) if positions.contains(&p) => {
                    return Err(AllocationFailure::Invalid { reason: format!("seat {label} is listed twice") });
                }
                Some(p) if section.available.contains(&p) => positions.push(p),
                _ => unavailable.push(label.to_string()),
            }
        }
        if unavailable.is_empty() {
            Ok(positions)
        } else {
            Err(AllocationFailure::SeatUnavailable { seats: unavailable })
        }
    }
}

/// The stable id of a seat: the same event, section and position always give the same id.
pub fn seat_id(event_id: EventId, section: &SectionName, position: u32) -> SeatId {
    Id::derive(event_id, &format!("{section}/{position}"))
}

fn hold_refusal(status: HoldStatus, action: &'static str) -> DomainError {
    let from = match status {
        HoldStatus::Held => "held",
        HoldStatus::Sold => "sold",
        HoldStatus::Released => "released",
        HoldStatus::Returned => "returned",
    };
    DomainError::InvalidStateTransition { from, action }
}

impl Aggregate for Inventory {
    type Command = InventoryCommand;
    type Event = InventoryEvent;

    fn decide(&self, command: &InventoryCommand, _now: Timestamp) -> Result<Decision<InventoryEvent>, DomainError> {
        use InventoryCommand as C;
        use InventoryEvent as E;
        if let C::Initialize { event_id, sections } = command {
            // Initialising twice (a redelivered command) changes nothing.
            return Ok(if self.event_id.is_some() {
                Decision::nothing()
            } else {
                Decision::event(E::Initialized { event_id: *event_id, sections: sections.clone() })
            });
        }
        if self.event_id.is_none() {
            return Err(DomainError::EventNotFound);
        }
        let hold = |reservation_id: &ReservationId| self.holds.get(reservation_id).map(|h| h.status);
        Ok(match command {
            C::Initialize { .. } => Decision::nothing(),
            C::OpenSales { seq } | C::CloseSales { seq } if *seq <= self.sales_seq => Decision::nothing(),
            C::OpenSales { .. } | C::CloseSales { .. } if self.sales == SalesState::Cancelled => Decision::nothing(),
            C::OpenSales { seq } => Decision::event(E::SalesOpened { seq: *seq }),
            C::CloseSales { seq } => Decision::event(E::SalesClosed { seq: *seq }),
            C::CancelEvent => {
                if self.sales == SalesState::Cancelled {
                    return Ok(Decision::nothing());
                }
                let mut decision = Decision::event(E::EventCancelled);
                for (reservation_id, hold) in &self.holds {
                    if matches!(hold.status, HoldStatus::Held | HoldStatus::Sold) {
                        decision = decision.with(Self::reply(*reservation_id, ReservationCommand::EventCancelled));
                    }
                }
                decision
            }
            C::Reserve { reservation_id, customer_id, max_held, section, quantity, seats } => {
                self.reserve(*reservation_id, *customer_id, *max_held, section, *quantity, seats.as_deref())
            }
            C::Confirm { reservation_id } => match hold(reservation_id) {
                Some(HoldStatus::Held) => Decision::event(E::SeatsSold { reservation_id: *reservation_id }),
                // Sold already, or refunded before this confirmation arrived.
                Some(HoldStatus::Sold | HoldStatus::Returned) => Decision::nothing(),
                Some(other) => return Err(hold_refusal(other, "confirm")),
                None => return Err(DomainError::ReservationNotFound),
            },
            C::Release { reservation_id } => match hold(reservation_id) {
                Some(HoldStatus::Held) => Decision::event(E::SeatsReleased { reservation_id: *reservation_id }),
                Some(HoldStatus::Released | HoldStatus::Returned) => Decision::nothing(),
                Some(HoldStatus::Sold) => return Err(hold_refusal(HoldStatus::Sold, "release")),
                None => Decision::event(E::ReservationVoided { reservation_id: *reservation_id }),
            },
            C::Redefine { sections } => {
                if !self.holds.is_empty() || self.sales != SalesState::Closed || self.sales_seq > 0 {
                    return Err(DomainError::InvalidStateTransition { from: "on sale", action: "redefine sections" });
                }
                let current: Vec<(SectionName, SectionLayout)> =
                    self.sections.iter().map(|(name, s)| (name.clone(), s.layout)).collect();
                let mut wanted = sections.clone();
                wanted.sort_by(|a, b| a.0.cmp(&b.0));
                if wanted == current {
                    Decision::nothing()
                } else {
                    Decision::event(E::Redefined { sections: sections.clone() })
                }
            }
            C::ReturnSold { reservation_id } => match hold(reservation_id) {
                // Held: the refund overtook the confirmation of the sale; the seats go back all the same.
                Some(HoldStatus::Sold | HoldStatus::Held) => {
                    Decision::event(E::SoldSeatsReturned { reservation_id: *reservation_id })
                }
                Some(HoldStatus::Returned) => Decision::nothing(),
                Some(other) => return Err(hold_refusal(other, "return")),
                None => return Err(DomainError::ReservationNotFound),
            },
        })
    }

    fn apply(&mut self, event: &InventoryEvent) {
        use InventoryEvent as E;
        match event {
            E::Initialized { event_id, sections } => {
                self.event_id = Some(*event_id);
                self.sections =
                    sections.iter().map(|(name, layout)| (name.clone(), SectionInventory::new(*layout))).collect();
            }
            E::Redefined { sections } => {
                self.sections =
                    sections.iter().map(|(name, layout)| (name.clone(), SectionInventory::new(*layout))).collect();
            }
            E::SalesOpened { seq } => {
                self.sales = SalesState::Open;
                self.sales_seq = *seq;
            }
            E::SalesClosed { seq } => {
                self.sales = SalesState::Closed;
                self.sales_seq = *seq;
            }
            E::EventCancelled => self.sales = SalesState::Cancelled,
            E::SeatsReserved { reservation_id, section, positions, customer_id } => {
                if let Some(inventory) = self.sections.get_mut(section) {
                    for &p in positions {
                        inventory.set(p, SeatState::Reserved(*reservation_id));
                    }
                }
                if let Some(customer) = customer_id {
                    *self.held_by_customer.entry(*customer).or_default() +=
                        u32::try_from(positions.len()).unwrap_or(u32::MAX);
                }
                self.holds.insert(
                    *reservation_id,
                    Hold {
                        section: Some(section.clone()),
                        positions: positions.clone(),
                        status: HoldStatus::Held,
                        customer: *customer_id,
                    },
                );
            }
            E::SeatsSold { reservation_id } => {
                self.move_hold(*reservation_id, HoldStatus::Sold, SeatState::Sold(*reservation_id));
            }
            E::SeatsReleased { reservation_id } => {
                self.move_hold(*reservation_id, HoldStatus::Released, SeatState::Available);
            }
            E::SoldSeatsReturned { reservation_id } => {
                self.move_hold(*reservation_id, HoldStatus::Returned, SeatState::Available);
            }
            E::ReservationVoided { reservation_id } => {
                self.holds.insert(
                    *reservation_id,
                    Hold { section: None, positions: Vec::new(), status: HoldStatus::Released, customer: None },
                );
            }
        }
    }
}

impl Inventory {
    fn move_hold(&mut self, reservation_id: ReservationId, status: HoldStatus, seat: SeatState) {
        let Some(hold) = self.holds.get_mut(&reservation_id) else { return };
        // Leaving `Held` (sold, released, returned) frees the customer's allowance.
        if hold.status == HoldStatus::Held
            && status != HoldStatus::Held
            && let Some(customer) = hold.customer
            && let Some(held) = self.held_by_customer.get_mut(&customer)
        {
            *held = held.saturating_sub(u32::try_from(hold.positions.len()).unwrap_or(u32::MAX));
            if *held == 0 {
                self.held_by_customer.remove(&customer);
            }
        }
        hold.status = status;
        if let Some(section) = hold.section.as_ref().and_then(|s| self.sections.get_mut(s)) {
            for &p in &hold.positions {
                section.set(p, seat);
            }
        }
    }
}
