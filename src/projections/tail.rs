//! The newest part of the event log, read and decoded once per instance for every read model
//! that follows the log there (the in-process bus).
//!
//! Each read model reads the log after its own checkpoint. In a flash sale they all follow close
//! behind the writes, so seven readers read and decode every event seven times (570,000 rows
//! for 30,000 holds). The tail keeps the newest events decoded in memory, at most `capacity`:
//! a reader whose checkpoint lies inside it is served from memory, and a reader at its end reads
//! the next page into it, once for every reader waiting. A reader outside it (far behind, or
//! ahead while it is being filled) reads the store itself, as before.
//!
//! What it holds is exactly the log after `start` up to its last event: pages are read with the
//! store's rule (an event is readable only once every older transaction has ended), so nothing
//! can appear later inside that range.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use super::ProjectionError;
use crate::bus::BusEvent;
use crate::store::{EventStore, LogPosition};

/// The newest events of the log, shared by this instance's readers.
#[derive(Debug)]
pub struct LogTail {
    store: EventStore,
    capacity: usize,
    page: usize,
    kept: Mutex<Kept>,
    pages_read: AtomicU64,
}

#[derive(Debug, Default)]
struct Kept {
    /// The log after this position, up to the last of `events`, is `events`; `None` until the
    /// first reader anchors it.
    start: Option<LogPosition>,
    events: VecDeque<Arc<BusEvent>>,
}

impl Kept {
    fn end(&self) -> Option<LogPosition> {
        self.events.back().map(|e| e.position).or(self.start)
    }
}

impl LogTail {
    /// Keeps up to `capacity` events, reading `page` at a time.
    pub fn new(store: EventStore, capacity: usize, page: usize) -> Self {
        Self {
            store,
            capacity: capacity.max(1),
            page: page.max(1),
            kept: Mutex::new(Kept::default()),
            pages_read: AtomicU64::new(0),
        }
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// How many pages the tail has read from the store (a reader outside it is not counted).
    pub fn pages_read(&self) -> u64 {
        self.pages_read.load(Ordering::Relaxed)
    }

    /// Up to `limit` events of the log after `from`, in order (fewer where the tail ends); none
    /// only when the log has no more.
    ///
    /// # Errors
    /// The events database, or an event that does not decode.
    pub async fn after(&self, from: LogPosition, limit: usize) -> Result<Vec<Arc<BusEvent>>, ProjectionError> {
        let mut kept = self.kept.lock().await;
        // Nothing kept: the tail starts where this reader is.
        if kept.events.is_empty() && kept.start.is_none_or(|start| from > start) {
            kept.start = Some(from);
        }
        let (start, end) = (kept.start.unwrap_or(from), kept.end().unwrap_or(from));
        if from < start || from > end {
            drop(kept);
            return self.read(from, limit).await;
        }
        if from == end {
            let page = self.read(end, self.page).await?;
            self.pages_read.fetch_add(1, Ordering::Relaxed);
            kept.events.extend(page);
            while kept.events.len() > self.capacity {
                if let Some(dropped) = kept.events.pop_front() {
                    kept.start = Some(dropped.position);
                }
            }
            if kept.start.is_some_and(|start| from < start) {
                // The page was larger than the tail keeps: this reader reads for itself.
                drop(kept);
                return self.read(from, limit).await;
            }
        }
        let first = kept.events.partition_point(|e| e.position <= from);
        Ok(kept.events.range(first..).take(limit).cloned().collect())
    }

    async fn read(&self, from: LogPosition, limit: usize) -> Result<Vec<Arc<BusEvent>>, ProjectionError> {
        let recorded = self.store.read_all(from, i64::try_from(limit).unwrap_or(i64::MAX)).await?;
        Ok(recorded.into_iter().map(|r| BusEvent::from_recorded(r).map(Arc::new)).collect::<Result<_, _>>()?)
    }
}
