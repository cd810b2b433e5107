use super::*;
use crate::domain::money::Money;
use crate::domain::seating::SectionLayout;
use crate::domain::testing::*;
use crate::domain::values::SectionName;
use chrono::Duration;

fn create(starts_in: Duration) -> EventCommand {
    EventCommand::Create { event_id: event_id(), event: new_event(starts_in) }
}

fn history(status: EventStatus, starts_in: Duration) -> Vec<EventChanged> {
    let mut h = vec![event_created(starts_in)];
    let at = now();
    let path: &[EventChanged] = match status {
        EventStatus::Draft => &[],
        EventStatus::Published => &[EventChanged::Published { at }],
        EventStatus::SalesOpen => &[EventChanged::Published { at }, EventChanged::SalesOpened { at }],
        EventStatus::SalesClosed => {
            &[EventChanged::Published { at }, EventChanged::SalesOpened { at }, EventChanged::SalesClosed { at }]
        }
        EventStatus::Cancelled => &[EventChanged::Cancelled { reason: "storm".into(), at }],
        EventStatus::Completed => &[EventChanged::Published { at }, EventChanged::Completed { at }],
    };
    h.extend_from_slice(path);
    h
}

const ALL: [EventStatus; 6] = [
    EventStatus::Draft,
    EventStatus::Published,
    EventStatus::SalesOpen,
    EventStatus::SalesClosed,
    EventStatus::Cancelled,
    EventStatus::Completed,
];

#[test]
fn create_records_the_event_and_initialises_its_inventory() {
    let then = given::<Event>(&[]).when(&create(days(60)), now());
    then.then_events(&[event_created(days(60))]).then_effects(&[send(Command::Inventory(
        event_id(),
        InventoryCommand::Initialize {
            event_id: event_id(),
            sections: vec![(floor(), floor_spec().layout), (balcony(), balcony_spec().layout)],
        },
    ))]);
    let state = then.state_after();
    let details = state.details().unwrap();
    assert_eq!(details.status, EventStatus::Draft);
    assert_eq!(details.section("Balcony").unwrap().base_price, Money::from_cents(8_000));
}

#[test]
fn create_refuses_a_date_in_the_past_or_now() {
    given::<Event>(&[]).when(&create(Duration::zero()), now()).then_error_code("VALIDATION_FAILED");
    given::<Event>(&[]).when(&create(-days(1)), now()).then_error_code("VALIDATION_FAILED");
}

#[test]
fn create_refuses_no_sections_duplicate_sections_and_too_many_seats() {
    let mut e = new_event(days(60));
    e.sections.clear();
    given::<Event>(&[])
        .when(&EventCommand::Create { event_id: event_id(), event: e }, now())
        .then_error(&DomainError::validation("sections", "at least one section is required"));

    let mut e = new_event(days(60));
    let mut dup = floor_spec();
    dup.name = SectionName::parse("FLOOR").unwrap();
    e.sections.push(dup);
    given::<Event>(&[])
        .when(&EventCommand::Create { event_id: event_id(), event: e }, now())
        .then_error_code("VALIDATION_FAILED");

    let mut e = new_event(days(60));
    e.sections = (0..3)
        .map(|i| SectionSpec {
            name: SectionName::parse(&format!("S{i}")).unwrap(),
            layout: SectionLayout::parse("general", 100_000, None, None).unwrap(),
            base_price: Money::from_cents(100),
        })
        .collect();
    given::<Event>(&[])
        .when(&EventCommand::Create { event_id: event_id(), event: e }, now())
        .then_error_code("VALIDATION_FAILED");

    let mut e = new_event(days(60));
    e.sections = (0..=MAX_SECTIONS)
        .map(|i| SectionSpec {
            name: SectionName::parse(&format!("S{i}")).unwrap(),
            layout: SectionLayout::parse("general", 1, None, None).unwrap(),
            base_price: Money::from_cents(100),
        })
        .collect();
    given::<Event>(&[])
        .when(&EventCommand::Create { event_id: event_id(), event: e }, now())
        .then_error_code("VALIDATION_FAILED");
}

#[test]
fn create_twice_is_a_conflict_and_commands_before_create_find_nothing() {
    given::<Event>(&[event_created(days(60))])
        .when(&create(days(60)), now())
        .then_error(&DomainError::AlreadyExists("event"));
    given::<Event>(&[]).when(&EventCommand::Publish, now()).then_error(&DomainError::EventNotFound);
}

#[test]
fn publish_only_from_draft() {
    given::<Event>(&history(EventStatus::Draft, days(60)))
        .when(&EventCommand::Publish, now())
        .then_events(&[EventChanged::Published { at: now() }])
        .then_effects(&[]);
    for status in ALL.into_iter().filter(|s| *s != EventStatus::Draft) {
        given::<Event>(&history(status, days(60)))
            .when(&EventCommand::Publish, now())
            .then_error(&DomainError::InvalidStateTransition { from: status.as_str(), action: "publish" });
    }
}

#[test]
fn open_sales_from_published_or_closed_and_tells_the_inventory() {
    for (status, seq) in [(EventStatus::Published, 2), (EventStatus::SalesClosed, 4)] {
        let then = given::<Event>(&history(status, days(60))).when(&EventCommand::OpenSales, now());
        then.then_events(&[EventChanged::SalesOpened { at: now() }])
            .then_effects(&[send(Command::Inventory(event_id(), InventoryCommand::OpenSales { seq }))]);
        assert_eq!(then.state_after().details().unwrap().status, EventStatus::SalesOpen);
    }
    for status in [EventStatus::Draft, EventStatus::SalesOpen, EventStatus::Cancelled, EventStatus::Completed] {
        given::<Event>(&history(status, days(60)))
            .when(&EventCommand::OpenSales, now())
            .then_error(&DomainError::InvalidStateTransition { from: status.as_str(), action: "open sales" });
    }
}

#[test]
fn sales_cannot_open_once_the_event_started() {
    given::<Event>(&history(EventStatus::Published, days(1)))
        .when(&EventCommand::OpenSales, now() + days(2))
        .then_error(&DomainError::InvalidStateTransition { from: "started", action: "open sales" });
}

#[test]
fn close_sales_only_when_open() {
    given::<Event>(&history(EventStatus::SalesOpen, days(60)))
        .when(&EventCommand::CloseSales, now())
        .then_events(&[EventChanged::SalesClosed { at: now() }])
        .then_effects(&[send(Command::Inventory(event_id(), InventoryCommand::CloseSales { seq: 3 }))]);
    for status in ALL.into_iter().filter(|s| *s != EventStatus::SalesOpen) {
        given::<Event>(&history(status, days(60)))
            .when(&EventCommand::CloseSales, now())
            .then_error_code("INVALID_STATE_TRANSITION");
    }
}

#[test]
fn cancel_before_the_last_day_tells_the_inventory() {
    for status in [EventStatus::Draft, EventStatus::Published, EventStatus::SalesOpen, EventStatus::SalesClosed] {
        let then = given::<Event>(&history(status, days(60)))
            .when(&EventCommand::Cancel { reason: "  artist ill ".into() }, now());
        then.then_events(&[EventChanged::Cancelled { reason: "artist ill".into(), at: now() }])
            .then_effects(&[send(Command::Inventory(event_id(), InventoryCommand::CancelEvent))]);
        let state = then.state_after();
        assert_eq!(state.details().unwrap().status, EventStatus::Cancelled);
        assert_eq!(state.details().unwrap().cancellation_reason.as_deref(), Some("artist ill"));
    }
}

#[test]
fn cancel_is_refused_within_24_hours_after_completion_and_twice() {
    given::<Event>(&history(EventStatus::SalesOpen, days(1)))
        .when(&EventCommand::Cancel { reason: "rain".into() }, now())
        .then_error_code("CANCELLATION_WINDOW_CLOSED");
    given::<Event>(&history(EventStatus::SalesOpen, days(60)))
        .when(&EventCommand::Cancel { reason: "rain".into() }, now() + days(60) - Duration::hours(23))
        .then_error_code("CANCELLATION_WINDOW_CLOSED");
    given::<Event>(&history(EventStatus::Cancelled, days(60)))
        .when(&EventCommand::Cancel { reason: "again".into() }, now())
        .then_error(&DomainError::InvalidStateTransition { from: "cancelled", action: "cancel" });
    given::<Event>(&history(EventStatus::Completed, days(60)))
        .when(&EventCommand::Cancel { reason: "late".into() }, now())
        .then_error(&DomainError::InvalidStateTransition { from: "completed", action: "cancel" });
}

#[test]
fn cancel_needs_a_reason() {
    given::<Event>(&history(EventStatus::SalesOpen, days(60)))
        .when(&EventCommand::Cancel { reason: "  ".into() }, now())
        .then_error_code("VALIDATION_FAILED");
    given::<Event>(&history(EventStatus::SalesOpen, days(60)))
        .when(&EventCommand::Cancel { reason: "x".repeat(501) }, now())
        .then_error_code("VALIDATION_FAILED");
}

#[test]
fn complete_only_after_the_start() {
    for (status, seq) in [(EventStatus::Published, 2), (EventStatus::SalesOpen, 3), (EventStatus::SalesClosed, 4)] {
        given::<Event>(&history(status, days(1)))
            .when(&EventCommand::Complete, now() + days(1))
            .then_events(&[EventChanged::Completed { at: now() + days(1) }])
            .then_effects(&[send(Command::Inventory(event_id(), InventoryCommand::CloseSales { seq }))]);
        given::<Event>(&history(status, days(1)))
            .when(&EventCommand::Complete, now())
            .then_error(&DomainError::InvalidStateTransition { from: "not yet started", action: "complete" });
    }
    for status in [EventStatus::Draft, EventStatus::Cancelled, EventStatus::Completed] {
        given::<Event>(&history(status, days(1)))
            .when(&EventCommand::Complete, now() + days(2))
            .then_error(&DomainError::InvalidStateTransition { from: status.as_str(), action: "complete" });
    }
}

#[test]
fn events_before_creation_are_ignored_by_apply() {
    let mut state = Event::default();
    state.apply(&EventChanged::Published { at: now() });
    assert_eq!(state, Event::default());
}

// ---- editing a draft ----

#[test]
fn a_draft_can_be_edited_sections_included_and_the_inventory_is_told() {
    let mut revised = new_event(days(90));
    revised.sections.truncate(1);
    revised.sections[0].layout = SectionLayout::parse("general", 250, None, None).unwrap();
    let then = given::<Event>(&history(EventStatus::Draft, days(60)))
        .when(&EventCommand::Revise { event: revised.clone() }, now());
    then.then_effects(&[send(Command::Inventory(
        event_id(),
        InventoryCommand::Redefine { sections: vec![(floor(), revised.sections[0].layout)] },
    ))]);
    let state = then.state_after();
    let details = state.details().unwrap();
    assert_eq!((details.sections.len(), details.section("Floor").unwrap().layout.capacity()), (1, 250));
    assert_eq!(details.status, EventStatus::Draft);
    // The same rules as creating it.
    let mut empty = new_event(days(90));
    empty.sections.clear();
    given::<Event>(&history(EventStatus::Draft, days(60)))
        .when(&EventCommand::Revise { event: empty }, now())
        .then_error_code("VALIDATION_FAILED");
}

#[test]
fn only_drafts_can_be_edited() {
    for status in ALL.into_iter().filter(|s| *s != EventStatus::Draft) {
        given::<Event>(&history(status, days(60)))
            .when(&EventCommand::Revise { event: new_event(days(90)) }, now())
            .then_error_code("INVALID_STATE_TRANSITION");
    }
}
