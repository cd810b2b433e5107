//! Events per second through the read side, and projection lag under a sustained write load.
//!
//! `scripts/bench-projections.sh` runs it. Three measurements on throwaway databases:
//! 1. catch-up: `HOLDS` holds are written first (3 events each), then the five read models
//!    replay them from the in-process bus; events/s per read model;
//! 2. the same events through Kafka: relay → tansu broker → five consumer groups → read models,
//!    timed until every read model holds every reservation (needs `TANSU_BIN`);
//! 3. sustained load: buyers write holds for `SECONDS` while the in-process projectors run;
//!    the largest lag (events not yet applied by the slowest read model), sampled every 250 ms.

// Rates are reported as floating-point numbers; money and seats never are.
// A benchmark is a script: it reads top to bottom, and a failed step should stop it.
#![allow(clippy::cast_precision_loss, clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use sqlx::PgPool;
use ticketing::bus::kafka::{self, KafkaSettings};
use ticketing::bus::relay;
use ticketing::clock::SystemClock;
use ticketing::domain::event::{EventCommand, NewEvent};
use ticketing::domain::ids::{CustomerId, EventId};
use ticketing::domain::money::Money;
use ticketing::domain::seating::{SectionLayout, SectionSpec};
use ticketing::domain::values::{Category, EventName, Quantity, SectionName, Venue};
use ticketing::projections;
use ticketing::runtime::gateway::SimulatedGateway;
use ticketing::runtime::purchase::ReserveRequest;
use ticketing::runtime::{Cause, Runtime, RuntimeConfig};
use ticketing::store::{EventStore, LogPosition, database};
use tokio::sync::watch;
use uuid::Uuid;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Dbs {
    server: String,
    names: Vec<String>,
}

impl Dbs {
    async fn make(&mut self, migrator: &sqlx::migrate::Migrator) -> PgPool {
        let name = format!("ticketing_bench_{}", Uuid::new_v4().simple());
        let pool = database::migrate(&format!("{}/{name}", self.server), migrator).await.unwrap();
        self.names.push(name);
        pool
    }

    async fn drop_all(&self) {
        let admin = database::pool(&format!("{}/postgres", self.server), 1).unwrap();
        for name in &self.names {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&admin).await;
        }
    }
}

async fn event_on_sale(rt: &Runtime) -> EventId {
    let event_id = EventId::from_uuid(Uuid::new_v4());
    let c = Cause::new(None);
    let event = NewEvent {
        name: EventName::parse("Projection benchmark").unwrap(),
        date: Utc::now() + chrono::Duration::days(60),
        category: Category::Festival,
        venue: Venue::parse("Field", None, None).unwrap(),
        sections: vec![SectionSpec {
            name: SectionName::parse("Floor").unwrap(),
            layout: SectionLayout::parse("general", 100_000, None, None).unwrap(),
            base_price: Money::from_cents(5_000),
        }],
    };
    rt.create_event(&c, event_id, event).await.unwrap();
    rt.change_event(&c, event_id, EventCommand::Publish).await.unwrap();
    rt.change_event(&c, event_id, EventCommand::OpenSales).await.unwrap();
    event_id
}

/// Writes holds with 64 concurrent buyers until `holds` are made or `stop` is set.
async fn write_holds(rt: &Runtime, event_id: EventId, holds: usize, stop: Arc<AtomicBool>) -> usize {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (rt, next, stop) = (rt.clone(), next.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) && next.fetch_add(1, Ordering::Relaxed) < holds {
                let request = ReserveRequest {
                    event_id,
                    section: SectionName::parse("Floor").unwrap(),
                    quantity: Quantity::new(1).unwrap(),
                    seats: None,
                    reservation_id: None,
                };
                rt.reserve(&Cause::new(None), CustomerId::from_uuid(Uuid::new_v4()), request).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    next.load(Ordering::Relaxed).min(holds)
}

async fn reservations_in(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM reservations WHERE status = 'seats_reserved'")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::main]
async fn main() {
    let server = std::env::var("BENCH_DATABASE_SERVER").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let holds = env_or("HOLDS", 10_000);
    let seconds = env_or("SECONDS", 20);
    let mut dbs = Dbs { server, names: Vec::new() };
    let events = dbs.make(&database::EVENTS_MIGRATOR).await;
    let store = EventStore::new(events.clone());
    let config = RuntimeConfig::default();
    let rt =
        Runtime::new(store.clone(), Arc::new(SystemClock), Arc::new(SimulatedGateway::new(events.clone())), config);
    let event_id = event_on_sale(&rt).await;

    // 1. catch-up from the in-process bus
    write_holds(&rt, event_id, holds, Arc::new(AtomicBool::new(false))).await;
    let total = store.count_after(LogPosition::default()).await.unwrap();
    println!("log: {total} events ({holds} holds)");
    let read = dbs.make(&database::PROJECTIONS_MIGRATOR).await;
    for projector in projections::all(&store) {
        let started = Instant::now();
        projections::catch_up(&store, &read, projector.as_ref(), 1_000).await.unwrap();
        let took = started.elapsed().as_secs_f64();
        println!(
            "in-process catch-up  {:<13} {total} events in {took:.2}s -> {:.0} events/s",
            projector.name(),
            total as f64 / took
        );
    }

    // 2. the same through Kafka
    if let Ok(bin) = std::env::var("TANSU_BIN") {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("tcp://127.0.0.1:{port}");
        let mut broker = std::process::Command::new(bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .env("RUST_LOG", "error")
            .spawn()
            .unwrap();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let settings = KafkaSettings::new(format!("127.0.0.1:{port}"));
        kafka::ensure_topics(&settings).await.unwrap();
        let fed = dbs.make(&database::PROJECTIONS_MIGRATOR).await;
        let (stop, stopped) = watch::channel(false);
        let started = Instant::now();
        tokio::spawn(relay::run(
            store.clone(),
            settings.clone(),
            "bench",
            1_000,
            Duration::from_millis(20),
            stopped.clone(),
        ));
        for projector in projections::all(&store) {
            tokio::spawn(kafka::run_projector(settings.clone(), fed.clone(), projector, stopped.clone()));
        }
        let mut relayed_at = None;
        loop {
            if relayed_at.is_none() && relay::lag(&store, "bench").await.unwrap() == 0 {
                relayed_at = Some(started.elapsed().as_secs_f64());
            }
            let avail: Option<i32> =
                sqlx::query_scalar("SELECT reserved FROM section_availability").fetch_optional(&fed).await.unwrap();
            if reservations_in(&fed).await == i64::try_from(holds).unwrap()
                && avail == Some(i32::try_from(holds).unwrap())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let took = started.elapsed().as_secs_f64();
        println!(
            "kafka: relay published {total} events in {:.2}s ({:.0} events/s); all five read models complete after {took:.2}s ({:.0} events/s end to end)",
            relayed_at.unwrap_or(took),
            total as f64 / relayed_at.unwrap_or(took),
            total as f64 / took
        );
        stop.send(true).unwrap();
        let _ = broker.kill();
        let _ = broker.wait();
    }

    // 3. lag under sustained writes, in-process projectors running
    let live = dbs.make(&database::PROJECTIONS_MIGRATOR).await;
    for projector in projections::all(&store) {
        projections::catch_up(&store, &live, projector.as_ref(), 1_000).await.unwrap();
    }
    let (stop, stopped) = watch::channel(false);
    let tail = Arc::new(projections::tail::LogTail::new(store.clone(), 20_000, 1_000));
    for projector in projections::all(&store) {
        tokio::spawn(projections::run_in_process(
            tail.clone(),
            live.clone(),
            projector,
            1_000,
            Duration::from_millis(20),
            stopped.clone(),
        ));
    }
    let writing = Arc::new(AtomicBool::new(false));
    let writer = {
        let (rt, writing) = (rt.clone(), writing.clone());
        tokio::spawn(async move { write_holds(&rt, event_id, usize::MAX, writing).await })
    };
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(u64::try_from(seconds).unwrap()) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let mut worst = 0;
        for projector in projections::all(&store) {
            worst = worst.max(projections::lag(&store, &live, projector.name()).await.unwrap());
        }
        samples.push(worst);
    }
    writing.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    let drained_from = Instant::now();
    for projector in projections::all(&store) {
        projections::catch_up(&store, &live, projector.as_ref(), 1_000).await.unwrap();
    }
    samples.sort_unstable();
    println!(
        "sustained: {written} holds ({:.0} events/s written) for {seconds}s; slowest read model lag p50 {} events, p90 {}, max {}; drained {:.2}s after writes stopped",
        (written * 3) as f64 / started.elapsed().as_secs_f64(),
        samples[samples.len() / 2],
        samples[samples.len() * 9 / 10],
        samples.last().copied().unwrap_or(0),
        drained_from.elapsed().as_secs_f64()
    );
    stop.send(true).unwrap();
    dbs.drop_all().await;
}
