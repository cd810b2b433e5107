//! The Event aggregate: an event's definition and lifecycle.
//!
//! ```text
//! draft ──publish──▶ published ──open sales──▶ sales_open ──close sales──▶ sales_closed
//!                        │                        ▲                           │
//!                        │                        └────────open sales─────────┘
//!   any of the four ─cancel (more than 24 h before the start)─▶ cancelled   (terminal)
//!   published / sales_open / sales_closed ─complete (after the start)─▶ completed (terminal)
//! ```
//!
//! Decisions an operator would expect where the brief is silent:
//! - closed sales may be reopened (a paused sale), but not once the event has started;
//! - a draft may be cancelled (nothing was sold, so nothing is refunded);
//! - cancelling tells the inventory, which stops selling at once, releases every open hold and
//!   asks every paid reservation to refund in full.

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use super::error::DomainError;
use super::ids::EventId;
use super::inventory::InventoryCommand;
use super::policy::event_cancellation_allowed;
use super::reducer::{Aggregate, Command, Decision, Effect};
use super::seating::SectionSpec;
use super::values::{Category, EventDate, EventName, Timestamp, Venue};

/// At most this many sections per event.
pub const MAX_SECTIONS: usize = 100;
/// At most this many seats per event, all sections together (keeps one inventory stream's state
/// bounded; a 100,000-seat stadium fits twice).
pub const MAX_EVENT_CAPACITY: u64 = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventStatus {
    Draft,
    Published,
    SalesOpen,
    SalesClosed,
    Cancelled,
    Completed,
}

impl EventStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::SalesOpen => "sales_open",
            Self::SalesClosed => "sales_closed",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
        }
    }
}

/// What an organiser asks for when creating an event. Text fields are already parsed; the date
/// and the section list are checked against the rules (and the clock) by the reducer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    pub name: EventName,
    pub date: Timestamp,
    pub category: Category,
    pub venue: Venue,
    pub sections: Vec<SectionSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventCommand {
    Create {
        event_id: EventId,
        event: NewEvent,
    },
    Publish,
    OpenSales,
    CloseSales,
    Cancel {
        reason: String,
    },
    Complete,
    /// Change a draft: anything, sections included (nothing has been sold).
    Revise {
        event: NewEvent,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventChanged {
    Created {
        event_id: EventId,
        name: EventName,
        date: EventDate,
        category: Category,
        venue: Venue,
        sections: Vec<SectionSpec>,
        at: Timestamp,
    },
    Published {
        at: Timestamp,
    },
    SalesOpened {
        at: Timestamp,
    },
    SalesClosed {
        at: Timestamp,
    },
    Cancelled {
        reason: String,
        at: Timestamp,
    },
    Completed {
        at: Timestamp,
    },
    /// A draft's new definition.
    Revised {
        name: EventName,
        date: EventDate,
        category: Category,
        venue: Venue,
        sections: Vec<SectionSpec>,
        at: Timestamp,
    },
}

/// An event as its history defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDetails {
    pub event_id: EventId,
    pub name: EventName,
    pub date: EventDate,
    pub category: Category,
    pub venue: Venue,
    pub sections: Vec<SectionSpec>,
    pub status: EventStatus,
    pub created_at: Timestamp,
    pub cancellation_reason: Option<String>,
    /// How many lifecycle changes followed creation; stamps the inventory's sales messages so
    /// stale ones are recognised.
    pub lifecycle_seq: u32,
}

impl EventDetails {
    pub fn section(&self, name: &str) -> Option<&SectionSpec> {
        self.sections.iter().find(|s| s.name.as_str() == name)
    }
}

/// The aggregate's state: nothing until created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    details: Option<EventDetails>,
}

impl Event {
    pub fn details(&self) -> Option<&EventDetails> {
        self.details.as_ref()
    }

    fn create(event_id: EventId, new: &NewEvent, now: Timestamp) -> Result<Decision<EventChanged>, DomainError> {
        let date = Self::check(new, now)?;
        let layouts = new.sections.iter().map(|s| (s.name.clone(), s.layout)).collect();
        Ok(Decision::event(EventChanged::Created {
            event_id,
            name: new.name.clone(),
            date,
            category: new.category,
            venue: new.venue.clone(),
            sections: new.sections.clone(),
            at: now,
        })
        .with(Effect::Send(Command::Inventory(event_id, InventoryCommand::Initialize { event_id, sections: layouts }))))
    }

    /// The rules a definition must follow; its date if it does.
    fn check(new: &NewEvent, now: Timestamp) -> Result<EventDate, DomainError> {
        let date = EventDate::in_future(new.date, now)?;
        if new.sections.is_empty() {
            return Err(DomainError::validation("sections", "at least one section is required"));
        }
        if new.sections.len() > MAX_SECTIONS {
            return Err(DomainError::validation("sections", format!("at most {MAX_SECTIONS} sections")));
        }
        let mut seen = std::collections::HashSet::new();
        for section in &new.sections {
            // Case-insensitive: "VIP" and "vip" would be the same section to a buyer reading a URL.
            if !seen.insert(section.name.as_str().to_lowercase()) {
                return Err(DomainError::validation(
                    "sections.name",
                    format!("section {:?} appears twice", section.name.as_str()),
                ));
            }
        }
        let seats: u64 = new.sections.iter().map(|s| u64::from(s.layout.capacity())).sum();
        if seats > MAX_EVENT_CAPACITY {
            return Err(DomainError::validation(
                "sections.capacity",
                format!("an event holds at most {MAX_EVENT_CAPACITY} seats in all"),
            ));
        }
        Ok(date)
    }
}

fn refuse(from: EventStatus, action: &'static str) -> DomainError {
    DomainError::InvalidStateTransition { from: from.as_str(), action }
}

impl Aggregate for Event {
    type Command = EventCommand;
    type Event = EventChanged;

    fn decide(&self, command: &EventCommand, now: Timestamp) -> Result<Decision<EventChanged>, DomainError> {
        use EventStatus as S;
        let details = match (&self.details, command) {
            (None, EventCommand::Create { event_id, event }) => return Self::create(*event_id, event, now),
            (Some(_), EventCommand::Create { .. }) => return Err(DomainError::AlreadyExists("event")),
            (None, _) => return Err(DomainError::EventNotFound),
            (Some(details), _) => details,
        };
        let id = details.event_id;
        let status = details.status;
        let started = details.date.time_until(now) <= chrono::Duration::zero();
        let to_inventory = |command| Effect::Send(Command::Inventory(id, command));
        let seq = details.lifecycle_seq + 1;
        match command {
            EventCommand::Create { .. } => Err(DomainError::AlreadyExists("event")),
            EventCommand::Publish => match status {
                S::Draft => Ok(Decision::event(EventChanged::Published { at: now })),
                other => Err(refuse(other, "publish")),
            },
            EventCommand::OpenSales => match status {
                S::Published | S::SalesClosed if started => {
                    Err(DomainError::InvalidStateTransition { from: "started", action: "open sales" })
                }
                S::Published | S::SalesClosed => Ok(Decision::event(EventChanged::SalesOpened { at: now })
                    .with(to_inventory(InventoryCommand::OpenSales { seq }))),
                other => Err(refuse(other, "open sales")),
            },
            EventCommand::CloseSales => match status {
                S::SalesOpen => Ok(Decision::event(EventChanged::SalesClosed { at: now })
                    .with(to_inventory(InventoryCommand::CloseSales { seq }))),
                other => Err(refuse(other, "close sales")),
            },
            EventCommand::Cancel { reason } => match status {
                S::Draft | S::Published | S::SalesOpen | S::SalesClosed => {
                    if !event_cancellation_allowed(details.date, now) {
                        return Err(DomainError::CancellationWindowClosed(
                            "an event cannot be cancelled within 24 hours of its start",
                        ));
                    }
                    let reason = reason.trim();
                    if reason.is_empty() || reason.chars().count() > 500 {
                        return Err(DomainError::validation("reason", "must be 1 to 500 characters"));
                    }
                    Ok(Decision::event(EventChanged::Cancelled { reason: reason.to_owned(), at: now })
                        .with(to_inventory(InventoryCommand::CancelEvent)))
                }
                other => Err(refuse(other, "cancel")),
            },
            EventCommand::Revise { event } => match status {
                S::Draft => {
                    let date = Self::check(event, now)?;
                    let layouts = event.sections.iter().map(|s| (s.name.clone(), s.layout)).collect();
                    Ok(Decision::event(EventChanged::Revised {
                        name: event.name.clone(),
                        date,
                        category: event.category,
                        venue: event.venue.clone(),
                        sections: event.sections.clone(),
                        at: now,
                    })
                    .with(to_inventory(InventoryCommand::Redefine { sections: layouts })))
                }
                other => Err(refuse(other, "edit")),
            },
            EventCommand::Complete => match status {
                S::Published | S::SalesOpen | S::SalesClosed if !started => {
                    Err(DomainError::InvalidStateTransition { from: "not yet started", action: "complete" })
                }
                S::Published | S::SalesOpen | S::SalesClosed => {
                    Ok(Decision::event(EventChanged::Completed { at: now })
                        .with(to_inventory(InventoryCommand::CloseSales { seq })))
                }
                other => Err(refuse(other, "complete")),
            },
        }
    }

    fn apply(&mut self, event: &EventChanged) {
        if let EventChanged::Created { event_id, name, date, category, venue, sections, at } = event {
            self.details = Some(EventDetails {
                event_id: *event_id,
                name: name.clone(),
                date: *date,
                category: *category,
                venue: venue.clone(),
                sections: sections.clone(),
                status: EventStatus::Draft,
                created_at: *at,
                cancellation_reason: None,
                lifecycle_seq: 0,
            });
            return;
        }
        let Some(details) = self.details.as_mut() else { return };
        details.lifecycle_seq += 1;
        match event {
            EventChanged::Created { .. } => {}
            EventChanged::Published { .. } => details.status = EventStatus::Published,
            EventChanged::SalesOpened { .. } => details.status = EventStatus::SalesOpen,
            EventChanged::SalesClosed { .. } => details.status = EventStatus::SalesClosed,
            EventChanged::Cancelled { reason, .. } => {
                details.status = EventStatus::Cancelled;
                details.cancellation_reason = Some(reason.clone());
            }
            EventChanged::Completed { .. } => details.status = EventStatus::Completed,
            EventChanged::Revised { name, date, category, venue, sections, .. } => {
                details.name.clone_from(name);
                details.date = *date;
                details.category = *category;
                details.venue.clone_from(venue);
                details.sections.clone_from(sections);
            }
        }
    }
}
