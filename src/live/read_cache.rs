//! Availability answers kept in memory, per instance, so that a flash sale's thousands of buyers
//! refreshing the counts cost a hash lookup instead of two queries each.
//!
//! An answer is dropped the moment the availability projector says its event changed (the
//! `NOTIFY` the live feed already listens to), so it is as fresh as the database's read model.
//! Two things could leave a stale answer behind, and both are closed:
//! - a request that read the database just before a change and stores its answer just after the
//!   notification dropped the old one: every request takes a [`Ticket`] before reading, and its
//!   answer is only kept if no notification for that event arrived since;
//! - notifications missed while the listener was away: nothing is served or kept while the feed is
//!   not listening, and everything is forgotten when it listens again.
//!
//! Beyond that, no answer is served older than [`MAX_AGE`], so a change made without a
//! notification (an operator's repair in SQL) shows within that time too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use uuid::Uuid;

/// The oldest answer ever served from memory.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Events whose answers are kept at most; beyond it the cache starts again empty.
const MAX_EVENTS: usize = 10_000;

/// What is cached: an event's availability, or one of its sections.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub event_id: Uuid,
    pub section: Option<String>,
}

impl Key {
    pub const fn event(event_id: Uuid) -> Self {
        Self { event_id, section: None }
    }

    pub const fn section(event_id: Uuid, section: String) -> Self {
        Self { event_id, section: Some(section) }
    }
}

/// Taken before reading the database; an answer read after it may be kept if nothing changed.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    epoch: u64,
    changes: u64,
}

#[derive(Debug, Default)]
struct Inner {
    listening: bool,
    /// Bumped whenever the feed (re)starts listening: tickets from before are void.
    epoch: u64,
    /// Notifications seen per event (since the epoch began).
    changes: HashMap<Uuid, u64>,
    /// By event, so that a notification drops an event's answers with one removal.
    entries: HashMap<Uuid, HashMap<Option<String>, (Instant, Bytes)>>,
}

/// Cheap to clone: clones share the cache.
#[derive(Debug, Clone, Default)]
pub struct ReadCache {
    inner: Arc<Mutex<Inner>>,
}

impl ReadCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer kept for `key`, if the feed is listening and it is young enough.
    pub fn get(&self, key: &Key) -> Option<Bytes> {
        let inner = self.lock();
        if !inner.listening {
            return None;
        }
        let (at, body) = inner.entries.get(&key.event_id)?.get(&key.section)?;
        (at.elapsed() < MAX_AGE).then(|| body.clone())
    }

    /// To take before reading `event_id`'s availability from the database.
    pub fn ticket(&self, event_id: Uuid) -> Ticket {
        let inner = self.lock();
        Ticket { epoch: inner.epoch, changes: inner.changes.get(&event_id).copied().unwrap_or(0) }
    }

    /// Keeps `body`, read after `ticket` was taken, unless the event changed since (or the feed
    /// stopped or restarted listening).
    pub fn put(&self, key: Key, ticket: Ticket, body: Bytes) {
        let mut inner = self.lock();
        let changes = inner.changes.get(&key.event_id).copied().unwrap_or(0);
        if !inner.listening || inner.epoch != ticket.epoch || changes != ticket.changes {
            return;
        }
        if inner.entries.len() >= MAX_EVENTS && !inner.entries.contains_key(&key.event_id) {
            inner.entries.clear();
        }
        inner.entries.entry(key.event_id).or_default().insert(key.section, (Instant::now(), body));
    }

    /// The projector said `event_id`'s availability changed.
    pub fn changed(&self, event_id: Uuid) {
        let mut inner = self.lock();
        *inner.changes.entry(event_id).or_default() += 1;
        inner.entries.remove(&event_id);
    }

    /// The feed listens (again): nothing known from before can be trusted.
    pub fn listening(&self) {
        self.start_epoch(true);
    }

    /// The feed lost its listener: notifications may be missed until it listens again.
    pub fn deaf(&self) {
        self.start_epoch(false);
    }

    /// Forgets every answer and voids every ticket taken so far.
    fn start_epoch(&self, listening: bool) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.listening = listening;
        inner.changes.clear();
        inner.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &'static str) -> Bytes {
        Bytes::from_static(text.as_bytes())
    }

    #[test]
    fn nothing_is_kept_or_served_until_the_feed_listens() {
        let (cache, event) = (ReadCache::default(), Uuid::new_v4());
        let ticket = cache.ticket(event);
        cache.put(Key::event(event), ticket, body("a"));
        assert_eq!(cache.get(&Key::event(event)), None);
        cache.listening();
        let ticket = cache.ticket(event);
        cache.put(Key::event(event), ticket, body("a"));
        assert_eq!(cache.get(&Key::event(event)), Some(body("a")));
    }

    #[test]
    fn a_change_drops_every_answer_of_that_event_and_no_other() {
        let (cache, event, other) = (ReadCache::default(), Uuid::new_v4(), Uuid::new_v4());
        cache.listening();
        for key in [Key::event(event), Key::section(event, "Floor".into()), Key::event(other)] {
            let ticket = cache.ticket(key.event_id);
            cache.put(key, ticket, body("x"));
        }
        cache.changed(event);
        assert_eq!(cache.get(&Key::event(event)), None);
        assert_eq!(cache.get(&Key::section(event, "Floor".into())), None);
        assert_eq!(cache.get(&Key::event(other)), Some(body("x")));
    }

    #[test]
    fn an_answer_read_before_a_change_is_not_kept_after_it() {
        let (cache, event) = (ReadCache::default(), Uuid::new_v4());
        cache.listening();
        let ticket = cache.ticket(event);
        // ... the database is read; meanwhile the projector commits and notifies ...
        cache.changed(event);
        cache.put(Key::event(event), ticket, body("stale"));
        assert_eq!(cache.get(&Key::event(event)), None);
    }

    #[test]
    fn losing_the_listener_forgets_everything_and_voids_tickets_taken_before() {
        let (cache, event) = (ReadCache::default(), Uuid::new_v4());
        cache.listening();
        let ticket = cache.ticket(event);
        cache.put(Key::event(event), ticket, body("a"));
        let before_loss = cache.ticket(event);
        cache.deaf();
        assert_eq!(cache.get(&Key::event(event)), None);
        cache.listening();
        cache.put(Key::event(event), before_loss, body("maybe stale"));
        assert_eq!(cache.get(&Key::event(event)), None);
    }
}
