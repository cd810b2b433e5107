//! The seeds' flash sale: thousands of buyers, each on a connection held open from the start,
//! arriving over the first seconds and behaving as people do: look at what is left, think, hold,
//! think, then pay (sometimes with a card that is declined), cancel, or walk away from the hold.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use uuid::Uuid;

use crate::client::{Conn, Tally};
use crate::load::{HoldRequest, HoldRun, hold};

/// A small deterministic generator (splitmix64): each buyer's choices are reproducible.
#[derive(Debug)]
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to - from))
    }
}

#[derive(Debug, Default)]
pub struct CrowdRun {
    /// Per step: browse, hold, pay, cancel.
    pub steps: BTreeMap<&'static str, Tally>,
    pub holds: HoldRun,
    /// Reservations whose payment was answered 200.
    pub paid: Vec<Uuid>,
    pub connected: usize,
    pub peak_rss_kib: u64,
    pub peak_fds: usize,
}

struct Buyer {
    steps: BTreeMap<&'static str, Tally>,
    holds: HoldRun,
    paid: Vec<Uuid>,
}

const CARD_OK: &str = "4242424242424242";
const CARD_DECLINED: &str = "4000000000000002";

async fn step(
    conn: &mut Conn,
    steps: &mut BTreeMap<&'static str, Tally>,
    name: &'static str,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> u16 {
    let since = Instant::now();
    let result = match body {
        Some(body) => conn.post(path, Some(token), &body, &[("idempotency-key", &Uuid::new_v4().to_string())]).await,
        None => conn.get(path, Some(token)).await,
    };
    let tally = steps.entry(name).or_default();
    match result {
        Ok(answer) => {
            tally.record(since.elapsed(), answer.label());
            answer.status.as_u16()
        }
        Err(e) => {
            tally.record(since.elapsed(), format!("transport error: {e}"));
            0
        }
    }
}

#[allow(clippy::too_many_lines)]
async fn shop(
    mut conn: Conn,
    token: String,
    index: usize,
    event_id: String,
    section: String,
    t0: Instant,
    end: Instant,
) -> Buyer {
    let mut dice = Dice(index as u64);
    let mut me = Buyer { steps: BTreeMap::new(), holds: HoldRun::default(), paid: Vec::new() };
    tokio::time::sleep_until((t0 + dice.millis(0, 10_000)).into()).await;
    let think = |d: Duration| tokio::time::sleep(d);
    loop {
        if Instant::now() >= end {
            break;
        }
        let path = format!("/api/events/{event_id}/availability");
        step(&mut conn, &mut me.steps, "browse", &path, &token, None).await;
        think(dice.millis(500, 2_000)).await;
        if Instant::now() >= end {
            break;
        }
        let quantity = u8::try_from(1 + dice.below(3)).unwrap_or(1);
        let request = HoldRequest { event_id: event_id.clone(), section: section.clone(), quantity, seats: None };
        let wins_before = me.holds.wins.len();
        let last = hold(&mut conn, &token, &request, Instant::now(), &mut me.holds).await;
        let held = me.holds.wins.get(wins_before).map(|w| w.reservation_id);
        match held {
            Some(reservation_id) => {
                think(dice.millis(1_000, 4_000)).await;
                let roll = dice.below(100);
                if roll < 60 {
                    let card = if dice.below(20) == 0 { CARD_DECLINED } else { CARD_OK };
                    let body = json!({ "payment_method": { "type": "card", "card_number": card, "expiry": "12/30", "cvc": "123" } });
                    let path = format!("/api/reservations/{reservation_id}/payment");
                    if step(&mut conn, &mut me.steps, "pay", &path, &token, Some(body)).await == 200 {
                        me.paid.push(reservation_id);
                    }
                } else if roll < 85 {
                    let path = format!("/api/reservations/{reservation_id}/cancel");
                    step(&mut conn, &mut me.steps, "cancel", &path, &token, Some(json!({}))).await;
                } else {
                    break; // walks away; the hold expires on its own
                }
            }
            None if last.contains("INSUFFICIENT_INVENTORY") => break, // sold out: goes home
            None => {}
        }
        // Some come back for more.
        if dice.below(3) != 0 {
            break;
        }
        think(dice.millis(2_000, 6_000)).await;
    }
    // The page stays open until the end of the sale (the connection too).
    tokio::time::sleep_until(end.into()).await;
    drop(conn);
    me
}

/// `buyers` people on `addr` for `seconds`; samples the server's memory and descriptors.
pub async fn crowd(
    addr: SocketAddr,
    tokens: Arc<Vec<String>>,
    event_id: &str,
    section: &str,
    seconds: u64,
    footprint: impl Fn() -> (u64, usize) + Send + 'static,
) -> CrowdRun {
    let buyers = tokens.len();
    // Connections first: everyone has the page open before the sale starts.
    let mut conns = Vec::with_capacity(buyers);
    let mut connected = 0;
    for _ in 0..buyers {
        let mut conn = Conn::new(addr);
        if conn.connect().await.is_ok() {
            connected += 1;
        }
        conns.push(conn);
    }
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(seconds);
    let sampler = tokio::spawn(async move {
        let (mut rss, mut fds) = (0, 0);
        while Instant::now() < end {
            let (r, f) = footprint();
            rss = rss.max(r);
            fds = fds.max(f);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        (rss, fds)
    });
    let mut tasks = Vec::with_capacity(buyers);
    for (index, conn) in conns.into_iter().enumerate() {
        let token = tokens[index].clone();
        tasks.push(tokio::spawn(shop(conn, token, index, event_id.to_owned(), section.to_owned(), t0, end)));
    }
    let mut run = CrowdRun { connected, ..CrowdRun::default() };
    for task in tasks {
        if let Ok(buyer) = task.await {
            for (name, tally) in buyer.steps {
                run.steps.entry(name).or_default().merge(tally);
            }
            run.holds.tally.merge(buyer.holds.tally);
            run.holds.wins.extend(buyer.holds.wins);
            run.paid.extend(buyer.paid);
        }
    }
    run.holds.elapsed = t0.elapsed();
    if let Ok((rss, fds)) = sampler.await {
        run.peak_rss_kib = rss;
        run.peak_fds = fds;
    }
    run
}
