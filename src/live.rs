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
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::projections::availability;

pub mod read_cache;
use read_cache::ReadCache;

/// Changes to one event are sent at most this often.
pub const COALESCE: Duration = Duration::from_millis(100);

/// How many sockets may be open on one instance: in all, per user, per client address.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub total: usize,
    pub per_user: usize,
    pub per_address: usize,
}

/// Open sockets, counted by who holds them.
#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_user: HashMap<Uuid, usize>,
    per_address: HashMap<String, usize>,
}

/// The live feeds of one instance. Cheap to clone.
#[derive(Clone)]
pub struct AvailabilityFeed {
    channels: Arc<Mutex<HashMap<Uuid, broadcast::Sender<Arc<str>>>>>,
    counts: Arc<Mutex<Counts>>,
    limits: Limits,
    projections: PgPool,
    stopped: watch::Receiver<bool>,
    cache: ReadCache,
}

impl std::fmt::Debug for AvailabilityFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvailabilityFeed")
            .field("connections", &self.counts.lock().unwrap_or_else(PoisonError::into_inner).total)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Which limit a refused socket ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Instance,
    User,
    Address,
}

/// One open socket, counted against the limits; released when dropped.
#[derive(Debug)]
pub struct Slot {
    counts: Arc<Mutex<Counts>>,
    user: Uuid,
    address: String,
}

fn set_connections_gauge(count: usize) {
    metrics::gauge!("websocket_connections").set(u32::try_from(count).map_or(f64::from(u32::MAX), f64::from));
}

fn release<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total -= 1;
        release(&mut counts.per_user, &self.user);
        release(&mut counts.per_address, &self.address);
        set_connections_gauge(counts.total);
    }
}

impl AvailabilityFeed {
    pub fn new(projections: PgPool, limits: Limits, stopped: watch::Receiver<bool>) -> Self {
        Self {
            channels: Arc::default(),
            counts: Arc::default(),
            limits,
            projections,
            stopped,
            cache: ReadCache::default(),
        }
    }

    /// Availability answers in memory, kept current by this feed's notifications.
    pub const fn cache(&self) -> &ReadCache {
        &self.cache
    }

    /// A place for one more socket of `user` from `address` (a rate-limit bucket), or the limit
    /// it would break.
    ///
    /// # Errors
    /// The instance, the user or the address has as many sockets as it may.
    pub fn acquire(&self, user: Uuid, address: String) -> Result<Slot, Full> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= self.limits.total {
            return Err(Full::Instance);
        }
        if counts.per_user.get(&user).copied().unwrap_or(0) >= self.limits.per_user {
            return Err(Full::User);
        }
        if counts.per_address.get(&address).copied().unwrap_or(0) >= self.limits.per_address {
            return Err(Full::Address);
        }
        counts.total += 1;
        *counts.per_user.entry(user).or_default() += 1;
        *counts.per_address.entry(address.clone()).or_default() += 1;
        set_connections_gauge(counts.total);
        Ok(Slot { counts: self.counts.clone(), user, address })
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
                self.cache.deaf();
                listener = self.listen().await;
                if listener.is_some() {
                    self.cache.listening();
                }
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
                    Ok(Some(n)) => {
                        if let Ok(event_id) = n.payload().parse::<Uuid>() {
                            self.cache.changed(event_id);
                            changed.insert(event_id);
                        }
                    }
                    // The connection was lost: notifications until it listens again are gone.
                    // Listen afresh (rather than let it reconnect unseen) to know from when the
                    // cache can be trusted again.
                    Ok(None) => listener = None,
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
