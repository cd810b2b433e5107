//! Live availability for WebSocket clients.
//!
//! The availability projector sends `NOTIFY availability_changed, '<event id>'` in the transaction
//! that changes the counts, so every instance hears of every change whichever instance projected
//! it. One listener task per instance collects the ids, and every 100 ms reads the counts of each
//! changed event that somebody is watching, once, and hands the same message to all of that event's
//! sockets: one query per event per tick however many thousands are watching, and at most one
//! message per 100 ms per socket. A lost listener connection marks every watched event changed, so
//! nothing is missed across a reconnect.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::projections::availability;

/// Changes to one event are sent at most this often.
pub const COALESCE: Duration = Duration::from_millis(100);

/// The live feeds of one instance. Cheap to clone.
#[derive(Clone)]
pub struct AvailabilityFeed {
    channels: Arc<Mutex<HashMap<Uuid, broadcast::Sender<Arc<str>>>>>,
    connections: Arc<AtomicUsize>,
    max_connections: usize,
    projections: PgPool,
    stopped: watch::Receiver<bool>,
}

impl std::fmt::Debug for AvailabilityFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvailabilityFeed")
            .field("connections", &self.connections.load(Ordering::Relaxed))
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

/// A connection counted against `WS_MAX_CONNECTIONS`; released when dropped.
#[derive(Debug)]
pub struct Slot(Arc<AtomicUsize>);

fn set_connections_gauge(count: usize) {
    metrics::gauge!("websocket_connections").set(u32::try_from(count).map_or(f64::from(u32::MAX), f64::from));
}

impl Drop for Slot {
    fn drop(&mut self) {
        let now = self.0.fetch_sub(1, Ordering::AcqRel) - 1;
        set_connections_gauge(now);
    }
}

impl AvailabilityFeed {
    pub fn new(projections: PgPool, max_connections: usize, stopped: watch::Receiver<bool>) -> Self {
        Self { channels: Arc::default(), connections: Arc::default(), max_connections, projections, stopped }
    }

    /// A place for one more socket, or `None` at the limit.
    pub fn acquire(&self) -> Option<Slot> {
        let before = self.connections.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(self.connections.clone());
        if before >= self.max_connections {
            return None; // dropping the slot gives the count back
        }
        set_connections_gauge(before + 1);
        Some(slot)
    }

    /// Messages for `event_id` from now on.
    pub fn subscribe(&self, event_id: Uuid) -> broadcast::Receiver<Arc<str>> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        channels.entry(event_id).or_insert_with(|| broadcast::channel(16).0).subscribe()
    }

    /// Fires when the instance shuts down.
    pub fn stopped(&self) -> watch::Receiver<bool> {
        self.stopped.clone()
    }

    /// The message a socket gets: current counts of every section.
    ///
    /// # Errors
    /// The projections database.
    pub async fn snapshot(&self, event_id: Uuid) -> Result<String, sqlx::Error> {
        let sections = availability::sections_by_name(&self.projections, event_id).await?;
        Ok(serde_json::json!({
            "type": "availability",
            "event_id": event_id,
            "sections": sections,
            "timestamp": chrono::Utc::now(),
        })
        .to_string())
    }

    /// Events somebody is watching; forgets the ones nobody watches any more.
    fn watched(&self) -> HashSet<Uuid> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        channels.retain(|_, sender| sender.receiver_count() > 0);
        channels.keys().copied().collect()
    }

    fn publish(&self, event_id: Uuid, message: Arc<str>) {
        let channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = channels.get(&event_id) {
            let _ = sender.send(message);
        }
    }

    /// The listener task: until the instance stops.
    pub fn spawn(&self) -> JoinHandle<()> {
        let feed = self.clone();
        tokio::spawn(async move { feed.run().await })
    }

    async fn run(self) {
        let mut stopped = self.stopped.clone();
        let mut changed: HashSet<Uuid> = HashSet::new();
        let mut listener: Option<PgListener> = None;
        let mut tick = tokio::time::interval(COALESCE);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if listener.is_none() {
                listener = self.listen().await;
                // Whatever happened while we were not listening: everyone gets fresh counts.
                changed.extend(self.watched());
            }
            let Some(active) = listener.as_mut() else {
                tokio::select! {
                    _ = stopped.changed() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            };
            tokio::select! {
                _ = stopped.changed() => return,
                notification = active.try_recv() => match notification {
                    Ok(Some(n)) => changed.extend(n.payload().parse::<Uuid>().ok()),
                    // The connection was lost and re-established: notifications in between are gone.
                    Ok(None) => changed.extend(self.watched()),
                    Err(error) => {
                        tracing::warn!(%error, "availability listener failed; reconnecting");
                        listener = None;
                    }
                },
                _ = tick.tick() => {
                    if changed.is_empty() {
                        continue;
                    }
                    let watched = self.watched();
                    let mut failed = Vec::new();
                    for event_id in changed.drain().filter(|id| watched.contains(id)) {
                        match self.snapshot(event_id).await {
                            Ok(message) => self.publish(event_id, message.into()),
                            Err(error) => {
                                tracing::warn!(%error, %event_id, "availability snapshot failed; retrying");
                                failed.push(event_id);
                            }
                        }
                    }
                    changed.extend(failed);
                }
            }
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = match PgListener::connect_with(&self.projections).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for availability changes");
                return None;
            }
        };
        match listener.listen(availability::CHANGED_CHANNEL).await {
            Ok(()) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for availability changes");
                None
            }
        }
    }
}
