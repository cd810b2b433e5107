//! The on-sale the faults hit: buyers hold seats through either instance (each buyer is its own
//! load balancer: a transport error or a 503 sends the same request, with the same
//! `Idempotency-Key`, to the other instance), then pay, cancel or walk away.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::client::{Answer, BoxError, Conn};
use crate::load::{Win, win_of};

/// Everything the clients saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Answers by label (`201`, `503 DEPENDENCY_UNAVAILABLE`, `transport error`), counted.
    pub answers: BTreeMap<String, u64>,
    pub wins: Vec<Win>,
    /// Reservations whose payment was answered 200.
    pub paid: Vec<Uuid>,
    /// Requests that never got a final answer before the sale ended (gave up retrying).
    pub gave_up: u64,
    /// When (since the sale began) each final answer (not a 503, not a transport error)
    /// arrived: recovery is read off these.
    pub answered_at: Vec<Duration>,
    /// When each 503 arrived.
    pub unavailable_at: Vec<Duration>,
}

impl Seen {
    pub fn count(&self, prefix: &str) -> u64 {
        self.answers.iter().filter(|(label, _)| label.starts_with(prefix)).map(|(_, n)| n).sum()
    }

    pub fn requests(&self) -> u64 {
        self.answers.values().sum()
    }

    /// The first final answer after `at`: how long the clients waited for the service.
    pub fn first_answer_after(&self, at: Duration) -> Option<Duration> {
        self.answered_at.iter().filter(|t| **t >= at).min().map(|t| t.saturating_sub(at))
    }

    /// Final answers in each second of the sale: where the service stalled.
    pub fn timeline(&self) -> String {
        let second = |t: &Duration| usize::try_from(t.as_secs()).unwrap_or(usize::MAX);
        let mut seconds = vec![0u32; 1 + self.answered_at.iter().map(second).max().unwrap_or(0)];
        for t in &self.answered_at {
            seconds[second(t)] += 1;
        }
        seconds.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
    }

    pub fn summary(&self) -> String {
        let answers: Vec<String> = self.answers.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
        format!(
            "{} requests, {} holds won, {} paid, {} gave up; answers: {}",
            self.requests(),
            self.wins.len(),
            self.paid.len(),
            self.gave_up,
            answers.join(", ")
        )
    }
}

/// What a buyer asks for.
#[derive(Debug, Clone)]
pub struct Ask {
    pub event_id: String,
    pub section: String,
}

struct Buyer {
    conns: Vec<Conn>,
    token: String,
    /// The buyer's own address, as the load balancer would report it (`X-Forwarded-For`): the
    /// per-address limits apply per buyer, as in a real on-sale.
    address: String,
    started: Instant,
    seen: Arc<Mutex<Seen>>,
}

impl Buyer {
    /// Sends one logical request until it gets a final answer (not a 503, not a transport
    /// error), alternating instances, with the same idempotency key; `None` if the sale ended.
    async fn send(&mut self, first: usize, path: &str, body: &Value, until: Instant) -> Option<Answer> {
        let key = Uuid::new_v4().to_string();
        let mut attempt = first;
        loop {
            let n = self.conns.len();
            let conn = &mut self.conns[attempt % n];
            let headers = [("idempotency-key", key.as_str()), ("x-forwarded-for", self.address.as_str())];
            let result = conn.post(path, Some(&self.token), body, &headers).await;
            let at = self.started.elapsed();
            let label = match &result {
                Ok(answer) => answer.label(),
                Err(_) => "transport error".to_owned(),
            };
            let retry = match &result {
                Ok(answer) => {
                    answer.status.as_u16() == 503 || answer.status.as_u16() == 409 && label.contains("IN_FLIGHT")
                }
                Err(_) => true,
            };
            if let Ok(mut seen) = self.seen.lock() {
                *seen.answers.entry(label).or_default() += 1;
                match &result {
                    Ok(answer) if answer.status.as_u16() == 503 => seen.unavailable_at.push(at),
                    Ok(_) => seen.answered_at.push(at),
                    Err(_) => {}
                }
            }
            if !retry {
                return result.ok();
            }
            if Instant::now() > until {
                if let Ok(mut seen) = self.seen.lock() {
                    seen.gave_up += 1;
                }
                return None;
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Runs the sale for `length`: every buyer holds one seat, then pays (most), cancels (some) or
/// walks away (the hold expires), and tries again, until the time is up. Requests already sent
/// are retried until `length + grace`.
pub async fn run(
    addrs: &[SocketAddr],
    tokens: &[String],
    ask: &Ask,
    started: Instant,
    length: Duration,
    grace: Duration,
) -> Seen {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (end, until) = (started + length, started + length + grace);
    let mut tasks = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let mut buyer = Buyer {
            conns: addrs.iter().map(|a| Conn::new(*a)).collect(),
            token: token.clone(),
            address: crate::people::address_of(i),
            started,
            seen: seen.clone(),
        };
        let ask = ask.clone();
        tasks.push(tokio::spawn(async move {
            let mut round = 0usize;
            while Instant::now() < end {
                round += 1;
                let first = i + round;
                let body = json!({ "event_id": ask.event_id, "section": ask.section, "quantity": 1 });
                let Some(held) = buyer.send(first, "/api/reservations", &body, until).await else { break };
                let Some(win) = (held.status.as_u16() == 201).then(|| win_of(&held.json())).flatten() else {
                    // Sold out or refused: look again a little later, as a person would.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                let reservation = win.reservation_id;
                if let Ok(mut s) = buyer.seen.lock() {
                    s.wins.push(win);
                }
                match (i + round) % 5 {
                    // Walks away: the hold must expire on its timer.
                    0 => {}
                    1 => {
                        let path = format!("/api/reservations/{reservation}/cancel");
                        buyer.send(first, &path, &json!({}), until).await;
                    }
                    _ => {
                        let path = format!("/api/reservations/{reservation}/payment");
                        let card = json!({ "payment_method": { "type": "card", "card_number": "4242424242424242",
                            "expiry": "12/30", "cvc": "123" } });
                        if let Some(answer) = buyer.send(first, &path, &card, until).await
                            && answer.status.as_u16() == 200
                            && let Ok(mut s) = buyer.seen.lock()
                        {
                            s.paid.push(reservation);
                        }
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    Arc::try_unwrap(seen).map_or_else(|_| Seen::default(), |m| m.into_inner().unwrap_or_default())
}

/// `GET path` on `addr` until it answers 2xx; how long that took.
pub async fn until_ok(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    limit: Duration,
) -> Result<Duration, BoxError> {
    let started = Instant::now();
    let mut conn = Conn::new(addr);
    loop {
        if let Ok(answer) = conn.get(path, token).await
            && answer.status.is_success()
        {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            return Err(format!("{addr}{path} not answering 2xx after {limit:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
