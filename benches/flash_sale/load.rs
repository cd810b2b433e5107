//! The load shapes: closed loop (C connections, each sends as soon as answered), open loop (a fixed
//! arrival rate, latency from the scheduled send so a stall is not hidden), a burst at a single
//! instant, and plain reads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};
use uuid::Uuid;

use crate::client::{Conn, Tally};

/// What a hold run saw: every answer, and the holds it won (reservation id, seat ids).
#[derive(Debug, Default)]
pub struct HoldRun {
    pub tally: Tally,
    pub elapsed: Duration,
    pub wins: Vec<Win>,
}

#[derive(Debug, Clone)]
pub struct Win {
    pub reservation_id: Uuid,
    pub seat_ids: Vec<Uuid>,
}

impl HoldRun {
    pub fn holds_per_second(&self) -> f64 {
        self.tally.count("201") as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// What one hold request asks for.
#[derive(Debug, Clone)]
pub struct HoldRequest {
    pub event_id: String,
    pub section: String,
    pub quantity: u8,
    pub seats: Option<Vec<String>>,
}

impl HoldRequest {
    fn body(&self) -> Value {
        let mut body = json!({ "event_id": self.event_id, "section": self.section, "quantity": self.quantity });
        if let Some(seats) = &self.seats {
            body["specific_seats"] = json!(seats);
        }
        body
    }
}

/// `POST /api/reservations` as the web app sends it (with an `Idempotency-Key`); tallies it and
/// keeps a 201's seats.
pub async fn hold(conn: &mut Conn, token: &str, request: &HoldRequest, since: Instant, run: &mut HoldRun) -> String {
    let key = Uuid::new_v4().to_string();
    let result = conn.post("/api/reservations", Some(token), &request.body(), &[("idempotency-key", &key)]).await;
    let latency = since.elapsed();
    match result {
        Ok(answer) => {
            if answer.status.as_u16() == 201 {
                let body = answer.json();
                if let Some(win) = win_of(&body) {
                    run.wins.push(win);
                }
            }
            let label = answer.label();
            run.tally.record(latency, label.clone());
            label
        }
        Err(e) => {
            let label = format!("transport error: {e}");
            run.tally.record(latency, label.clone());
            label
        }
    }
}

pub fn win_of(body: &Value) -> Option<Win> {
    let reservation_id = body["reservation_id"].as_str()?.parse().ok()?;
    let seat_ids = body["seats"].as_array()?.iter().filter_map(|s| s["seat_id"].as_str()?.parse().ok()).collect();
    Some(Win { reservation_id, seat_ids })
}

/// The buyer for the `i`-th request: round robin over the signed-in ones.
const fn buyer_for(i: usize, buyers: usize) -> usize {
    i % buyers
}

/// `connections` buyers' connections (spread over `addrs`), each holding as fast as answered,
/// until `holds` requests have been sent.
pub async fn closed_loop(
    addrs: &[SocketAddr],
    tokens: Arc<Vec<String>>,
    request: HoldRequest,
    connections: usize,
    holds: usize,
) -> HoldRun {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (next, tokens, request) = (next.clone(), tokens.clone(), request.clone());
        let addr = addrs[c % addrs.len()];
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut run = HoldRun::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= holds {
                    return run;
                }
                let buyer = buyer_for(i, tokens.len());
                hold(&mut conn, &tokens[buyer], &request, Instant::now(), &mut run).await;
            }
        }));
    }
    let mut all = HoldRun::default();
    for task in tasks {
        if let Ok(run) = task.await {
            all.tally.merge(run.tally);
            all.wins.extend(run.wins);
        }
    }
    all.elapsed = started.elapsed();
    all
}

/// Requests sent on schedule at `rate` per second for `seconds`, whatever the answers, over at
/// most `max_connections` connections; each latency counts from the scheduled send time.
pub async fn open_loop(
    addrs: &[SocketAddr],
    tokens: Arc<Vec<String>>,
    request: HoldRequest,
    rate: u32,
    seconds: u32,
    max_connections: usize,
) -> HoldRun {
    let total = rate as usize * seconds as usize;
    let idle: Arc<Mutex<Vec<Conn>>> = Arc::new(Mutex::new(Vec::new()));
    let permits = Arc::new(Semaphore::new(max_connections));
    let interval = Duration::from_secs(1) / rate;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let scheduled = started + interval * u32::try_from(i).unwrap_or(u32::MAX);
        tokio::time::sleep_until(scheduled.into()).await;
        let (idle, permits, tokens, request) = (idle.clone(), permits.clone(), tokens.clone(), request.clone());
        let addr = addrs[i % addrs.len()];
        tasks.push(tokio::spawn(async move {
            let mut run = HoldRun::default();
            let Ok(_permit) = permits.acquire().await else { return run };
            let reused = {
                let mut idle = idle.lock().await;
                let at = idle.iter().position(|c| c.addr() == addr);
                at.map(|at| idle.swap_remove(at))
            };
            let mut conn = reused.unwrap_or_else(|| Conn::new(addr));
            let buyer = buyer_for(i, tokens.len());
            hold(&mut conn, &tokens[buyer], &request, scheduled, &mut run).await;
            idle.lock().await.push(conn);
            run
        }));
    }
    let mut all = HoldRun::default();
    for task in tasks {
        if let Ok(run) = task.await {
            all.tally.merge(run.tally);
            all.wins.extend(run.wins);
        }
    }
    all.elapsed = started.elapsed();
    all
}

/// Every buyer on its own open connection, all sending at the same instant.
pub async fn burst(addr: SocketAddr, tokens: Arc<Vec<String>>, requests: Vec<HoldRequest>) -> HoldRun {
    let count = requests.len();
    let start = Arc::new(tokio::sync::Barrier::new(count + 1));
    let mut tasks = Vec::new();
    for (buyer, request) in requests.into_iter().enumerate() {
        let (start, tokens) = (start.clone(), tokens.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let connected = conn.connect().await;
            start.wait().await;
            let mut run = HoldRun::default();
            if let Err(e) = connected {
                run.tally.record(Duration::ZERO, format!("transport error: {e}"));
                return (run, Instant::now());
            }
            let since = Instant::now();
            hold(&mut conn, &tokens[buyer], &request, since, &mut run).await;
            (run, Instant::now())
        }));
    }
    start.wait().await;
    let fired = Instant::now();
    let mut all = HoldRun::default();
    let mut last = fired;
    for task in tasks {
        if let Ok((run, done)) = task.await {
            last = last.max(done);
            all.tally.merge(run.tally);
            all.wins.extend(run.wins);
        }
    }
    all.elapsed = last - fired;
    all
}

/// `GET path` on `connections` connections for `seconds`: requests per second and latencies.
pub async fn reads(addr: SocketAddr, path: &str, connections: usize, seconds: u64) -> (f64, Tally) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let path = path.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let since = Instant::now();
                match conn.get(&path, None).await {
                    Ok(answer) => tally.record(since.elapsed(), answer.label()),
                    Err(e) => tally.record(since.elapsed(), format!("transport error: {e}")),
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        if let Ok(tally) = task.await {
            all.merge(tally);
        }
    }
    let rate = all.total() as f64 / started.elapsed().as_secs_f64();
    (rate, all)
}
