//! Read models and the analytics ETL against the real PostgreSQL: exact rows after a scripted
//! history, rebuild = live, double delivery, and a projector killed mid-batch.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;
use ticketing::analytics::{self, AnalyticsEtl, queries};
use ticketing::bus::{BusEvent, DomainEvent};
use ticketing::domain::event::{EventCommand, NewEvent};
use ticketing::domain::ids::{CustomerId, EventId};
use ticketing::domain::money::Money;
use ticketing::domain::payment::RefundAmount;
use ticketing::domain::reservation::{ReservationEvent, ReservationStatus};
use ticketing::domain::seating::{SectionLayout, SectionSpec};
use ticketing::domain::values::{Category, EventName, SectionName, Venue};
use ticketing::projections::tail::LogTail;
use ticketing::projections::{self, Projector, TailReader, holds};
use ticketing::runtime::{Cause, RuntimeConfig};
use ticketing::store::{EventStore, LogPosition};
use uuid::Uuid;

use crate::support::{TestDb, card, fast_config, request, runtime_on};

pub struct Scenario {
    pub event_a: EventId,
    pub event_b: EventId,
    pub alice: CustomerId,
    pub dave: CustomerId,
    pub erin: CustomerId,
}

/// A row of `sales_pending`: section, seats, tier, unit price, completed.
type SaleRow = (String, i32, Option<String>, Option<i64>, bool);

fn customer(n: u128) -> CustomerId {
    CustomerId::from_uuid(Uuid::from_u128(n))
}

fn new_event(name: &str) -> NewEvent {
    NewEvent {
        name: EventName::parse(name).unwrap(),
        date: Utc::now() + chrono::Duration::days(60),
        category: Category::Concert,
        venue: Venue::parse("Arena", Some("Utrecht"), Some("NL")).unwrap(),
        sections: vec![
            SectionSpec {
                name: SectionName::parse("Floor").unwrap(),
                layout: SectionLayout::parse("general", 10, None, None).unwrap(),
                base_price: Money::from_cents(5_000),
            },
            SectionSpec {
                name: SectionName::parse("Balcony").unwrap(),
                layout: SectionLayout::parse("numbered", 12, Some(3), Some(4)).unwrap(),
                base_price: Money::from_cents(8_000),
            },
        ],
    }
}

/// Events created, holds, a purchase, a declined card, an expiry, a cancellation with refund, a
/// transfer, an admin refund, and a cancelled draft event.
pub async fn play_scenario(events_db: &TestDb) -> Scenario {
    let rt = runtime_on(events_db.pool.clone(), fast_config());
    let short = runtime_on(events_db.pool.clone(), RuntimeConfig { hold_seconds: 1, ..fast_config() });
    let c = Cause::new(None);
    let (alice, bob, carol, dave, erin) = (customer(0xA), customer(0xB), customer(0xC), customer(0xD), customer(0xE));
    let event_a = EventId::from_uuid(Uuid::new_v4());
    rt.create_event(&c, event_a, new_event("Rock Night")).await.unwrap();
    rt.change_event(&c, event_a, EventCommand::Publish).await.unwrap();
    rt.change_event(&c, event_a, EventCommand::OpenSales).await.unwrap();

    let a = rt.reserve(&c, alice, request(event_a, "Floor", 2, None)).await.unwrap();
    let a = rt.pay(&c, a.reservation_id, &card("4242424242424242")).await.unwrap();
    let b = rt.reserve(&c, bob, request(event_a, "Balcony", 2, Some(&["A-1", "A-2"]))).await.unwrap();
    assert_eq!(
        rt.pay(&c, b.reservation_id, &card("4000000000000002")).await.unwrap().status,
        ReservationStatus::Compensated
    );
    let carol_r = short.reserve(&c, carol, request(event_a, "Floor", 1, None)).await.unwrap();
    let d = rt.reserve(&c, dave, request(event_a, "Floor", 3, None)).await.unwrap();
    rt.pay(&c, d.reservation_id, &card("4242424242424242")).await.unwrap();
    assert_eq!(rt.cancel_reservation(&c, d.reservation_id).await.unwrap().status, ReservationStatus::Refunded);
    rt.transfer_ticket(&c, a.reservation_id, a.tickets[0].ticket_id, alice, erin).await.unwrap();
    rt.refund_payment(&c, a.payment_id.unwrap(), RefundAmount::Exactly(Money::from_cents(1_000)), "goodwill".into())
        .await
        .unwrap();

    let event_b = EventId::from_uuid(Uuid::new_v4());
    rt.create_event(&c, event_b, new_event("Jazz Brunch")).await.unwrap();
    rt.change_event(&c, event_b, EventCommand::Cancel { reason: "venue flooded".into() }).await.unwrap();

    // Carol's hold runs out; the worker expires it.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while rt.reservation(carol_r.reservation_id).await.unwrap().status != ReservationStatus::Expired {
        assert!(tokio::time::Instant::now() < deadline, "hold never expired");
        short.work_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Wait until every due effect (the refund payout) is done too.
    while sqlx::query_scalar::<_, i64>("SELECT count(*) FROM effects WHERE due_at <= now()")
        .fetch_one(&events_db.pool)
        .await
        .unwrap()
        > 0
    {
        assert!(tokio::time::Instant::now() < deadline, "effects left over");
        rt.work_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Scenario { event_a, event_b, alice, dave, erin }
}

/// Every row of `tables`, as JSON text, sorted: two read models are equal iff these are.
pub async fn dump(pool: &PgPool, tables: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT to_jsonb(t)::text FROM {table} t ORDER BY 1"))
            .fetch_all(pool)
            .await
            .unwrap();
        out.insert((*table).to_owned(), rows);
    }
    out
}

/// Asserts two dumps are equal, naming only the tables that differ (dumps are large).
#[track_caller]
pub fn assert_same(actual: &BTreeMap<String, Vec<String>>, expected: &BTreeMap<String, Vec<String>>) {
    let differing: Vec<&String> = expected.keys().filter(|t| actual.get(*t) != expected.get(*t)).collect();
    assert!(differing.is_empty(), "tables differ: {differing:?}");
}

fn read_models(store: &EventStore) -> Vec<Arc<dyn Projector>> {
    projections::all(store)
}

pub fn all_tables(store: &EventStore) -> Vec<&'static str> {
    read_models(store).iter().flat_map(|p| p.tables().iter().copied()).collect()
}

async fn catch_up_all(store: &EventStore, projections_pool: &PgPool, analytics_pool: &PgPool) {
    for projector in read_models(store) {
        projections::catch_up(store, projections_pool, projector.as_ref(), 50).await.unwrap();
    }
    projections::catch_up(store, analytics_pool, &AnalyticsEtl::new(store.clone()), 50).await.unwrap();
    analytics::refresh(analytics_pool).await.unwrap();
}

async fn all_events(store: &EventStore) -> Vec<BusEvent> {
    store
        .read_all(LogPosition::default(), 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| BusEvent::from_recorded(r).unwrap())
        .collect()
}

/// The whole log of `events_db`, once all of it is readable: an event becomes readable only
/// when every older transaction in the cluster has ended, and other tests run beside this one.
async fn whole_log(store: &EventStore, events_db: &TestDb) -> Vec<BusEvent> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&events_db.pool).await.unwrap();
        let log = all_events(store).await;
        if i64::try_from(log.len()).unwrap() == total {
            return log;
        }
        assert!(tokio::time::Instant::now() < deadline, "the log never became readable whole");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn after_a_scripted_history_every_read_model_holds_exactly_the_expected_rows() {
    let (events_db, proj, anal) = (TestDb::new().await, TestDb::projections().await, TestDb::analytics().await);
    let s = play_scenario(&events_db).await;
    let store = EventStore::new(events_db.pool.clone());
    catch_up_all(&store, &proj.pool, &anal.pool).await;
    let p = &proj.pool;
    let (a, b) = (s.event_a.as_uuid(), s.event_b.as_uuid());

    let catalogue: Vec<(Uuid, String, String, Option<String>)> =
        sqlx::query_as("SELECT event_id, name, status, cancellation_reason FROM events_catalogue ORDER BY name")
            .fetch_all(p)
            .await
            .unwrap();
    assert_eq!(
        catalogue,
        [
            (b, "Jazz Brunch".into(), "cancelled".into(), Some("venue flooded".into())),
            (a, "Rock Night".into(), "sales_open".into(), None)
        ]
    );

    let availability: Vec<(String, String, i32, i32, i32, i32)> = sqlx::query_as(
        "SELECT section, seating, total_capacity, available, reserved, sold FROM section_availability WHERE event_id = $1 ORDER BY section",
    )
    .bind(a)
    .fetch_all(p)
    .await
    .unwrap();
    assert_eq!(
        availability,
        [("Balcony".into(), "numbered".into(), 12, 12, 0, 0), ("Floor".into(), "general".into(), 10, 8, 0, 2)]
    );
    let seats: Vec<(String, String)> =
        sqlx::query_as("SELECT label, status FROM seat_status WHERE event_id = $1 ORDER BY position LIMIT 3")
            .bind(a)
            .fetch_all(p)
            .await
            .unwrap();
    assert_eq!(
        seats,
        [("A-1".into(), "available".into()), ("A-2".into(), "available".into()), ("A-3".into(), "available".into())]
    );
    let seat_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM seat_status WHERE event_id = $1").bind(a).fetch_one(p).await.unwrap();
    assert_eq!(seat_rows, 12, "one row per numbered seat, none for general admission");

    let reservations: Vec<(Uuid, String, i64, i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT customer_id, status, total_amount_cents, captured_cents, refunded_cents, failure FROM reservations ORDER BY customer_id",
    )
    .fetch_all(p)
    .await
    .unwrap();
    assert_eq!(
        reservations,
        [
            (s.alice.as_uuid(), "completed".into(), 8_000, 8_000, 1_000, None),
            (customer(0xB).as_uuid(), "compensated".into(), 12_800, 0, 0, Some("card_declined".into())),
            (customer(0xC).as_uuid(), "expired".into(), 4_000, 0, 0, None),
            (s.dave.as_uuid(), "refunded".into(), 12_000, 12_000, 12_000, None),
        ]
    );

    let tickets: Vec<(Uuid, String, i64)> =
        sqlx::query_as("SELECT owner_id, status, count(*) FROM tickets GROUP BY 1, 2 ORDER BY 1, 2")
            .fetch_all(p)
            .await
            .unwrap();
    assert_eq!(
        tickets,
        [
            (s.alice.as_uuid(), "valid".into(), 1),
            (s.dave.as_uuid(), "void".into(), 3),
            (s.erin.as_uuid(), "valid".into(), 1)
        ]
    );

    let payments: Vec<(Uuid, String, i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT customer_id, status, amount_cents, refunded_cents, card_last4 FROM payments ORDER BY customer_id",
    )
    .fetch_all(p)
    .await
    .unwrap();
    assert_eq!(
        payments,
        [
            (s.alice.as_uuid(), "partially_refunded".into(), 8_000, 1_000, Some("4242".into())),
            (customer(0xB).as_uuid(), "declined".into(), 12_800, 0, Some("0002".into())),
            (s.dave.as_uuid(), "refunded".into(), 12_000, 12_000, Some("4242".into())),
        ]
    );

    let history: Vec<(Uuid, String, i32, i64, i64)> = sqlx::query_as(
        "SELECT customer_id, status, quantity, amount_cents, refunded_cents FROM customer_purchases ORDER BY customer_id",
    )
    .fetch_all(p)
    .await
    .unwrap();
    assert_eq!(
        history,
        [
            (s.alice.as_uuid(), "completed".into(), 2, 8_000, 1_000),
            (s.dave.as_uuid(), "refunded".into(), 3, 12_000, 12_000)
        ]
    );
    let clv: Vec<(Uuid, i32, i32, i64, i64)> = sqlx::query_as(
        "SELECT customer_id, purchases, tickets, spent_cents, refunded_cents FROM customer_lifetime_value ORDER BY customer_id",
    )
    .fetch_all(p)
    .await
    .unwrap();
    assert_eq!(clv, [(s.alice.as_uuid(), 1, 2, 8_000, 1_000), (s.dave.as_uuid(), 1, 3, 12_000, 12_000)]);

    let sales: Vec<(String, String, i32, i64, i64, i32)> = sqlx::query_as(
        "SELECT section, pricing_tier, tickets_sold, revenue_cents, refunds_cents, tickets_refunded FROM sales_by_tier WHERE event_id = $1",
    )
    .bind(a)
    .fetch_all(p)
    .await
    .unwrap();
    assert_eq!(sales, [("Floor".into(), "early_bird".into(), 5, 20_000, 13_000, 3)]);
    // A row per sale, none for the declined, the expired and the other holds: the sales read
    // model reads a sale's hold from the log when it completes.
    let sold: Vec<SaleRow> = sqlx::query_as(
        "SELECT section, quantity, pricing_tier, unit_price_cents, completed FROM sales_pending ORDER BY quantity",
    )
    .fetch_all(p)
    .await
    .unwrap();
    assert_eq!(
        sold,
        [
            ("Floor".into(), 2, Some("early_bird".into()), Some(4_000), true),
            ("Floor".into(), 3, Some("early_bird".into()), Some(4_000), true)
        ]
    );

    // The queries over them.
    // Event B was cancelled while still a draft: only admins see it.
    let public = projections::catalogue::Filter::default();
    let page = ticketing::http::paging::Page { page: 1, per_page: 10 };
    let (events, total) = projections::catalogue::list(p, &public, page).await.unwrap();
    assert_eq!((events.len(), total), (1, 1));
    let with_drafts = projections::catalogue::Filter { include_drafts: true, ..Default::default() };
    let one = ticketing::http::paging::Page { page: 1, per_page: 1 };
    let (all_events, all_total) = projections::catalogue::list(p, &with_drafts, one).await.unwrap();
    assert_eq!((all_events.len(), all_total), (1, 2));
    // Searching: every word must match (name, venue, city or category), any case.
    for (words, found) in [("rock", 1), ("ROCK night", 1), ("rock jazz", 0), ("50%", 0)] {
        let filter = projections::catalogue::Filter {
            words: words.split_whitespace().map(str::to_owned).collect(),
            ..Default::default()
        };
        assert_eq!(projections::catalogue::list(p, &filter, page).await.unwrap().1, found, "{words}");
    }
    let later = projections::catalogue::Filter {
        from: Some(chrono::Utc::now() + chrono::Duration::days(400)),
        ..Default::default()
    };
    assert_eq!(projections::catalogue::list(p, &later, page).await.unwrap().1, 0);
    assert_eq!(events[0].seats_total, Some(22), "the seats left come along");
    assert_eq!(projections::catalogue::get(p, a).await.unwrap().unwrap().name, "Rock Night");
    let counts = projections::availability::for_event(p, a).await.unwrap();
    assert_eq!(
        counts.iter().map(|c| (c.section.as_str(), c.available)).collect::<Vec<_>>(),
        [("Balcony", 12), ("Floor", 8)]
    );
    assert_eq!(projections::availability::seats(p, a, "Balcony").await.unwrap().len(), 12);
    let first_page = ticketing::http::paging::Page { page: 1, per_page: 20 };
    let (alice_reservations, alice_total) =
        projections::reservations::for_customer(p, s.alice.as_uuid(), first_page).await.unwrap();
    assert_eq!((alice_reservations.len(), alice_total), (1, 1));
    let (erin_tickets, erin_total) =
        projections::reservations::tickets_of(p, s.erin.as_uuid(), first_page).await.unwrap();
    assert_eq!((erin_tickets.len(), erin_total), (1, 1));
    let (dave_history, dave_total) = projections::reservations::history(p, s.dave.as_uuid(), first_page).await.unwrap();
    assert_eq!(
        (dave_total, dave_history[0].event_name.as_deref(), dave_history[0].status.as_str()),
        (1, Some("Rock Night"), "refunded")
    );
    let ltv = projections::reservations::lifetime_value(p, s.alice.as_uuid()).await.unwrap().unwrap();
    assert_eq!((ltv.net_cents, ltv.favourite_section.as_deref()), (7_000, Some("Floor")));
    assert!(projections::reservations::lifetime_value(p, customer(0xB).as_uuid()).await.unwrap().is_none());
    let event_sales = projections::sales::for_event(p, a).await.unwrap();
    assert_eq!(
        (
            event_sales.tickets_sold,
            event_sales.gross_revenue_cents,
            event_sales.refunds_cents,
            event_sales.net_revenue_cents,
            event_sales.average_price_cents
        ),
        (5, 20_000, 13_000, 7_000, 4_000)
    );
    let payment = projections::payments::get(p, alice_reservations[0].payment_id.unwrap()).await.unwrap().unwrap();
    assert_eq!((payment.status.as_str(), payment.refunded_cents), ("partially_refunded", 1_000));

    // The star schema.
    let facts: Vec<(Uuid, i32, i64, i64, bool)> = sqlx::query_as(
        "SELECT customer_id, quantity, total_amount_cents, refunded_cents, is_refunded FROM fact_ticket_sales ORDER BY customer_id",
    )
    .fetch_all(&anal.pool)
    .await
    .unwrap();
    assert_eq!(facts, [(s.alice.as_uuid(), 2, 8_000, 1_000, false), (s.dave.as_uuid(), 3, 12_000, 12_000, true)]);
    let top = queries::top_sellers(&anal.pool, 10).await.unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!((top[0].event_id, top[0].tickets_sold, top[0].revenue_cents, top[0].total_capacity), (a, 5, 7_000, 22));
    let series = queries::sales_time_series(&anal.pool, Some(a), 30).await.unwrap();
    assert_eq!(series.iter().map(|d| (d.tickets_sold, d.revenue_cents)).collect::<Vec<_>>(), [(5, 7_000)]);
    let segments = queries::customer_segments(&anal.pool).await.unwrap();
    assert_eq!(segments.iter().map(|s| (s.segment.as_str(), s.customers)).collect::<Vec<_>>(), [("new", 2)]);
    let sections = queries::section_popularity(&anal.pool, Some(a)).await.unwrap();
    assert_eq!(sections.iter().map(|s| (s.section.as_str(), s.tickets_sold)).collect::<Vec<_>>(), [("Floor", 5)]);

    // Caught up: no lag; one more event: lag 1.
    for projector in read_models(&store) {
        assert_eq!(projections::lag(&store, p, projector.name()).await.unwrap(), 0);
    }
    let rt = runtime_on(events_db.pool.clone(), fast_config());
    rt.change_event(&Cause::new(None), s.event_a, EventCommand::CloseSales).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(projections::lag(&store, p, "catalogue").await.unwrap() >= 1);
}

#[tokio::test]
async fn a_rebuilt_read_model_equals_the_live_one_and_double_delivery_changes_nothing() {
    let (events_db, proj, anal) = (TestDb::new().await, TestDb::projections().await, TestDb::analytics().await);
    play_scenario(&events_db).await;
    let store = EventStore::new(events_db.pool.clone());
    catch_up_all(&store, &proj.pool, &anal.pool).await;
    let tables = all_tables(&store);
    let analytics_tables = AnalyticsEtl::new(store.clone()).tables().to_vec();
    let live = dump(&proj.pool, &tables).await;
    let live_analytics = dump(&anal.pool, &analytics_tables).await;
    let empty: Vec<&String> = live.iter().filter(|(_, rows)| rows.is_empty()).map(|(t, _)| t).collect();
    assert!(empty.is_empty(), "every table has rows, but not {empty:?}");

    // Every event delivered again, in order, to every projector: nothing changes.
    let events = all_events(&store).await;
    for projector in read_models(&store) {
        projections::apply_batch(&proj.pool, projector.as_ref(), &events, None).await.unwrap();
    }
    projections::apply_batch(&anal.pool, &AnalyticsEtl::new(store.clone()), &events, None).await.unwrap();
    assert_same(&dump(&proj.pool, &tables).await, &live);
    assert_same(&dump(&anal.pool, &analytics_tables).await, &live_analytics);

    // Rebuilt from position 0: identical.
    for projector in read_models(&store) {
        projections::reset(&proj.pool, projector.as_ref()).await.unwrap();
    }
    projections::reset(&anal.pool, &AnalyticsEtl::new(store.clone())).await.unwrap();
    assert!(dump(&proj.pool, &["reservations"]).await["reservations"].is_empty());
    catch_up_all(&store, &proj.pool, &anal.pool).await;
    assert_same(&dump(&proj.pool, &tables).await, &live);
    assert_same(&dump(&anal.pool, &analytics_tables).await, &live_analytics);
}

#[tokio::test]
async fn a_sale_whose_hold_an_earlier_release_kept_a_row_for_is_counted_once() {
    let (events_db, upgraded, reference) =
        (TestDb::new().await, TestDb::projections().await, TestDb::projections().await);
    play_scenario(&events_db).await;
    let store = EventStore::new(events_db.pool.clone());
    // As a release that wrote a row per hold could leave it: every hold's row as its start
    // wrote it (its seats not yet priced, a quantity the seats will correct), none completed.
    let streams: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT stream_id FROM events WHERE stream_id LIKE 'reservation-%'")
            .fetch_all(&events_db.pool)
            .await
            .unwrap();
    assert_eq!(streams.len(), 4);
    for stream in &streams {
        let hold = holds::Hold::read(&store, stream, i64::MAX).await.unwrap().unwrap();
        let id: Uuid = stream.trim_start_matches("reservation-").parse().unwrap();
        sqlx::query("INSERT INTO sales_pending (reservation_id, event_id, section, quantity) VALUES ($1, $2, $3, 99)")
            .bind(id)
            .bind(hold.event_id)
            .bind(&hold.section)
            .execute(&upgraded.pool)
            .await
            .unwrap();
    }

    let sales = projections::all(&store).into_iter().find(|p| p.name() == "sales").unwrap();
    projections::catch_up(&store, &upgraded.pool, sales.as_ref(), 50).await.unwrap();
    projections::catch_up(&store, &reference.pool, sales.as_ref(), 50).await.unwrap();
    let completed = "SELECT to_jsonb(p)::text FROM sales_pending p WHERE completed ORDER BY 1";
    let (mine, theirs): (Vec<String>, Vec<String>) = (
        sqlx::query_scalar(completed).fetch_all(&upgraded.pool).await.unwrap(),
        sqlx::query_scalar(completed).fetch_all(&reference.pool).await.unwrap(),
    );
    assert_eq!(mine.len(), 2);
    assert_eq!(mine, theirs);
    let counted = dump(&reference.pool, &["sales_by_tier"]).await;
    assert_same(&dump(&upgraded.pool, &["sales_by_tier"]).await, &counted);

    // A completed sale applied again past every check of what was applied (the read model's
    // own statement is the last line of defence): counted once.
    let completions: Vec<BusEvent> = all_events(&store)
        .await
        .into_iter()
        .filter(|e| matches!(e.event, DomainEvent::Reservation(_, ReservationEvent::Completed { .. })))
        .collect();
    assert_eq!(completions.len(), 2);
    let mut connection = upgraded.pool.acquire().await.unwrap();
    for completion in &completions {
        sales.apply(&mut connection, completion).await.unwrap();
    }
    assert_same(&dump(&upgraded.pool, &["sales_by_tier"]).await, &counted);
}

/// A fresh events database with a rush played into it (keep it bound while its store is used),
/// its store, and its whole log.
async fn a_played_rush() -> (TestDb, EventStore, Vec<BusEvent>) {
    let events_db = TestDb::new().await;
    play_a_rush(&events_db).await;
    let store = EventStore::new(events_db.pool.clone());
    let log = whole_log(&store, &events_db).await;
    (events_db, store, log)
}

/// A flash sale's log: many buyers' holds at once (the runtime commits them in groups, so their
/// events interleave), numbered and general, a few paid and one cancelled; the last twenty held
/// in steps, so their starts and seats are commits apart.
async fn play_a_rush(events_db: &TestDb) {
    let rt = runtime_on(events_db.pool.clone(), fast_config());
    let c = Cause::new(None);
    let event = EventId::from_uuid(Uuid::new_v4());
    let mut spec = new_event("Flash Sale");
    spec.sections[0].layout = SectionLayout::parse("general", 200, None, None).unwrap();
    spec.sections[1].layout = SectionLayout::parse("numbered", 60, Some(6), Some(10)).unwrap();
    rt.create_event(&c, event, spec).await.unwrap();
    rt.change_event(&c, event, EventCommand::Publish).await.unwrap();
    rt.change_event(&c, event, EventCommand::OpenSales).await.unwrap();
    let holds = futures::future::join_all((0..40u128).map(|n| {
        let rt = rt.clone();
        async move {
            let section = if n % 2 == 0 { "Balcony" } else { "Floor" };
            let quantity = i64::try_from(1 + n % 3).unwrap();
            rt.reserve(&Cause::new(None), customer(0x100 + n), request(event, section, quantity, None)).await.unwrap()
        }
    }))
    .await;
    for hold in &holds[..3] {
        rt.pay(&c, hold.reservation_id, &card("4242424242424242")).await.unwrap();
    }
    rt.cancel_reservation(&c, holds[3].reservation_id).await.unwrap();
    // The rest in three commits each, as releases before the one-step hold made every hold (and
    // as the worker still finishes one whose seat step was delayed).
    let more = futures::future::join_all((40..60u128).map(|n| hold_in_steps(&rt, event, customer(0x100 + n)))).await;
    assert_eq!(more.len(), 20);
}

/// One seat on "Floor" held in three commits: the reservation starts, the inventory allocates
/// the seat, the reservation records it.
async fn hold_in_steps(rt: &ticketing::runtime::Runtime, event: EventId, customer: CustomerId) {
    use ticketing::domain::reducer::Command;
    use ticketing::domain::reservation::{EventFacts, ReservationCommand};
    let details = rt.event(event).await.unwrap();
    let reservation_id = ticketing::domain::ids::ReservationId::from_uuid(Uuid::new_v4());
    let initiate = ReservationCommand::Initiate {
        reservation_id,
        event_id: event,
        customer_id: customer,
        section: SectionName::parse("Floor").unwrap(),
        quantity: ticketing::domain::values::Quantity::new(1).unwrap(),
        seats: None,
        event: EventFacts { status: details.status, date: details.date, section: details.section("Floor").cloned() },
        hold_seconds: rt.config().hold_seconds,
        max_held_per_customer: rt.config().max_held_per_customer,
    };
    rt.run(Command::Reservation(reservation_id, initiate), &Cause::new(None), None).await.unwrap();
    let held = rt.reservation(reservation_id).await.unwrap();
    assert_eq!(held.status, ReservationStatus::SeatsReserved);
}

#[tokio::test]
async fn holds_applied_many_at_once_give_the_same_read_models_as_one_at_a_time() {
    let events_db = TestDb::new().await;
    let (one_by_one, together, in_sevens) =
        (TestDb::projections().await, TestDb::projections().await, TestDb::projections().await);
    let (analytics_one, analytics_together, analytics_sevens) =
        (TestDb::analytics().await, TestDb::analytics().await, TestDb::analytics().await);
    play_a_rush(&events_db).await;
    let store = EventStore::new(events_db.pool.clone());
    let mut projectors = read_models(&store);
    projectors.push(Arc::new(ticketing::notifier::Notifications::new(store.clone())));
    let etl: Arc<dyn Projector> = Arc::new(AnalyticsEtl::new(store.clone()));

    // The batches of 1,000 really gather events: each read model of holds gets steps of many,
    // and those that follow a hold's row write a hold started and seated in the batch at once.
    let events = whole_log(&store, &events_db).await;
    for projector in projectors.iter().chain([&etl]) {
        let wanted: Vec<&BusEvent> = events.iter().filter(|e| projector.wants(&e.event)).collect();
        let steps = projections::plan(&wanted, |e| projector.groups(e), |kind, earlier| projector.joins(kind, earlier));
        let gathered = steps.iter().any(|s| matches!(s, projections::Step::Many(..)));
        // Sales, mail and analytics keep no row per hold: they read a hold back from the log
        // when it sells or a mail is due, and apply those events one at a time.
        let gathers = ["availability", "reservations"].contains(&projector.name());
        assert_eq!(gathered, gathers, "{}", projector.name());
        let seated_with_start = steps.iter().any(|s| {
            matches!(s, projections::Step::Many(kind, events) if *kind == holds::INITIATED
                && events.iter().any(|e| holds::kind(e).is_some_and(|(k, _)| k == holds::SEATS_ALLOCATED)))
        });
        let joins = projector.name() == "reservations";
        assert_eq!(seated_with_start, joins, "{}", projector.name());
    }

    // Batches of 7 cut holds between their start and their seats: some are written at once,
    // some inserted and then updated.
    for projector in &projectors {
        projections::catch_up(&store, &one_by_one.pool, projector.as_ref(), 1).await.unwrap();
        projections::catch_up(&store, &together.pool, projector.as_ref(), 1_000).await.unwrap();
        projections::catch_up(&store, &in_sevens.pool, projector.as_ref(), 7).await.unwrap();
    }
    projections::catch_up(&store, &analytics_one.pool, etl.as_ref(), 1).await.unwrap();
    projections::catch_up(&store, &analytics_together.pool, etl.as_ref(), 1_000).await.unwrap();
    projections::catch_up(&store, &analytics_sevens.pool, etl.as_ref(), 7).await.unwrap();

    let tables = all_tables(&store);
    let expected = dump(&one_by_one.pool, &tables).await;
    assert!(expected["inventory_holds"].len() >= 60 && expected["reservations"].len() == 60);
    assert_same(&dump(&together.pool, &tables).await, &expected);
    assert_same(&dump(&in_sevens.pool, &tables).await, &expected);
    // The mail, without the outbox's own ids and times: one confirmation per sale, each to its
    // buyer about its event, however the notifier's batches fell.
    let mails = |pool: PgPool| async move {
        sqlx::query_scalar::<_, String>(
            "SELECT concat_ws(' ', dedupe_key, kind, recipient_id, reservation_id, event_id, data::text)
             FROM mail_outbox ORDER BY dedupe_key",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let expected = mails(one_by_one.pool.clone()).await;
    assert_eq!(expected.iter().filter(|m| m.contains(" confirmation ")).count(), 3, "{expected:?}");
    assert_eq!(mails(together.pool.clone()).await, expected);
    assert_eq!(mails(in_sevens.pool.clone()).await, expected);
    let analytics_tables = etl.tables().to_vec();
    let expected = dump(&analytics_one.pool, &analytics_tables).await;
    assert_same(&dump(&analytics_together.pool, &analytics_tables).await, &expected);
    assert_same(&dump(&analytics_sevens.pool, &analytics_tables).await, &expected);
}

#[tokio::test]
async fn the_shared_tail_gives_every_reader_what_the_log_has_after_its_checkpoint() {
    let (_events_db, store, log) = a_played_rush().await;
    assert!(log.len() > 100);
    // A tail smaller than the log, filled ten events at a time, and readers of different speeds
    // (one starting halfway): they are inside it, behind it, ahead of it and at its end in turn.
    let tail = LogTail::new(store.clone(), 25, 10);
    let mut readers =
        [LogPosition::default(), LogPosition::default(), LogPosition::default(), log[log.len() / 2].position];
    let mut done = vec![false; readers.len()];
    let mut rounds = 0;
    while done.iter().any(|d| !d) {
        rounds += 1;
        assert!(rounds < 1_000, "the readers never reached the end");
        for (i, reader) in readers.iter_mut().enumerate() {
            let limit = 3 + i * 4;
            let got: Vec<LogPosition> = tail.after(*reader, limit).await.unwrap().iter().map(|e| e.position).collect();
            let expected: Vec<LogPosition> = store
                .read_all(*reader, i64::try_from(limit).unwrap())
                .await
                .unwrap()
                .iter()
                .map(ticketing::store::RecordedEvent::log_position)
                .collect();
            // What the tail has of it: a part (up to its end), never nothing while there is more.
            assert_eq!(got.is_empty(), expected.is_empty(), "reader {i} after {reader:?}");
            assert_eq!(got, expected[..got.len()], "reader {i} after {reader:?}");
            done[i] = got.is_empty();
            *reader = got.last().copied().unwrap_or(*reader);
        }
    }
    assert!(tail.pages_read() > 0);
}

#[tokio::test]
async fn readers_at_the_end_of_the_tail_share_one_read_of_the_log() {
    let (_events_db, store, log) = a_played_rush().await;
    let tail = LogTail::new(store.clone(), 20_000, 500);
    for _ in 0..7 {
        let events = tail.after(LogPosition::default(), 500).await.unwrap();
        assert_eq!(events.len(), log.len().min(500));
        assert_eq!(*events[0], log[0]);
    }
    assert_eq!(tail.pages_read(), 1, "seven readers, one read of the log");
}

/// The transaction that last wrote a projector's checkpoint row.
async fn checkpoint_writer(pool: &PgPool, name: &str) -> Option<String> {
    sqlx::query_scalar("SELECT xmin::text FROM projector_checkpoints WHERE projector = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_read_model_fed_a_run_of_events_it_does_not_want_writes_nothing_for_them_until_the_log_runs_dry() {
    let ((_events_db, store, log), proj) = (a_played_rush().await, TestDb::projections().await);
    // The catalogue wants the event's own changes (the first few events) and none of the holds
    // and payments after them; read ten at a time.
    let tail = LogTail::new(store.clone(), 20_000, 10);
    let catalogue = projections::catalogue::Catalogue;
    let mut reader = TailReader::default();
    let (mut steps, mut writers) = (0, HashSet::new());
    while reader.step(&tail, &proj.pool, &catalogue, 10).await.unwrap() > 0 {
        steps += 1;
        writers.insert(checkpoint_writer(&proj.pool, "catalogue").await);
    }
    assert!(steps >= log.len() / 10, "{steps} batches");
    // The batch with the event's changes wrote it, and at most one record of skipped events
    // (they are recorded at least every second) before the log ran dry.
    assert!(writers.len() <= 2, "{} writes of the checkpoint in {steps} batches", writers.len());
    assert_eq!(
        projections::checkpoint(&proj.pool, "catalogue").await.unwrap(),
        log.last().unwrap().position,
        "recorded once the log ran dry"
    );
    // A read model records its checkpoint with every batch holding an event it wants (the
    // reservations read model: all but the inventory's), and once more if the log ends in a run
    // of batches it does not want.
    let reservations = projections::reservations::Reservations;
    let wanted_batches = log.chunks(10).filter(|batch| batch.iter().any(|e| reservations.wants(&e.event))).count();
    let mut reader = TailReader::default();
    writers.clear();
    while reader.step(&tail, &proj.pool, &reservations, 10).await.unwrap() > 0 {
        writers.insert(checkpoint_writer(&proj.pool, "reservations").await);
    }
    assert!(
        (wanted_batches..=wanted_batches + 1).contains(&writers.len()),
        "{} writes for {wanted_batches} batches with its events",
        writers.len()
    );
}

/// Steps `reader` until its read model has applied the whole log (`last`), as its task would.
async fn drain(reader: &mut TailReader, tail: &LogTail, pool: &PgPool, projector: &dyn Projector, last: LogPosition) {
    for _ in 0..1_000 {
        if reader.step(tail, pool, projector, 50).await.unwrap() == 0
            && projections::checkpoint(pool, projector.name()).await.unwrap() == last
        {
            return;
        }
    }
    panic!("{} never caught up", projector.name());
}

#[tokio::test]
async fn a_rebuild_that_resets_read_models_under_running_readers_is_replayed_whole() {
    let (events_db, proj, reference) = (TestDb::new().await, TestDb::projections().await, TestDb::projections().await);
    play_a_rush(&events_db).await;
    let store = EventStore::new(events_db.pool.clone());
    let last = whole_log(&store, &events_db).await.last().unwrap().position;
    for projector in read_models(&store) {
        projections::catch_up(&store, &reference.pool, projector.as_ref(), 1_000).await.unwrap();
    }
    let tables = all_tables(&store);
    let expected = dump(&reference.pool, &tables).await;
    let tail = LogTail::new(store.clone(), 20_000, 50);
    let mut readers: Vec<(Arc<dyn Projector>, TailReader)> =
        read_models(&store).into_iter().map(|p| (p, TailReader::default())).collect();
    // `rebuild-projections` empties the tables and forgets the checkpoints while the readers
    // remember where they were: first halfway through the log, then once they are idle at its
    // end. Either way they must start again from the beginning.
    for (projector, reader) in &mut readers {
        for _ in 0..2 {
            reader.step(&tail, &proj.pool, projector.as_ref(), 50).await.unwrap();
        }
    }
    for round in ["halfway", "idle at the end"] {
        for (projector, _) in &readers {
            projections::reset(&proj.pool, projector.as_ref()).await.unwrap();
        }
        for (projector, reader) in &mut readers {
            drain(reader, &tail, &proj.pool, projector.as_ref(), last).await;
        }
        let actual = dump(&proj.pool, &tables).await;
        let differing: Vec<&String> = expected.keys().filter(|t| actual.get(*t) != expected.get(*t)).collect();
        assert!(differing.is_empty(), "reset {round}: tables differ: {differing:?}");
    }
}

#[tokio::test]
async fn a_rebuild_from_the_log_beside_a_live_kafka_consumer_applies_each_event_once() {
    let events_db = TestDb::new().await;
    play_a_rush(&events_db).await;
    let store = EventStore::new(events_db.pool.clone());
    let events = whole_log(&store, &events_db).await;
    let last = events.last().unwrap().position;
    let tables = all_tables(&store);
    let reference = TestDb::projections().await;
    for projector in read_models(&store) {
        projections::catch_up(&store, &reference.pool, projector.as_ref(), 1_000).await.unwrap();
    }
    let expected = dump(&reference.pool, &tables).await;
    // The same events at the same moment from both sources (the log, as `rebuild-projections`
    // reads it, and the bus, as a Kafka consumer gets them), in either order of arrival.
    for round in 0..3 {
        let both = TestDb::projections().await;
        for projector in read_models(&store) {
            let from_log = projections::apply_batch(&both.pool, projector.as_ref(), &events, Some(last));
            let from_bus = projections::apply_batch(&both.pool, projector.as_ref(), &events, None);
            let (log, bus) = if round % 2 == 0 {
                tokio::join!(from_log, from_bus)
            } else {
                let (bus, log) = tokio::join!(from_bus, from_log);
                (log, bus)
            };
            log.unwrap();
            bus.unwrap();
        }
        assert_same(&dump(&both.pool, &tables).await, &expected);
    }
}

#[tokio::test]
async fn a_projector_killed_mid_batch_again_and_again_loses_nothing_and_counts_nothing_twice() {
    let (events_db, proj, reference) = (TestDb::new().await, TestDb::projections().await, TestDb::projections().await);
    play_scenario(&events_db).await;
    let store = EventStore::new(events_db.pool.clone());
    for projector in read_models(&store) {
        projections::catch_up(&store, &reference.pool, projector.as_ref(), 1_000).await.unwrap();
    }
    let tables = all_tables(&store);
    let expected = dump(&reference.pool, &tables).await;

    let mut kills = 0;
    for round in 0..40u64 {
        let (store, pool) = (store.clone(), proj.pool.clone());
        let task = tokio::spawn(async move {
            for projector in projections::all(&store) {
                projections::catch_up(&store, &pool, projector.as_ref(), 3).await.unwrap();
            }
        });
        tokio::time::sleep(Duration::from_millis(round % 7 * 3)).await;
        if !task.is_finished() {
            kills += 1;
        }
        task.abort();
        let _ = task.await;
    }
    assert!(kills > 10, "the projector was hardly ever interrupted ({kills})");
    for projector in read_models(&store) {
        projections::catch_up(&store, &proj.pool, projector.as_ref(), 3).await.unwrap();
    }
    assert_same(&dump(&proj.pool, &tables).await, &expected);
}

/// Sales in quick succession: the daily view is refreshed at most once a second, and the sales of
/// the rest of that second show once it is up, without waiting for another sale to come along.
#[tokio::test]
async fn the_last_sale_of_a_burst_reaches_the_daily_sales_view() {
    let app = crate::support::spawn_app().await;
    let admin = app.sign_in(crate::support::ADMIN_EMAIL).await;
    let event = app.open_event(&admin, 20).await;
    let buyer = app.sign_in("burst@example.com").await;
    for quantity in [1, 2, 3] {
        let body = serde_json::json!({ "event_id": event, "section": "Floor", "quantity": quantity });
        let held: serde_json::Value =
            app.post_json("/api/reservations", Some(&buyer), &body).await.json().await.unwrap();
        let id = held["reservation_id"].as_str().unwrap();
        assert_eq!(app.pay(&buyer, id, "4242424242424242").await.status(), reqwest::StatusCode::OK);
    }
    let path = format!("/api/analytics/sales/time-series?event_id={event}");
    let sold = |b: &serde_json::Value| {
        b["days"].as_array().map(|d| d.iter().filter_map(|x| x["tickets_sold"].as_i64()).sum::<i64>())
    };
    let series = app.get_until_as(&admin, &path, |b| sold(b) == Some(6)).await;
    assert_eq!(sold(&series), Some(6), "{series}");
}

/// Sequential scans of `table` by every session so far, the caller's own pending counts included.
async fn seq_scans(connection: &mut sqlx::PgConnection, table: &str) -> i64 {
    sqlx::query("SELECT pg_stat_force_next_flush()").execute(&mut *connection).await.unwrap();
    sqlx::query_scalar("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = $1")
        .bind(table)
        .fetch_one(&mut *connection)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_read_model_planned_on_an_empty_table_still_finds_its_rows_by_key_once_the_table_has_grown() {
    let events_db = TestDb::new().await;
    let proj = TestDb::projections().await;
    let store = EventStore::new(events_db.pool.clone());
    let reservations = read_models(&store).into_iter().find(|p| p.name() == "reservations").unwrap();
    // One connection: the statements are prepared, and planned, where the test can see them.
    let one = ticketing::store::database::pool(&proj.url, 1).unwrap();

    // The first holds of a new database: the update of their prices is planned on a table of a
    // few rows. (Batches of 7 cut the holds made in steps between their start and their seats:
    // a hold whose seats come in the same batch is inserted with them, and not updated.)
    play_a_rush(&events_db).await;
    whole_log(&store, &events_db).await;
    projections::catch_up(&store, &one, reservations.as_ref(), 7).await.unwrap();
    // A long sale later, the table is large (nothing analysed it: autovacuum may be late or off).
    sqlx::query(
        "INSERT INTO reservations (reservation_id, event_id, customer_id, section, quantity, status, expires_at,
                                   created_at, updated_at)
         SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'Floor', 1, 'expired', now(), now(), now()
         FROM generate_series(1, 50000)",
    )
    .execute(&proj.pool)
    .await
    .unwrap();
    let before = seq_scans(&mut one.acquire().await.unwrap(), "reservations").await;

    play_a_rush(&events_db).await;
    whole_log(&store, &events_db).await;
    projections::catch_up(&store, &one, reservations.as_ref(), 7).await.unwrap();

    let mut connection = one.acquire().await.unwrap();
    assert_eq!(seq_scans(&mut connection, "reservations").await, before, "a batch scanned the whole read model");
    let (generic, custom): (i64, i64) = sqlx::query_as(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE 'UPDATE reservations r SET seats%'",
    )
    .fetch_one(&mut *connection)
    .await
    .unwrap();
    assert!(generic >= 2 && custom == 0, "planned once, for every batch: {generic} generic, {custom} custom plans");
    let allocated: i64 = sqlx::query_scalar("SELECT count(*) FROM reservations WHERE status = 'seats_reserved'")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    assert!(allocated >= 100, "both rushes' holds are priced: {allocated}");
}

/// Copies `rows` (recorded elsewhere) into `events_db`'s log, in order, in one transaction,
/// all recorded at the transaction's start: however slowly a busy machine copies them, the log's
/// own clock says they came at once.
async fn copy_into_log(events_db: &TestDb, rows: &[ticketing::store::RecordedEvent]) {
    let mut tx = events_db.pool.begin().await.unwrap();
    for row in rows {
        sqlx::query(
            "INSERT INTO events (stream_id, version, event_type, event_version, payload,
                                 correlation_id, causation_id, command_id, user_id, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())",
        )
        .bind(&row.stream_id)
        .bind(row.version)
        .bind(&row.event_type)
        .bind(row.event_version)
        .bind(&row.payload)
        .bind(row.metadata.map(|m| m.correlation_id))
        .bind(row.metadata.map(|m| m.causation_id))
        .bind(row.metadata.map(|m| m.command_id))
        .bind(row.metadata.and_then(|m| m.user_id))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// The longest run of `log[..end]` from its first event in which every hold's start has its
/// seats too.
fn whole_holds_prefix(log: &[BusEvent], end: usize) -> usize {
    let is_start = |e: &BusEvent| holds::kind(e).is_some_and(|(kind, _)| kind == holds::INITIATED);
    (0..=end)
        .rev()
        .find(|&c| {
            log[..c]
                .iter()
                .filter(|e| is_start(e))
                .all(|e| log[..c].iter().any(|n| n.stream_id == e.stream_id && n.version == e.version + 1))
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_live_reader_holds_a_start_back_until_its_seats_are_in_the_log_and_no_longer_than_its_limit() {
    let (_played, played_store, log) = a_played_rush().await;
    let rows = played_store.read_all(LogPosition::default(), 100_000).await.unwrap();
    let reservations = projections::reservations::Reservations;
    let availability = projections::availability::Availability;

    // The rule on the real log: the whole of it is ready. Cut just after the last start whose
    // seats come later, the longest run in which every start has its seats is ready. A read
    // model that does not join starts with seats, and a reader that holds back for no time,
    // take the whole cut.
    let hour = Duration::from_secs(3_600);
    assert_eq!(projections::ready_prefix(&log, &reservations, hour), log.len());
    let cut = 1 + log
        .iter()
        .enumerate()
        .rposition(|(at, e)| {
            holds::kind(e).is_some_and(|(kind, _)| kind == holds::INITIATED)
                && log[at + 1..].iter().any(|n| n.stream_id == e.stream_id && n.version == e.version + 1)
        })
        .unwrap();
    let waiting = whole_holds_prefix(&log, cut);
    assert!(waiting < cut);
    assert_eq!(projections::ready_prefix(&log[..cut], &reservations, hour), waiting);
    assert_eq!(projections::ready_prefix(&log[..cut], &availability, hour), cut);
    assert_eq!(projections::ready_prefix(&log[..cut], &reservations, Duration::ZERO), cut);

    // Live: the log as it was at the cut, then the rest.
    let (events_db, proj, reference) = (TestDb::new().await, TestDb::projections().await, TestDb::projections().await);
    copy_into_log(&events_db, &rows[..cut]).await;
    let store = EventStore::new(events_db.pool.clone());
    // Readable only once every older transaction in the cluster has ended (other tests').
    whole_log(&store, &events_db).await;
    let tail = LogTail::new(store.clone(), 20_000, 500);
    let mut reader = TailReader::holding_back(hour);
    let read = reader.step(&tail, &proj.pool, &reservations, 500).await.unwrap();
    assert!(reader.holding(), "a start without its seats is held back");
    assert_eq!(read, waiting, "everything before it is applied");
    let reservation_at = |at: usize| log[at].stream_id.trim_start_matches("reservation-").parse::<Uuid>().unwrap();
    // The first start held back. Its seats may be in the cut (another start without seats came
    // between them), or not: only the last start of the cut has surely none.
    let (held, never_seated) = (reservation_at(waiting), reservation_at(cut - 1));
    let row = |pool: PgPool, reservation: Uuid| async move {
        sqlx::query_scalar::<_, String>("SELECT status FROM reservations WHERE reservation_id = $1")
            .bind(reservation)
            .fetch_optional(&pool)
            .await
            .unwrap()
    };
    assert_eq!(row(proj.pool.clone(), held).await, None, "no row for the held start yet");
    copy_into_log(&events_db, &rows[cut..]).await;
    let last = whole_log(&store, &events_db).await.last().unwrap().position;
    drain(&mut reader, &tail, &proj.pool, &reservations, last).await;
    assert_eq!(row(proj.pool.clone(), held).await.as_deref(), Some("seats_reserved"));
    projections::catch_up(&store, &reference.pool, &reservations, 1_000).await.unwrap();
    let tables = reservations.tables();
    assert_same(&dump(&proj.pool, tables).await, &dump(&reference.pool, tables).await);

    // A start whose seats never come is applied alone once the log has stood still for the
    // limit.
    let (stalled_db, stalled) = (TestDb::new().await, TestDb::projections().await);
    copy_into_log(&stalled_db, &rows[..cut]).await;
    let stalled_store = EventStore::new(stalled_db.pool.clone());
    let stalled_last = whole_log(&stalled_store, &stalled_db).await.last().unwrap().position;
    let tail = LogTail::new(stalled_store.clone(), 20_000, 500);
    // Long enough that slow reads of the log on a busy machine do not use it up.
    let limit = Duration::from_secs(5);
    let mut reader = TailReader::holding_back(limit);
    let started = tokio::time::Instant::now();
    reader.step(&tail, &stalled.pool, &reservations, 500).await.unwrap();
    assert!(reader.holding());
    while reader.holding() {
        assert!(started.elapsed() < Duration::from_secs(60), "still held back after 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
        reader.step(&tail, &stalled.pool, &reservations, 500).await.unwrap();
    }
    assert!(started.elapsed() >= limit, "released after {:?}", started.elapsed());
    assert_eq!(row(stalled.pool.clone(), never_seated).await.as_deref(), Some("initiated"));
    assert_eq!(projections::checkpoint(&stalled.pool, "reservations").await.unwrap(), stalled_last);
}
