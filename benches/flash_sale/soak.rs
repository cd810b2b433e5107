//! The soak: mixed traffic for `SOAK_MINUTES` (default 10): each minute a crowd of buyers
//! browses, holds, pays, cancels and walks away on a fresh event, while WebSocket clients keep
//! the live availability feed of every event open. Per minute: the server's resident memory and
//! open files, and the p99 of every step; a leak shows as a climb from the first minute to the
//! last.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;

use crate::client::{BoxError, Tally};
use crate::crowd;
use crate::people::{Organiser, general};

/// One minute of the soak.
#[derive(Debug)]
pub struct Minute {
    pub rss_kib: u64,
    pub fds: usize,
    pub requests: u64,
    pub p99_ms: f64,
    pub failures: u64,
    /// Stream writers (each with its aggregate's state) alive in the server at the minute's end.
    pub writers: Option<f64>,
}

/// Opens one availability socket on `event_id` for each of `buyers` (each from its own
/// address, as per-user and per-address caps apply), each open once its first snapshot came
/// (an error if one does not within 10 s); counts the messages they get.
pub async fn sockets(
    addr: SocketAddr,
    event_id: &str,
    tokens: &[String],
    buyers: std::ops::Range<usize>,
    messages: Arc<AtomicU64>,
) -> Result<(), BoxError> {
    let url = format!("ws://{addr}/ws/events/{event_id}/availability");
    for buyer in buyers {
        let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url.as_str())?;
        let token = &tokens[buyer % tokens.len()];
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
        request.headers_mut().insert("x-forwarded-for", crate::people::address_of(buyer).parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Ok(Some(Ok(_))) => messages.fetch_add(1, Ordering::Relaxed),
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(None) => return Err(format!("socket {buyer} closed before its first snapshot").into()),
            Err(_) => return Err(format!("socket {buyer} got no snapshot within 10 s").into()),
        };
        let messages = messages.clone();
        tokio::spawn(async move {
            while let Some(Ok(_)) = socket.next().await {
                messages.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    Ok(())
}

pub async fn soak(
    addr: SocketAddr,
    organiser: &mut Organiser,
    tokens: Arc<Vec<String>>,
    metrics: SocketAddr,
    minutes: u32,
    footprint: impl Fn() -> (u64, usize) + Send + Sync + Clone + 'static,
) -> Result<(Vec<Minute>, u64), BoxError> {
    let messages = Arc::new(AtomicU64::new(0));
    let mut report = Vec::new();
    for minute in 0..minutes {
        let event_id = organiser.event_on_sale(&format!("Soak minute {}", minute + 1), general("Floor", 2_000)).await?;
        // Each minute's event gets its own watchers, who stay to the end (sockets accumulate).
        let first = minute as usize * 50;
        sockets(addr, &event_id, &tokens, first..first + 50, messages.clone()).await?;
        let run = crowd::crowd(addr, tokens.clone(), &event_id, "Floor", 60, footprint.clone()).await;
        let mut all = Tally::default();
        for tally in run.steps.into_values() {
            all.merge(tally);
        }
        all.merge(run.holds.tally);
        let (rss_kib, fds) = footprint();
        let writers = crate::server::Instance::gauge(metrics, "stream_writers_live").await;
        let p99_ms = all.percentiles().p99.as_secs_f64() * 1000.0;
        report.push(Minute { rss_kib, fds, requests: all.total(), p99_ms, failures: all.failures(), writers });
        eprintln!(
            "soak minute {}: {} requests, p99 {p99_ms:.0} ms, {} failed; server {} MiB resident, {} open files, {writers:?} stream writers",
            minute + 1,
            all.total(),
            all.failures(),
            rss_kib / 1024,
            fds
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((report, messages.load(Ordering::Relaxed)))
}
