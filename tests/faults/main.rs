//! The fault suite: an on-sale with payments over HTTP against two instances of the real
//! binary on the same databases, while the suite breaks something an operator meets in
//! production: an instance killed with SIGKILL, PostgreSQL crashing and coming back, Redis killed and
//! restarted, the broker restarted, a rolling restart. After each, the promise is checked
//! against the event log, the gateway's ledger and a rebuild of the read models:
//! - holds + sales ≤ capacity in every section, no seat in two live holds, every 201 its seats;
//! - after the hold timer, every reservation a client saw answered 201 has ended (completed,
//!   expired or cancelled) and no seat is still held;
//! - the gateway's captures − refunds equal the completed orders, every paid 200 is completed;
//! - the read models rebuilt from the log equal the live ones.
//!
//! Run by `scripts/test.sh` (`cargo test --test faults`); `FAULTS=sigkill,postgres` runs some.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]
// The shared harness modules compute rates in floating point (seats and money never are).
#![allow(clippy::cast_precision_loss)]

#[allow(dead_code)]
#[path = "../../benches/flash_sale/checks.rs"]
mod checks;
#[allow(dead_code)]
#[path = "../../benches/flash_sale/client.rs"]
mod client;
mod infra;
#[allow(dead_code)]
#[path = "../../benches/flash_sale/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "../../benches/flash_sale/people.rs"]
mod people;
mod sale;
#[allow(dead_code)]
#[path = "../../benches/flash_sale/server.rs"]
mod server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use client::{BoxError, Conn};
use infra::{OwnBroker, OwnPostgres, OwnRedis};
use sale::{Ask, Seen};
use ticketing::clock::SystemClock;
use ticketing::domain::ids::{EventId, ReservationId};
use ticketing::domain::reservation::ReservationStatus;
use ticketing::runtime::gateway::SimulatedGateway;
use ticketing::runtime::{Runtime, RuntimeConfig};
use ticketing::store::EventStore;

const BUYERS: usize = 60;
const CAPACITY: u32 = 40;
const HOLD_SECONDS: u64 = 4;
const SALE: Duration = Duration::from_secs(9);
/// When the fault strikes, and how long the service stays broken.
const FAULT_AT: Duration = Duration::from_millis(2_500);
const OUTAGE: Duration = Duration::from_secs(3);

fn main() -> Result<(), BoxError> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(suite())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    SigKill,
    Postgres,
    Redis,
    Broker,
    Rolling,
}

impl Fault {
    const ALL: [Self; 5] = [Self::SigKill, Self::Postgres, Self::Redis, Self::Broker, Self::Rolling];

    const fn name(self) -> &'static str {
        match self {
            Self::SigKill => "sigkill",
            Self::Postgres => "postgres",
            Self::Redis => "redis",
            Self::Broker => "broker",
            Self::Rolling => "rolling",
        }
    }
}

async fn suite() -> Result<(), BoxError> {
    let wanted = std::env::var("FAULTS").unwrap_or_default();
    let faults: Vec<Fault> = Fault::ALL
        .into_iter()
        .filter(|f| wanted.is_empty() || wanted.split(',').any(|w| w.trim() == f.name()))
        .collect();
    let started = Instant::now();
    let postgres = OwnPostgres::start()?;
    let mut failed = Vec::new();
    for fault in faults {
        eprintln!("\n## fault: {}", fault.name());
        match scenario(fault, &postgres).await {
            Ok(()) => eprintln!("   {}: promise kept", fault.name()),
            Err(e) => {
                eprintln!("   {}: FAILED: {e}", fault.name());
                failed.push(fault.name());
            }
        }
    }
    eprintln!("\nfault suite: {:.0} s", started.elapsed().as_secs_f64());
    if failed.is_empty() { Ok(()) } else { Err(format!("faults not survived: {failed:?}").into()) }
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), BoxError> {
    if ok { Ok(()) } else { Err(what().into()) }
}

async fn scenario(fault: Fault, postgres: &OwnPostgres) -> Result<(), BoxError> {
    let mut redis = OwnRedis::start()?;
    let mut broker = if fault == Fault::Broker { Some(OwnBroker::start()?) } else { None };
    let mut deployment = server::Deployment::new(&postgres.url());
    deployment.env = vec![
        ("REDIS_URL".into(), redis.url()),
        ("RESERVATION_TTL_SECONDS".into(), HOLD_SECONDS.to_string()),
        ("DATABASE_MAX_CONNECTIONS".into(), "8".into()),
        ("REQUEST_TIMEOUT_SECONDS".into(), "10".into()),
        // The outages make the servers log an error per refused request: off unless asked.
        ("RUST_LOG".into(), std::env::var("FAULTS_SERVER_LOG").unwrap_or_else(|_| "off".into())),
    ];
    if let Some(broker) = &broker {
        deployment.env.push(("KAFKA_BROKERS".into(), broker.address()));
    }
    let first = deployment.start_instance().await?;
    let second = deployment.start_instance().await?;
    let addrs = [first, second];
    let mut organiser = people::Organiser::sign_in(first, &deployment.outbox).await?;
    let event_id =
        organiser.event_on_sale(&format!("Faults: {}", fault.name()), people::general("Floor", CAPACITY)).await?;
    let tokens = people::sign_in_buyers(first, &deployment.outbox, BUYERS).await?;
    let ask = Ask { event_id: event_id.clone(), section: "Floor".into() };

    let started = Instant::now();
    let sale = tokio::spawn({
        let tokens = tokens.clone();
        async move { sale::run(&addrs, &tokens, &ask, started, SALE, Duration::from_secs(20)).await }
    });
    tokio::time::sleep(FAULT_AT).await;
    let mut probes = Vec::new();
    // When a dependency comes back. The clients' retries may all be answered within
    // milliseconds of it, before the readiness checks that follow are done, and those answers
    // are the ones that show the service is back (the probes make the outage outlast the sale).
    let mut back_at = None;
    match fault {
        Fault::SigKill => {
            let status = deployment.signal(0, "KILL")?;
            eprintln!("   instance 1 killed ({status})");
            tokio::time::sleep(OUTAGE).await;
            let back = Instant::now();
            deployment.restart(0).await?;
            eprintln!("   instance 1 restarted, ready in {} ms", back.elapsed().as_millis());
        }
        Fault::Postgres => {
            postgres.crash()?;
            let down = Instant::now();
            probes.push(probe(first, &tokens[0], &event_id, false).await);
            tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
            postgres.resume()?;
            let back = Instant::now();
            back_at = Some(back.duration_since(started));
            for addr in addrs {
                let ready = sale::until_ok(addr, "/health/ready", None, Duration::from_secs(20)).await?;
                eprintln!("   {addr} ready again {} ms after PostgreSQL came back (no restart)", ready.as_millis());
            }
            eprintln!("   PostgreSQL down {} ms", (back - down).as_millis());
        }
        Fault::Redis => {
            redis.kill();
            let down = Instant::now();
            probes.push(probe(first, &tokens[0], &event_id, true).await);
            tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
            redis.resume()?;
            let back = Instant::now();
            back_at = Some(back.duration_since(started));
            // Sign-in works again (someone new, through the other instance).
            let signed_in = sign_in_new(second, &deployment.outbox, "after-redis@bench.test").await;
            eprintln!(
                "   Redis down {} ms; a new sign-in {} {} ms after it came back",
                (back - down).as_millis(),
                if signed_in.is_ok() { "worked" } else { "FAILED" },
                back.elapsed().as_millis()
            );
            signed_in?;
        }
        Fault::Broker => {
            let broker = broker.as_mut().ok_or("no broker")?;
            broker.kill();
            tokio::time::sleep(OUTAGE).await;
            broker.resume()?;
            eprintln!("   broker down {} ms, restarted on its own data", OUTAGE.as_millis());
        }
        Fault::Rolling => {
            for i in 0..2 {
                let stopping = Instant::now();
                let status = deployment.signal(i, "TERM")?;
                ensure(status.success(), || format!("instance {i} exited with {status} on SIGTERM"))?;
                let drained = stopping.elapsed();
                deployment.restart(i).await?;
                eprintln!(
                    "   instance {} drained in {} ms, back in {} ms",
                    i + 1,
                    drained.as_millis(),
                    stopping.elapsed().as_millis()
                );
            }
        }
    }
    let fault_ended = back_at.unwrap_or_else(|| started.elapsed());
    let seen = sale.await?;
    eprintln!("   clients: {}", seen.summary());
    eprintln!("   final answers per second: {}", seen.timeline());
    eprintln!(
        "   503s: {}; first final answer after the fault ended: {} ms",
        seen.unavailable_at.len(),
        seen.first_answer_after(fault_ended).map_or_else(|| "never".into(), |d| d.as_millis().to_string())
    );
    for probe in &probes {
        eprintln!("   during the outage: {probe}");
    }
    expectations(fault, &seen, &probes, fault_ended)?;
    promise(&deployment, &event_id, &seen).await?;
    // A broker restart costs the consumers a reconnection and the read models a backlog, read
    // from tansu, the test broker, which keeps a core busy throughout (its SQLite storage): 17-56 s
    // to catch up on a two-core machine. Allow that (the check fails, with the tables that differ,
    // if they never do); a production broker (Redpanda in docker-compose.yml) is not measured here.
    let catch_up = if fault == Fault::Broker { Duration::from_secs(120) } else { Duration::from_secs(30) };
    read_models_rebuild_equal(&deployment, postgres, catch_up).await?;
    drop(broker);
    deployment.stop();
    deployment.drop_databases().await?;
    Ok(())
}

/// What the clients may and may not have seen, by fault.
fn expectations(fault: Fault, seen: &Seen, probes: &[String], fault_ended: Duration) -> Result<(), BoxError> {
    ensure(seen.count("500") == 0, || format!("500 answers: {}", seen.count("500")))?;
    ensure(seen.gave_up == 0, || format!("{} requests never got an answer on any instance", seen.gave_up))?;
    ensure(!seen.wins.is_empty() && !seen.paid.is_empty(), || "nobody bought anything".into())?;
    let late = seen.first_answer_after(fault_ended);
    ensure(late.is_some_and(|d| d < Duration::from_secs(3)), || format!("no answer after the fault: {late:?}"))?;
    match fault {
        Fault::Postgres | Fault::Redis => {
            ensure(!seen.unavailable_at.is_empty(), || "the outage was never seen as a 503".into())?;
            ensure(probes.iter().all(|p| !p.contains("FAIL")), || format!("{probes:?}"))?;
        }
        Fault::Rolling | Fault::Broker => {
            ensure(seen.count("transport") == 0 || fault == Fault::Rolling, || "transport errors".into())?;
        }
        Fault::SigKill => {}
    }
    Ok(())
}

/// Signs `email` in through the magic link (the first mail to it in the outbox).
async fn sign_in_new(addr: SocketAddr, outbox: &std::path::Path, email: &str) -> Result<String, BoxError> {
    let mut conn = Conn::new(addr);
    let body = serde_json::json!({ "email": email });
    let sent = conn.post("/api/auth/magic-link/send", None, &body, &[]).await?;
    ensure(sent.status.as_u16() == 202, || format!("magic link: {}", sent.label()))?;
    let tokens = people::mailed_tokens(outbox, &[email.to_owned()], Duration::from_secs(10)).await?;
    let verified =
        conn.post("/api/auth/magic-link/verify", None, &serde_json::json!({ "token": tokens[email] }), &[]).await?;
    verified.json()["session_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("verify: {}", verified.label()).into())
}

/// During an outage, as a person would see it: the public catalogue and their own tickets.
async fn probe(addr: SocketAddr, token: &str, event_id: &str, redis: bool) -> String {
    let mut conn = Conn::new(addr);
    let started = Instant::now();
    let catalogue = conn.get(&format!("/api/events/{event_id}"), None).await;
    let catalogue_ms = started.elapsed().as_millis();
    let started = Instant::now();
    let mine = conn.get("/api/tickets", Some(token)).await;
    let mine_ms = started.elapsed().as_millis();
    let label = |a: &Result<client::Answer, BoxError>| {
        a.as_ref().map_or_else(|e| format!("transport error {e}"), client::Answer::label)
    };
    let (catalogue, mine) = (label(&catalogue), label(&mine));
    // A named 503, never a 500, and never the request deadline (10 s here): within a second and
    // a half for Redis (its connection times out after one), within the pool's 5 s wait for a
    // PostgreSQL connection.
    let limit = if redis { 1_500 } else { 6_000 };
    let ok = !mine.starts_with("500") && !catalogue.starts_with("500") && mine_ms < limit && catalogue_ms < limit;
    format!(
        "{}public event: {catalogue} in {catalogue_ms} ms; my tickets: {mine} in {mine_ms} ms",
        if ok { "" } else { "FAIL " }
    )
}

fn runtime(events_url: &str) -> Result<Runtime, BoxError> {
    let pool = ticketing::store::database::pool(events_url, 4)?;
    Ok(Runtime::new(
        EventStore::new(pool.clone()),
        Arc::new(SystemClock),
        Arc::new(SimulatedGateway::new(pool)),
        RuntimeConfig::default(),
    ))
}

/// The promise, against the event log and the gateway.
async fn promise(deployment: &server::Deployment, event_id: &str, seen: &Seen) -> Result<(), BoxError> {
    let events_url = deployment.events_url();
    let seats = checks::seats(&events_url, event_id, &seen.wins).await?;
    eprintln!("   seats: {}", seats.text());
    ensure(seats.violations.is_empty(), || "seats".into())?;
    // After the hold timer every reservation has ended and no seat is still held.
    let rt = runtime(&events_url)?;
    let deadline = Instant::now() + Duration::from_secs(HOLD_SECONDS + 30);
    loop {
        let mut open = 0;
        for win in &seen.wins {
            let reservation = rt.reservation(ReservationId::from_uuid(win.reservation_id)).await?;
            let ended = matches!(
                reservation.status,
                ReservationStatus::Completed | ReservationStatus::Expired | ReservationStatus::Cancelled
            );
            open += usize::from(!ended);
        }
        let inventory = rt.inventory(EventId::from_uuid(event_id.parse()?)).await?;
        let held: u32 = inventory.sections().map(|(_, s)| s.reserved()).sum();
        if open == 0 && held == 0 {
            eprintln!("   after the hold timer: every 201 ended, no seat held");
            break;
        }
        ensure(Instant::now() < deadline, || format!("{open} reservations not ended, {held} seats still held"))?;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let money = checks::money(&events_url, &seen.wins, &seen.paid).await?;
    eprintln!("   money: {}", money.text());
    ensure(money.violations.is_empty(), || "money".into())
}

/// Tables whose rows a rebuild must reproduce exactly.
const READ_MODELS: [&str; 9] = [
    "events_catalogue",
    "section_availability",
    "seat_status",
    "inventory_holds",
    "reservations",
    "tickets",
    "payments",
    "customer_lifetime_value",
    "sales_by_tier",
];

async fn read_models(url: &str) -> Result<Vec<String>, BoxError> {
    let pool = sqlx::PgPool::connect(url).await?;
    let mut rows = Vec::new();
    for table in READ_MODELS {
        let text: String = sqlx::query_scalar(&format!(
            "SELECT COALESCE(string_agg(to_jsonb(t)::text, E'\\n' ORDER BY to_jsonb(t)::text), '') FROM {table} t"
        ))
        .fetch_one(&pool)
        .await?;
        rows.push(format!("{table}:\n{text}"));
    }
    pool.close().await;
    Ok(rows)
}

/// `ticketing rebuild-projections` into fresh databases equals what the live consumers built.
async fn read_models_rebuild_equal(
    deployment: &server::Deployment,
    postgres: &OwnPostgres,
    wait: Duration,
) -> Result<(), BoxError> {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (projections, analytics) = (format!("rebuilt_projections_{suffix}"), format!("rebuilt_analytics_{suffix}"));
    let rebuilt = std::process::Command::new(env!("CARGO_BIN_EXE_ticketing"))
        .arg("rebuild-projections")
        .env("DATABASE_URL_EVENTS", deployment.url(0))
        .env("DATABASE_URL_PROJECTIONS", format!("{}/{projections}", postgres.url()))
        .env("DATABASE_URL_ANALYTICS", format!("{}/{analytics}", postgres.url()))
        .env("RUST_LOG", "error")
        .stderr(std::process::Stdio::null())
        .status()?;
    ensure(rebuilt.success(), || "rebuild-projections failed".into())?;
    let fresh = read_models(&format!("{}/{projections}", postgres.url())).await?;
    // The live consumers catch up within moments (after a broker restart, once their group has
    // rebalanced); wait for them, then they must be equal.
    let waiting = Instant::now();
    let deadline = waiting + wait;
    let verdict = loop {
        let live = read_models(&deployment.url(1)).await?;
        if live == fresh {
            eprintln!("   read models caught up {} ms after the rebuild finished", waiting.elapsed().as_millis());
            break Ok(());
        }
        if Instant::now() > deadline {
            let differing: Vec<String> = READ_MODELS
                .iter()
                .zip(live.iter().zip(&fresh))
                .filter(|(_, (a, b))| a != b)
                .map(|(t, (a, b))| {
                    format!("{t} ({} rows live, {} rebuilt)", a.lines().count() - 1, b.lines().count() - 1)
                })
                .collect();
            let events = sqlx::PgPool::connect(&deployment.url(0)).await?;
            let (relayed, total): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM events e, relay_checkpoints r
                          WHERE (e.transaction_id::text::bigint, e.position) <= (r.transaction_id, r.position)),
                        (SELECT count(*) FROM events)",
            )
            .fetch_one(&events)
            .await
            .unwrap_or((-1, -1));
            break Err(format!(
                "live read models differ from a rebuild in {differing:?}; the relay published {relayed} of {total} events"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let admin = sqlx::PgPool::connect(&format!("{}/postgres", postgres.url())).await?;
    for db in [projections, analytics] {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&admin).await?;
    }
    if verdict.is_ok() {
        eprintln!("   read models: a rebuild from the log equals the live ones ({} tables)", READ_MODELS.len());
    }
    verdict
}
