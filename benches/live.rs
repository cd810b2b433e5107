//! Live availability fan-out: `SOCKETS` WebSocket clients watch one event while reservations
//! arrive at `RATE` per second for `SECONDS`. Reports messages per socket, how many snapshots
//! the instance computed (one query each), and the delay from a reservation's answer to the
//! first message that shows it, per socket (p50/p99/max).
//!
//! `scripts/bench-live.sh` runs it against the local PostgreSQL and Redis; it serves the real
//! application on a free port with throwaway databases.

// Rates and percentiles are reported as floating-point numbers.
#![allow(clippy::cast_precision_loss)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Setup {
    base: String,
    event_id: String,
    buyer_token: String,
    server: String,
    databases: Vec<String>,
}

/// The application on a free port with throwaway databases, an admin and a buyer session, and an
/// event on sale with one 100,000-place section.
async fn setup(sockets: u64) -> Result<Setup, Box<dyn std::error::Error>> {
    let server = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let suffix = Uuid::new_v4().simple().to_string();
    let databases: Vec<String> = ["events", "projections", "analytics", "auth"]
        .iter()
        .map(|k| format!("ticketing_bench_{k}_{suffix}"))
        .collect();
    let mut config = ticketing::config::Config::from_env()?;
    config.http_addr = "127.0.0.1:0".into();
    config.database_url_events = format!("{server}/{}", databases[0]);
    config.database_url_projections = format!("{server}/{}", databases[1]);
    config.database_url_analytics = format!("{server}/{}", databases[2]);
    config.database_url_auth = format!("{server}/{}", databases[3]);
    config.redis_prefix = format!("ticketing_bench_{suffix}:");
    config.kafka_brokers = None;
    config.ws_max_connections = usize::try_from(sockets)? + 10;
    // Every socket here is one user on one address: lift the per-user and per-address caps.
    config.ws_max_per_user = config.ws_max_connections;
    config.ws_max_per_ip = config.ws_max_connections;
    config.metrics_addr = "127.0.0.1:0".into();
    let app = ticketing::app::Application::build(config).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());

    let now = chrono::Utc::now();
    let admin = state.auth.user_for_email("bench-admin@example.com", true).await?;
    let (admin_token, _) = state.auth.start_session(&admin, now).await?;
    let buyer = state.auth.user_for_email("bench-buyer@example.com", false).await?;
    let (buyer_token, _) = state.auth.start_session(&buyer, now).await?;
    let http = reqwest::Client::new();
    let body = json!({
        "name": "Fan-out", "date": (now + chrono::Duration::days(60)).to_rfc3339(), "venue": { "name": "Arena" },
        "sections": [{ "name": "Floor", "capacity": 100_000, "seating": "general", "base_price_cents": 5_000 }]
    });
    let event: Value =
        http.post(format!("{base}/api/events")).bearer_auth(&admin_token).json(&body).send().await?.json().await?;
    let event_id = event["event_id"].as_str().ok_or("no event id")?.to_owned();
    for step in ["publish", "sales/open"] {
        http.post(format!("{base}/api/events/{event_id}/{step}")).bearer_auth(&admin_token).send().await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // read models catch up
    Ok(Setup { base, event_id, buyer_token, server, databases })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (sockets, rate, seconds) = (env_or("SOCKETS", 2_000), env_or("RATE", 50), env_or("SECONDS", 10));
    let Setup { base, event_id, buyer_token, server, databases } = setup(sockets).await?;
    let http = reqwest::Client::new();

    // When the k-th reservation's answer came back (reserved = k afterwards).
    let answered: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let delays: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let messages = Arc::new(AtomicU64::new(0));
    let ws = format!("{}/ws/events/{event_id}/availability", base.replacen("http", "ws", 1));
    let mut clients = Vec::new();
    let connect_started = Instant::now();
    for _ in 0..sockets {
        let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws.as_str())?;
        request.headers_mut().insert("authorization", format!("Bearer {buyer_token}").parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
        let (answered, delays, messages) = (answered.clone(), delays.clone(), messages.clone());
        clients.push(tokio::spawn(async move {
            let mut seen = 0usize;
            while let Some(Ok(message)) = socket.next().await {
                let Message::Text(text) = message else { continue };
                let Ok(value) = serde_json::from_str::<Value>(&text) else { continue };
                if value["type"] != "availability" {
                    continue;
                }
                messages.fetch_add(1, Ordering::Relaxed);
                let reserved =
                    usize::try_from(value["sections"]["Floor"]["reserved"].as_u64().unwrap_or(0)).unwrap_or(0);
                let arrived = Instant::now();
                let answered = answered.lock().await;
                let mut delays = delays.lock().await;
                // Every reservation this message is the first to show.
                for k in seen..reserved.min(answered.len()) {
                    delays.push(arrived.saturating_duration_since(answered[k]));
                }
                seen = seen.max(reserved.min(answered.len()));
            }
        }));
    }
    println!("{sockets} sockets connected in {:.2} s", connect_started.elapsed().as_secs_f64());
    let initial = messages.load(Ordering::Relaxed);

    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    for _ in 0..total {
        ticker.tick().await;
        let response = http
            .post(format!("{base}/api/reservations"))
            .bearer_auth(&buyer_token)
            .json(&json!({ "event_id": event_id, "section": "Floor", "quantity": 1 }))
            .send()
            .await?;
        if response.status().is_success() {
            answered.lock().await.push(Instant::now());
        }
    }
    let sending = started.elapsed().as_secs_f64();
    println!("reservations sent at {:.1}/s achieved (the same cores also run the clients)", total as f64 / sending);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let sent = messages.load(Ordering::Relaxed) - initial;
    let mut delays = delays.lock().await.clone();
    delays.sort();
    let pick =
        |per_mille: usize| delays.get(delays.len().saturating_sub(1) * per_mille / 1000).copied().unwrap_or_default();
    println!(
        "{total} reservations at {rate}/s; {sent} update messages delivered = {:.1} per socket ({:.1}/s per socket; \
         at most 10/s by design); snapshots computed (one query each) ≈ {:.0}",
        sent as f64 / sockets as f64,
        sent as f64 / sockets as f64 / elapsed,
        sent as f64 / sockets as f64
    );
    println!(
        "reservation answered → first message showing it, over {} (socket, reservation) pairs: p50 {} ms, p99 {} ms, max {} ms",
        delays.len(),
        pick(500).as_millis(),
        pick(990).as_millis(),
        delays.last().copied().unwrap_or_default().as_millis()
    );
    for client in clients {
        client.abort();
    }
    let admin_url = format!("{server}/postgres");
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await?;
    for name in &databases {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut connection).await?;
    }
    Ok(())
}
