//! The command runtime against the real PostgreSQL: purchases, contention between instances,
//! expiry, late captures and crash recovery.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sqlx::{Connection, PgPool};
use ticketing::clock::ManualClock;
use ticketing::domain::DomainError;
use ticketing::domain::event::{EventCommand, NewEvent};
use ticketing::domain::ids::{CustomerId, EventId, PaymentId, ReservationId};
use ticketing::domain::inventory::{HoldStatus, Inventory};
use ticketing::domain::money::Money;
use ticketing::domain::payment::PaymentStatus;
use ticketing::domain::reducer::{Aggregate, Command};
use ticketing::domain::reservation::{EventFacts, ReservationCommand, ReservationStatus};
use ticketing::domain::seating::{SectionLayout, SectionSpec};
use ticketing::domain::values::{Category, EventName, Quantity, SectionName, Venue};
use ticketing::runtime::gateway::{PaymentGateway, SimulatedGateway};
use ticketing::runtime::purchase::{ReserveRequest, reservation_for_key};
use ticketing::runtime::{Cause, Runtime, RuntimeConfig, RuntimeError};
use ticketing::store::stream_id;
use tokio::sync::watch;
use uuid::Uuid;

use crate::support::{TestDb, card, fast_config, request, runtime_on, runtime_with_clock};

fn section(name: &str, layout: SectionLayout, cents: u64) -> SectionSpec {
    SectionSpec { name: SectionName::parse(name).unwrap(), layout, base_price: Money::from_cents(cents) }
}

/// An event 60 days out on sale: "Floor" general admission, "Balcony" rows A–C × 4.
pub async fn event_on_sale(rt: &Runtime, floor_capacity: i64) -> EventId {
    let event_id = EventId::from_uuid(Uuid::new_v4());
    let new = NewEvent {
        name: EventName::parse("Flash Sale Live").unwrap(),
        date: Utc::now() + chrono::Duration::days(60),
        category: Category::Concert,
        venue: Venue::parse("Arena", None, None).unwrap(),
        sections: vec![
            section("Floor", SectionLayout::parse("general", floor_capacity, None, None).unwrap(), 5_000),
            section("Balcony", SectionLayout::parse("numbered", 12, Some(3), Some(4)).unwrap(), 8_000),
        ],
    };
    let cause = Cause::new(None);
    rt.create_event(&cause, event_id, new).await.unwrap();
    rt.change_event(&cause, event_id, EventCommand::Publish).await.unwrap();
    rt.change_event(&cause, event_id, EventCommand::OpenSales).await.unwrap();
    event_id
}

pub fn buyer() -> CustomerId {
    CustomerId::from_uuid(Uuid::new_v4())
}

/// The first attempt of a buyer's keyed request for `quantity` seats on "Floor", as far as
/// recording its reservation: the seat step it leads to is left in its effects row, never carried
/// out (as when the request's process gave up or lost its database right after).
pub async fn record_first_attempt(
    rt: &Runtime,
    event_id: EventId,
    customer: CustomerId,
    key: &str,
    quantity: i64,
    cause: &Cause,
) -> ReservationId {
    let reservation_id = reservation_for_key(customer, key);
    let event = rt.event(event_id).await.unwrap();
    let initiate = ReservationCommand::Initiate {
        reservation_id,
        event_id,
        customer_id: customer,
        section: SectionName::parse("Floor").unwrap(),
        quantity: Quantity::new(quantity).unwrap(),
        seats: None,
        event: EventFacts { status: event.status, date: event.date, section: event.section("Floor").cloned() },
        hold_seconds: rt.config().hold_seconds,
        max_held_per_customer: rt.config().max_held_per_customer,
    };
    rt.execute(Command::Reservation(reservation_id, initiate), None, cause).await.unwrap();
    reservation_id
}

pub fn start_worker(rt: &Runtime) -> watch::Sender<bool> {
    let (stop, stopped) = watch::channel(false);
    let rt = rt.clone();
    tokio::spawn(async move { rt.run_worker(stopped).await });
    stop
}

/// Effects rows due now (timers in the future do not count).
pub async fn due_effects(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM effects WHERE failed_at IS NULL AND due_at <= now()")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn event_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await.unwrap()
}

/// The inventory rebuilt from its log alone (no snapshot), with its invariants checked.
async fn replayed_inventory(rt: &Runtime, event_id: EventId) -> Inventory {
    let recorded = rt.store().read_stream(&stream_id::<Inventory>(event_id.as_uuid()), 0).await.unwrap();
    let events: Vec<_> = recorded.iter().map(|r| r.decode::<Inventory>().unwrap()).collect();
    let inventory = Inventory::replay(&events);
    inventory.check_invariants().unwrap();
    inventory
}

#[tokio::test]
async fn a_purchase_holds_pays_and_issues_tickets() {
    let db = TestDb::new().await;
    let rt = runtime_on(db.pool.clone(), fast_config());
    let event_id = event_on_sale(&rt, 10).await;
    let cause = Cause::new(None);
    let held = rt.reserve(&cause, buyer(), request(event_id, "Balcony", 2, Some(&["B-1", "B-2"]))).await.unwrap();
    assert_eq!(held.status, ReservationStatus::SeatsReserved);
    let labels: Vec<String> = held.seats.iter().map(|s| s.label.unwrap().to_string()).collect();
    assert_eq!(labels, ["B-1", "B-2"]);
    // 60 days out: early bird, 80.00 - 20 % = 64.00 each.
    assert_eq!(held.total, Money::from_cents(12_800));
    assert!(held.expires_at > Utc::now() + chrono::Duration::seconds(290));

    let paid = rt.pay(&cause, held.reservation_id, &card("4242424242424242")).await.unwrap();
    assert_eq!(paid.status, ReservationStatus::Completed);
    assert_eq!(paid.tickets.len(), 2);
    let payment = rt.payment(paid.payment_id.unwrap()).await.unwrap();
    assert_eq!(
        (payment.status, payment.captured, payment.card_last4.unwrap().to_string()),
        (PaymentStatus::Captured, Money::from_cents(12_800), "4242".into())
    );

    let inventory = rt.inventory(event_id).await.unwrap();
    assert_eq!(inventory.section("Balcony").unwrap().sold(), 2);
    assert_eq!(replayed_inventory(&rt, event_id).await, inventory);
    assert_eq!(due_effects(&db.pool).await, 0, "everything was carried out inline");

    // One correlation id runs through the reservation, the inventory and the payment.
    let correlated: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT split_part(stream_id, '-', 1)) FROM events WHERE correlation_id = $1",
    )
    .bind(cause.correlation_id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(correlated, 3);
}

#[tokio::test]
async fn a_declined_card_releases_the_seats() {
    let db = TestDb::new().await;
    let rt = runtime_on(db.pool.clone(), fast_config());
    let event_id = event_on_sale(&rt, 10).await;
    let cause = Cause::new(None);
    for (number, reason) in [("4000000000000002", "card_declined"), ("4000000000009995", "insufficient_funds")] {
        let held = rt.reserve(&cause, buyer(), request(event_id, "Floor", 3, None)).await.unwrap();
        let after = rt.pay(&cause, held.reservation_id, &card(number)).await.unwrap();
        assert_eq!(after.status, ReservationStatus::Compensated);
        assert_eq!(after.payment_failure.as_deref(), Some(reason));
        assert_eq!(rt.inventory(event_id).await.unwrap().section("Floor").unwrap().available(), 10);
    }
}

#[tokio::test]
async fn refusals_come_back_as_domain_errors() {
    let db = TestDb::new().await;
    let rt = runtime_on(db.pool.clone(), fast_config());
    let event_id = event_on_sale(&rt, 2).await;
    let cause = Cause::new(None);
    let err = rt.reserve(&cause, buyer(), request(event_id, "Floor", 3, None)).await.unwrap_err();
    assert!(
        matches!(err, RuntimeError::Domain(DomainError::InsufficientInventory { requested: 3, available: 2, .. })),
        "{err:?}"
    );
    let err = rt.reserve(&cause, buyer(), request(event_id, "Pit", 1, None)).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Domain(DomainError::SectionNotFound { .. })), "{err:?}");
    let err =
        rt.reserve(&cause, buyer(), request(EventId::from_uuid(Uuid::new_v4()), "Floor", 1, None)).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Domain(DomainError::EventNotFound)), "{err:?}");
    rt.change_event(&cause, event_id, EventCommand::CloseSales).await.unwrap();
    let err = rt.reserve(&cause, buyer(), request(event_id, "Floor", 1, None)).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Domain(DomainError::SalesNotOpen)), "{err:?}");
}

#[tokio::test]
async fn two_instances_sell_the_last_50_seats_to_exactly_50_of_200_buyers() {
    let db = TestDb::new().await;
    let a = runtime_on(db.pool.clone(), fast_config());
    let b = runtime_on(db.second_pool(), fast_config());
    let event_id = event_on_sale(&a, 50).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let rt = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            rt.reserve(&Cause::new(None), buyer(), request(event_id, "Floor", 1, None)).await
        }));
    }
    let mut held = Vec::new();
    let mut sold_out = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(r) => held.push(r),
            Err(RuntimeError::Domain(DomainError::InsufficientInventory { .. })) => sold_out += 1,
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!((held.len(), sold_out), (50, 150));
    let seats: HashSet<u32> = held.iter().flat_map(|r| r.seats.iter().map(|s| s.position)).collect();
    assert_eq!(seats.len(), 50, "a seat was handed out twice");
    let replayed = replayed_inventory(&a, event_id).await;
    let floor = replayed.section("Floor").unwrap();
    assert_eq!((floor.reserved(), floor.available()), (50, 0));
    assert_eq!(replayed, a.inventory(event_id).await.unwrap());
    assert_eq!(replayed, b.inventory(event_id).await.unwrap());
}

#[tokio::test]
async fn two_instances_and_200_buyers_for_the_same_3_seats_make_exactly_one_winner() {
    let db = TestDb::new().await;
    let a = runtime_on(db.pool.clone(), fast_config());
    let b = runtime_on(db.second_pool(), fast_config());
    let event_id = event_on_sale(&a, 10).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let rt = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            rt.reserve(&Cause::new(None), buyer(), request(event_id, "Balcony", 3, Some(&["A-1", "A-2", "A-3"]))).await
        }));
    }
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => winners += 1,
            Err(RuntimeError::Domain(DomainError::SeatUnavailable { seats })) => assert!(!seats.is_empty()),
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(winners, 1);
    let replayed = replayed_inventory(&a, event_id).await;
    assert_eq!(replayed.section("Balcony").unwrap().reserved(), 3);
}

#[tokio::test]
async fn unpaid_holds_expire_by_themselves_and_late_payment_is_refused() {
    let db = TestDb::new().await;
    let rt = runtime_on(db.pool.clone(), RuntimeConfig { hold_seconds: 2, ..fast_config() });
    let event_id = event_on_sale(&rt, 10).await;
    let cause = Cause::new(None);
    let held = rt.reserve(&cause, buyer(), request(event_id, "Floor", 4, None)).await.unwrap();
    let other = rt.reserve(&cause, buyer(), request(event_id, "Balcony", 2, Some(&["C-1", "C-2"]))).await.unwrap();
    assert_eq!(rt.inventory(event_id).await.unwrap().section("Floor").unwrap().available(), 6);
    let stop = start_worker(&rt);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while rt.reservation(held.reservation_id).await.unwrap().status != ReservationStatus::Expired
        || rt.reservation(other.reservation_id).await.unwrap().status != ReservationStatus::Expired
    {
        assert!(tokio::time::Instant::now() < deadline, "holds never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let inventory = rt.inventory(event_id).await.unwrap();
    assert_eq!(inventory.section("Floor").unwrap().available(), 10);
    assert_eq!(inventory.section("Balcony").unwrap().available(), 12);
    assert_eq!(inventory.hold(held.reservation_id).unwrap().status, HoldStatus::Released);

    let err = rt.pay(&cause, held.reservation_id, &card("4242424242424242")).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Domain(DomainError::ReservationExpired)), "{err:?}");
    // The released seats sell again, once.
    let again = rt.reserve(&cause, buyer(), request(event_id, "Balcony", 2, Some(&["C-1", "C-2"]))).await.unwrap();
    assert_eq!(again.status, ReservationStatus::SeatsReserved);
    stop.send(true).unwrap();
}

/// Found by the fault suite (PostgreSQL crashing mid-sale): a hold whose seat step is delayed past
/// its timer expires without ever getting seats, and the buyer's retry of the same request (its
/// first answer was a 503) was answered 201 with that reservation, as if the seats were theirs.
#[tokio::test]
async fn a_retry_of_a_hold_that_expired_before_it_got_seats_is_told_it_expired() {
    let db = TestDb::new().await;
    let clock = ManualClock::starting_at(Utc::now());
    let rt = runtime_with_clock(db.pool.clone(), fast_config(), Arc::new(clock.clone()));
    let event_id = event_on_sale(&rt, 10).await;
    let cause = Cause::new(None);
    let customer = buyer();
    // The first attempt: the reservation is recorded, then the database goes away before its
    // seat step runs (the step stays in its effects row).
    let reservation_id = record_first_attempt(&rt, event_id, customer, "the-buyers-key", 2, &cause).await;
    // The timer fires before the step is carried out.
    clock.advance(chrono::Duration::seconds(i64::from(rt.config().hold_seconds) + 1));
    rt.run(Command::Reservation(reservation_id, ReservationCommand::Expire), &cause, None).await.unwrap();
    assert_eq!(rt.reservation(reservation_id).await.unwrap().status, ReservationStatus::Expired);

    let retry = ReserveRequest { reservation_id: Some(reservation_id), ..request(event_id, "Floor", 2, None) };
    let err = rt.reserve(&cause, customer, retry).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Domain(DomainError::ReservationExpired)), "{err:?}");
    let inventory = rt.inventory(event_id).await.unwrap();
    assert_eq!(inventory.section("Floor").unwrap().available(), 10, "no seat was ever held for it");
    assert_eq!(inventory.hold(reservation_id).unwrap().status, HoldStatus::Released);
}

#[tokio::test]
async fn a_step_whose_effects_row_another_process_carried_out_writes_nothing() {
    let db = TestDb::new().await;
    let rt = runtime_on(db.pool.clone(), fast_config());
    let event_id = event_on_sale(&rt, 10).await;
    let cause = Cause::new(None);
    let reservation_id = record_first_attempt(&rt, event_id, buyer(), "a-key", 2, &cause).await;
    // Its seat step waits in an effects row; another process carries it out (and deletes it)
    // while this one decides a command that row led to.
    let row: i64 =
        sqlx::query_scalar("SELECT id FROM effects ORDER BY id DESC LIMIT 1").fetch_one(&db.pool).await.unwrap();
    sqlx::query("DELETE FROM effects WHERE id = $1").bind(row).execute(&db.pool).await.unwrap();
    let before = event_count(&db.pool).await;

    // The group commit deletes the rows its write sets carry out in the same statement, and
    // writes nothing when one of them is already gone.
    let cancel = || Command::Reservation(reservation_id, ReservationCommand::Cancel);
    let effects = rt.execute(cancel(), Some(row), &cause).await.unwrap();
    assert!(effects.is_empty());
    assert_eq!(event_count(&db.pool).await, before, "nothing appended for a row already carried out");
    assert_eq!(rt.reservation(reservation_id).await.unwrap().status, ReservationStatus::Initiated);

    // The same command on its own is accepted: only the gone row stopped it.
    rt.execute(cancel(), None, &cause).await.unwrap();
    assert_eq!(rt.reservation(reservation_id).await.unwrap().status, ReservationStatus::Cancelled);
}

#[tokio::test]
async fn a_capture_that_lands_after_expiry_is_refunded_in_full_and_the_seats_are_not_sold() {
    let db = TestDb::new().await;
    let config = RuntimeConfig { hold_seconds: 2, charge_grace: chrono::Duration::seconds(4), ..fast_config() };
    let rt = runtime_on(db.pool.clone(), config);
    let event_id = event_on_sale(&rt, 10).await;
    let cause = Cause::new(None);
    let held = rt.reserve(&cause, buyer(), request(event_id, "Floor", 2, None)).await.unwrap();

    // The buyer pays; the gateway captures, but the process dies before recording the outcome.
    let payment_id = PaymentId::from_uuid(Uuid::new_v4());
    rt.run(Command::Reservation(held.reservation_id, ReservationCommand::RequestPayment { payment_id }), &cause, None)
        .await
        .unwrap();
    let gateway = SimulatedGateway::new(db.pool.clone());
    gateway.charge(payment_id, held.total, &card("4242424242424242")).await.unwrap();

    // The hold expires first (2 s); the worker later reconciles the charge (4 s), finds it
    // captured, and the saga refunds it.
    let stop = start_worker(&rt);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let payment = rt.payment(payment_id).await.ok();
        if payment.as_ref().is_some_and(|p| p.status == PaymentStatus::Refunded) && due_effects(&db.pool).await == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never refunded: {payment:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reservation = rt.reservation(held.reservation_id).await.unwrap();
    assert_eq!(reservation.status, ReservationStatus::Expired);
    assert_eq!((reservation.captured, reservation.refunded), (held.total, held.total));
    let returned: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(amount_cents), 0)::bigint FROM gateway_simulator_refunds WHERE payment_id = $1",
    )
    .bind(payment_id.as_uuid())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(returned, i64::try_from(held.total.cents()).unwrap());
    let inventory = rt.inventory(event_id).await.unwrap();
    assert_eq!((inventory.section("Floor").unwrap().sold(), inventory.section("Floor").unwrap().available()), (0, 10));
    stop.send(true).unwrap();
}

#[tokio::test]
async fn a_charge_interrupted_before_the_gateway_saw_it_is_declined_and_can_never_capture() {
    let db = TestDb::new().await;
    let rt = runtime_on(db.pool.clone(), fast_config());
    let event_id = event_on_sale(&rt, 10).await;
    let cause = Cause::new(None);
    let held = rt.reserve(&cause, buyer(), request(event_id, "Floor", 1, None)).await.unwrap();
    let payment_id = PaymentId::from_uuid(Uuid::new_v4());
    // Payment started, then the process died before calling the gateway.
    rt.run(Command::Reservation(held.reservation_id, ReservationCommand::RequestPayment { payment_id }), &cause, None)
        .await
        .unwrap();
    let stop = start_worker(&rt);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while rt.reservation(held.reservation_id).await.unwrap().status != ReservationStatus::Compensated {
        assert!(tokio::time::Instant::now() < deadline, "charge never reconciled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A charge attempt that arrives now is refused by the gateway: the key was voided.
    let gateway = SimulatedGateway::new(db.pool.clone());
    let late = gateway.charge(payment_id, held.total, &card("4242424242424242")).await.unwrap();
    assert!(matches!(late, ticketing::domain::payment::GatewayOutcome::Declined { .. }), "{late:?}");
    assert_eq!(rt.inventory(event_id).await.unwrap().section("Floor").unwrap().available(), 10);
    stop.send(true).unwrap();
}

/// Runs buyers on an instance in a tokio runtime of its own, then kills that runtime abruptly:
/// every task (requests and stream writers) is dropped wherever it is.
fn crash_an_instance_mid_flight(
    url: String,
    event_id: EventId,
    buyers: usize,
    run_for: Duration,
    config: RuntimeConfig,
) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let pool = ticketing::store::database::pool(&url, 10).unwrap();
            let rt = runtime_on(pool, config);
            for _ in 0..buyers {
                let rt = rt.clone();
                tokio::spawn(async move {
                    let _ = rt.reserve(&Cause::new(None), buyer(), request(event_id, "Floor", 1, None)).await;
                });
            }
            tokio::time::sleep(run_for).await;
        });
        runtime.shutdown_background();
    })
    .join()
    .unwrap();
}

#[tokio::test]
async fn after_a_crash_a_new_instance_finishes_every_saga_and_orphans_no_hold() {
    let db = TestDb::new().await;
    let setup = runtime_on(db.pool.clone(), fast_config());
    let event_id = event_on_sale(&setup, 40).await;

    // One instance records the first step of 20 sagas and nothing after it, as an earlier release
    // (which committed a hold's steps one by one) did when it died between steps; another is
    // killed at a random point while 60 buyers are in flight.
    let cause = Cause::new(None);
    for i in 0..20 {
        record_first_attempt(&setup, event_id, buyer(), &format!("first-step-{i}"), 1, &cause).await;
    }
    crash_an_instance_mid_flight(db.url.clone(), event_id, 60, Duration::from_millis(40), fast_config());
    // The crash left work behind: effects recorded and not carried out.
    let unfinished: i64 =
        sqlx::query_scalar("SELECT count(*) FROM effects WHERE failed_at IS NULL AND due_at <= now()")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let initiated: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT stream_id FROM events WHERE stream_id LIKE 'reservation-%'
                               GROUP BY stream_id HAVING max(version) = 1) s",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    eprintln!("after the crashes: {unfinished} effects due, {initiated} sagas stopped after their first step");
    assert!(unfinished >= 20 && initiated >= 20, "{unfinished} {initiated}");

    // A fresh instance recovers.
    let rt = runtime_on(db.second_pool(), fast_config());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        rt.work_once().await.unwrap();
        let due: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM effects WHERE failed_at IS NULL AND due_at <= now() + interval '2 seconds'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if due == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "recovery did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM effects WHERE failed_at IS NOT NULL")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(failed, 0);

    let inventory = replayed_inventory(&rt, event_id).await;
    let streams: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT stream_id FROM events WHERE stream_id LIKE 'reservation-%'")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert!(!streams.is_empty());
    let mut held_seats = 0;
    for stream in &streams {
        let id = stream.trim_start_matches("reservation-").parse().unwrap();
        let r = rt.reservation(id).await.unwrap();
        let hold = inventory.hold(id).map(|h| h.status);
        match r.status {
            ReservationStatus::SeatsReserved => {
                assert_eq!(hold, Some(HoldStatus::Held), "{id:?}");
                held_seats += r.seats.len();
                let timers: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM effects WHERE target_stream = $1 AND due_at > now()")
                        .bind(stream)
                        .fetch_one(&db.pool)
                        .await
                        .unwrap();
                assert_eq!(timers, 1, "{id:?} has no expiry timer");
            }
            ReservationStatus::Rejected => assert!(!matches!(hold, Some(HoldStatus::Held | HoldStatus::Sold))),
            other => panic!("{id:?} stuck in {other:?}"),
        }
    }
    let floor = inventory.section("Floor").unwrap();
    assert_eq!(floor.reserved() as usize, held_seats, "a hold without a live reservation");

    // Recovery again changes nothing.
    let before = event_count(&db.pool).await;
    rt.work_once().await.unwrap();
    rt.work_once().await.unwrap();
    assert_eq!(event_count(&db.pool).await, before);
}

#[tokio::test]
async fn the_runtime_snapshots_busy_streams_and_loads_from_the_snapshot() {
    let db = TestDb::new().await;
    let rt = runtime_on(db.pool.clone(), RuntimeConfig { snapshot_every: 5, ..fast_config() });
    let event_id = event_on_sale(&rt, 20).await;
    for _ in 0..6 {
        rt.reserve(&Cause::new(None), buyer(), request(event_id, "Floor", 1, None)).await.unwrap();
    }
    let stream = stream_id::<Inventory>(event_id.as_uuid());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let version = loop {
        let v: Option<i64> = sqlx::query_scalar("SELECT version FROM snapshots WHERE stream_id = $1")
            .bind(&stream)
            .fetch_optional(&db.pool)
            .await
            .unwrap();
        if let Some(v) = v {
            break v;
        }
        assert!(tokio::time::Instant::now() < deadline, "no snapshot taken");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(version % 5, 0);
    let loaded = rt.store().load::<Inventory>(&stream).await.unwrap();
    assert_eq!(loaded.state, replayed_inventory(&rt, event_id).await);
    assert_eq!(loaded.state.section("Floor").unwrap().reserved(), 6);
}

async fn stream_version(pool: &PgPool, stream: &str) -> i64 {
    sqlx::query_scalar("SELECT COALESCE(max(version), 0) FROM events WHERE stream_id = $1")
        .bind(stream)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_append_to_a_hot_inventory_waits_while_another_process_holds_its_turn() {
    let db = TestDb::new().await;
    let rt = runtime_on(db.pool.clone(), fast_config());
    let event_id = event_on_sale(&rt, 10).await;
    let inventory = stream_id::<Inventory>(event_id.as_uuid());
    // This process has the inventory cached and has never lost a race on it: it appends
    // optimistically, through the group committer.
    rt.reserve(&Cause::new(None), buyer(), request(event_id, "Floor", 1, None)).await.unwrap();
    let before = stream_version(&db.pool, &inventory).await;

    // Another process takes its turn on the inventory, as its writer does after losing a race: it
    // catches up, decides and commits while holding it, and must not be overtaken meanwhile.
    let mut other = db.second_pool().acquire().await.unwrap().detach();
    sqlx::query("SELECT pg_advisory_lock(hashtextextended($1, 0))").bind(&inventory).execute(&mut other).await.unwrap();
    let pending_hold = tokio::spawn({
        let rt = rt.clone();
        async move { rt.reserve(&Cause::new(None), buyer(), request(event_id, "Floor", 2, None)).await }
    });
    // Showing that something does not happen takes a while: half a second is hundreds of appends.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stream_version(&db.pool, &inventory).await, before, "appended during another process's turn");
    assert!(!pending_hold.is_finished());

    // The turn ends: this process takes its own, and the hold goes through.
    sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
        .bind(&inventory)
        .execute(&mut other)
        .await
        .unwrap();
    let held = tokio::time::timeout(Duration::from_secs(10), pending_hold).await.unwrap().unwrap().unwrap();
    assert_eq!(held.seats.len(), 2);
    assert!(stream_version(&db.pool, &inventory).await > before);
}

#[tokio::test]
async fn a_hold_behind_a_turn_that_never_ends_is_answered_unavailable_and_finishes_once_it_does() {
    let db = TestDb::new().await;
    let rt = runtime_on(db.pool.clone(), RuntimeConfig { turn_wait: Duration::from_millis(500), ..fast_config() });
    let event_id = event_on_sale(&rt, 10).await;
    let inventory = stream_id::<Inventory>(event_id.as_uuid());
    rt.reserve(&Cause::new(None), buyer(), request(event_id, "Floor", 1, None)).await.unwrap();
    let before = stream_version(&db.pool, &inventory).await;

    // Another process took its turn on the inventory and froze: it never gives the turn back.
    let mut frozen = db.second_pool().acquire().await.unwrap().detach();
    sqlx::query("SELECT pg_advisory_lock(hashtextextended($1, 0))")
        .bind(&inventory)
        .execute(&mut frozen)
        .await
        .unwrap();
    let reservation_id = ReservationId::from_uuid(Uuid::new_v4());
    let asked = ReserveRequest { reservation_id: Some(reservation_id), ..request(event_id, "Floor", 2, None) };
    let answer = tokio::time::timeout(Duration::from_secs(30), rt.reserve(&Cause::new(None), buyer(), asked))
        .await
        .expect("the buyer waited for a turn that never came");
    assert!(matches!(answer, Err(RuntimeError::Unavailable(_))), "{answer:?}");
    assert_eq!(stream_version(&db.pool, &inventory).await, before, "appended during another process's turn");

    // Nothing of the hold was written: no reservation to linger or finish behind the buyer's back.
    let gone = rt.reservation(reservation_id).await.unwrap_err();
    assert!(matches!(gone, RuntimeError::Domain(DomainError::ReservationNotFound)), "{gone:?}");

    // The frozen process goes away; the buyer's retry of the same request holds the seats.
    frozen.close().await.unwrap();
    let retry = ReserveRequest { reservation_id: Some(reservation_id), ..request(event_id, "Floor", 2, None) };
    let held = rt.reserve(&Cause::new(None), buyer(), retry).await.unwrap();
    assert_eq!(held.status, ReservationStatus::SeatsReserved);
    assert_eq!(held.seats.len(), 2);
    let fresh = rt.reserve(&Cause::new(None), buyer(), request(event_id, "Floor", 1, None)).await.unwrap();
    assert_eq!(fresh.seats.len(), 1);
    assert_eq!(rt.inventory(event_id).await.unwrap().section("Floor").unwrap().reserved(), 4);
}

/// The events of `streams`, as (stream, version, transaction) in log order.
async fn events_of(pool: &PgPool, streams: &[String]) -> Vec<(String, i64, String)> {
    sqlx::query_as(
        "SELECT stream_id, version, transaction_id::text FROM events WHERE stream_id = ANY($1)
         ORDER BY transaction_id, position",
    )
    .bind(streams)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_new_hold_its_seats_and_its_timer_are_written_in_one_transaction() {
    let db = TestDb::new().await;
    let rt = runtime_on(db.pool.clone(), fast_config());
    let event_id = event_on_sale(&rt, 10).await;
    let inventory = stream_id::<Inventory>(event_id.as_uuid());
    let before = stream_version(&db.pool, &inventory).await;

    let held = rt.reserve(&Cause::new(None), buyer(), request(event_id, "Floor", 2, None)).await.unwrap();

    assert_eq!(held.status, ReservationStatus::SeatsReserved);
    let reservation = stream_id::<ticketing::domain::reservation::Reservation>(held.reservation_id.as_uuid());
    let written = events_of(&db.pool, &[reservation.clone(), inventory.clone()]).await;
    let new: Vec<_> = written.iter().filter(|(s, v, _)| *s == reservation || *v > before).collect();
    assert_eq!(new.len(), 3, "{written:?}");
    assert!(new.iter().all(|(_, _, tx)| *tx == new[0].2), "one transaction: {new:?}");
    assert_eq!(stream_version(&db.pool, &reservation).await, 2);
    // No effects row was written to be deleted again: only the hold's timer is left.
    let rows: Vec<(String, bool)> =
        sqlx::query_as("SELECT target_stream, due_at > now() + interval '1 minute' FROM effects")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(rows, [(reservation, true)]);
}

#[tokio::test]
async fn a_retry_of_a_rejected_hold_is_told_the_same_and_takes_no_seats_freed_since() {
    let db = TestDb::new().await;
    let rt = runtime_on(db.pool.clone(), fast_config());
    let event_id = event_on_sale(&rt, 2).await;
    let cause = Cause::new(None);
    let first = rt.reserve(&cause, buyer(), request(event_id, "Floor", 2, None)).await.unwrap();
    let customer = buyer();
    let keyed = || ReserveRequest {
        reservation_id: Some(reservation_for_key(customer, "k")),
        ..request(event_id, "Floor", 1, None)
    };
    let refused = rt.reserve(&cause, customer, keyed()).await.unwrap_err();
    assert!(matches!(refused, RuntimeError::Domain(DomainError::InsufficientInventory { .. })), "{refused:?}");
    // No timer for a hold that never got seats.
    let timers: i64 = sqlx::query_scalar("SELECT count(*) FROM effects WHERE target_stream = $1")
        .bind(stream_id::<ticketing::domain::reservation::Reservation>(reservation_for_key(customer, "k").as_uuid()))
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(timers, 0);

    // Seats come free; the retry of the refused request is still that request's answer.
    rt.cancel_reservation(&cause, first.reservation_id).await.unwrap();
    let again = rt.reserve(&cause, customer, keyed()).await.unwrap_err();
    assert!(matches!(again, RuntimeError::Domain(DomainError::InsufficientInventory { .. })), "{again:?}");
    assert_eq!(rt.inventory(event_id).await.unwrap().section("Floor").unwrap().reserved(), 0);
    // A new request of the same buyer gets them.
    let fresh = rt.reserve(&cause, customer, request(event_id, "Floor", 1, None)).await.unwrap();
    assert_eq!(fresh.seats.len(), 1);
}

#[tokio::test]
async fn the_same_request_sent_many_times_at_once_holds_seats_once_and_slows_no_one_else() {
    let db = TestDb::new().await;
    let rt = runtime_on(db.pool.clone(), fast_config());
    let event_id = event_on_sale(&rt, 100).await;
    let customer = buyer();
    let id = reservation_for_key(customer, "double-click");
    let mut attempts = Vec::new();
    for i in 0..40 {
        let rt = rt.clone();
        attempts.push(tokio::spawn(async move {
            // Every fourth request is the same buyer's same request; the rest are other buyers'.
            if i % 4 == 0 {
                let asked = ReserveRequest { reservation_id: Some(id), ..request(event_id, "Floor", 2, None) };
                (true, rt.reserve(&Cause::new(None), customer, asked).await)
            } else {
                (false, rt.reserve(&Cause::new(None), buyer(), request(event_id, "Floor", 1, None)).await)
            }
        }));
    }
    let mut same = Vec::new();
    for attempt in attempts {
        let (repeated, answer) = attempt.await.unwrap();
        let held = answer.unwrap();
        if repeated {
            same.push(held.seats);
        } else {
            assert_eq!(held.seats.len(), 1);
        }
    }
    assert_eq!(same.len(), 10);
    assert!(same.iter().all(|seats| *seats == same[0] && seats.len() == 2), "{same:?}");
    let inventory = replayed_inventory(&rt, event_id).await;
    assert_eq!(inventory.section("Floor").unwrap().reserved(), 30 + 2);
    assert_eq!(
        stream_version(&db.pool, &stream_id::<ticketing::domain::reservation::Reservation>(id.as_uuid())).await,
        2
    );
}
