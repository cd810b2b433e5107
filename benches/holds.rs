//! Holds per second on one hot section, through the runtime into PostgreSQL.
//!
//! `scripts/bench-holds.sh` runs it (it needs the local PostgreSQL). It creates a throwaway
//! database, an event with one 100,000-place general-admission section, and lets `BUYERS`
//! concurrent buyers take 1 seat each until `HOLDS` holds are made, once with batching (up to 256
//! commands per inventory append) and once without (1 per append). Prints holds/s and latency
//! percentiles per mode.

// Rates are reported as floating-point numbers; money and seats never are.
#![allow(clippy::cast_precision_loss)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use ticketing::clock::SystemClock;
use ticketing::domain::event::{EventCommand, NewEvent};
use ticketing::domain::ids::{CustomerId, EventId};
use ticketing::domain::money::Money;
use ticketing::domain::seating::{SectionLayout, SectionSpec};
use ticketing::domain::values::{Category, EventName, Quantity, SectionName, Venue};
use ticketing::runtime::gateway::SimulatedGateway;
use ticketing::runtime::purchase::ReserveRequest;
use ticketing::runtime::{Cause, Runtime, RuntimeConfig};
use ticketing::store::{EventStore, database};
use uuid::Uuid;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The `per_mille`-th latency of a sorted list (500 = median).
fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    sorted.get(sorted.len().saturating_sub(1) * per_mille / 1000).copied().unwrap_or_default()
}

async fn run(server: &str, batch_max: usize, holds: usize, buyers: usize) -> Result<(), Box<dyn std::error::Error>> {
    let name = format!("ticketing_bench_{}", Uuid::new_v4().simple());
    let url = format!("{server}/{name}");
    database::migrate_events(&url).await?;
    let pool = database::pool(&url, 32)?;
    let config = RuntimeConfig { batch_max, ..RuntimeConfig::default() };
    let rt = Runtime::new(
        EventStore::new(pool.clone()),
        Arc::new(SystemClock),
        Arc::new(SimulatedGateway::new(pool.clone())),
        config,
    );

    let event_id = EventId::from_uuid(Uuid::new_v4());
    let cause = Cause::new(None);
    let event = NewEvent {
        name: EventName::parse("Benchmark")?,
        date: Utc::now() + chrono::Duration::days(60),
        category: Category::Concert,
        venue: Venue::parse("Stadium", None, None)?,
        sections: vec![SectionSpec {
            name: SectionName::parse("Floor")?,
            layout: SectionLayout::parse("general", 100_000, None, None)?,
            base_price: Money::from_cents(5_000),
        }],
    };
    rt.create_event(&cause, event_id, event).await?;
    rt.change_event(&cause, event_id, EventCommand::Publish).await?;
    rt.change_event(&cause, event_id, EventCommand::OpenSales).await?;

    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..buyers {
        let (rt, next) = (rt.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < holds {
                let request = ReserveRequest {
                    event_id,
                    section: SectionName::parse("Floor").unwrap_or_else(|_| unreachable!()),
                    quantity: Quantity::new(1).unwrap_or_else(|_| unreachable!()),
                    seats: None,
                    reservation_id: None,
                };
                let t = Instant::now();
                match rt.reserve(&Cause::new(None), CustomerId::from_uuid(Uuid::new_v4()), request).await {
                    Ok(_) => latencies.push(t.elapsed()),
                    Err(_) => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (l, f) = task.await?;
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let inventory = rt.inventory(event_id).await?;
    let reserved = inventory.section("Floor").map_or(0, ticketing::domain::inventory::SectionInventory::reserved);
    println!(
        "batch_max={batch_max:>3} buyers={buyers} holds={} failed={failures} in {:.2}s -> {:.0} holds/s | p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms | seats reserved {reserved}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 500).as_secs_f64() * 1e3,
        percentile(&latencies, 900).as_secs_f64() * 1e3,
        percentile(&latencies, 990).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    pool.close().await;
    let admin = database::pool(&format!("{server}/postgres"), 1)?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&admin).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = std::env::var("BENCH_DATABASE_SERVER").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let holds = env_or("HOLDS", 20_000);
    let buyers = env_or("BUYERS", 256);
    for batch_max in [256, 1] {
        run(&server, batch_max, holds, buyers).await?;
    }
    Ok(())
}
