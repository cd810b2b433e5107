//! The event bus: every stored event, in per-stream order, to every consumer.
//!
//! Two transports carry the same [`BusEvent`]s:
//! - **in-process** (the default): consumers read the event store's global log from their own
//!   checkpoint (see [`crate::store::EventStore::read_all`]);
//! - **Kafka** (`KAFKA_BROKERS` set): the [`relay`] publishes the log to one topic per aggregate
//!   type, keyed by stream id, and consumers read those topics in consumer groups.

pub mod kafka;
pub mod relay;

use serde::{Deserialize, Serialize};

use crate::domain::event::{Event, EventChanged};
use crate::domain::ids::{EventId, PaymentId, ReservationId};
use crate::domain::inventory::{Inventory, InventoryEvent};
use crate::domain::payment::{Payment, PaymentEvent};
use crate::domain::reservation::{Reservation, ReservationEvent};
use crate::domain::values::Timestamp;
use crate::store::{CodecError, LogPosition, Metadata, RecordedEvent, Stored};

/// A domain event of any aggregate, with its aggregate's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DomainEvent {
    Event(EventId, EventChanged),
    Inventory(EventId, InventoryEvent),
    Reservation(ReservationId, ReservationEvent),
    Payment(PaymentId, PaymentEvent),
}

/// An event as consumers see it: the event, where it sits, and why it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusEvent {
    pub stream_id: String,
    pub version: i64,
    pub position: LogPosition,
    pub event_type: String,
    pub event_version: i16,
    pub recorded_at: Timestamp,
    /// Who and what caused it (`None`: not recorded, or not readable in a message from another
    /// release: it is never needed to apply the event).
    #[serde(default, deserialize_with = "metadata_if_readable")]
    pub metadata: Option<Metadata>,
    pub event: DomainEvent,
}

/// Why a stored or received event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("unknown stream {0}")]
    UnknownStream(String),
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// The Kafka topic for each aggregate type.
pub const TOPICS: [&str; 4] =
    ["ticketing.events", "ticketing.inventory", "ticketing.reservations", "ticketing.payments"];

/// The topic a stream's events go to.
pub fn topic_for(stream_id: &str) -> Option<&'static str> {
    let kind = stream_id.split_once('-')?.0;
    Some(match kind {
        k if k == Event::KIND => TOPICS[0],
        k if k == Inventory::KIND => TOPICS[1],
        k if k == Reservation::KIND => TOPICS[2],
        k if k == Payment::KIND => TOPICS[3],
        _ => return None,
    })
}

impl BusEvent {
    /// Decodes a stored event, taking the row's strings rather than copying them: the log is
    /// decoded as fast as it grows.
    ///
    /// # Errors
    /// An undecodable payload or a stream of unknown kind.
    pub fn from_recorded(recorded: RecordedEvent) -> Result<Self, BusError> {
        let unknown = || BusError::UnknownStream(recorded.stream_id.clone());
        let (kind, id) = recorded.stream_id.split_once('-').ok_or_else(unknown)?;
        let id: uuid::Uuid = id.parse().map_err(|_| unknown())?;
        let event = match kind {
            k if k == Event::KIND => DomainEvent::Event(id.into(), recorded.decode::<Event>()?),
            k if k == Inventory::KIND => DomainEvent::Inventory(id.into(), recorded.decode::<Inventory>()?),
            k if k == Reservation::KIND => DomainEvent::Reservation(id.into(), recorded.decode::<Reservation>()?),
            k if k == Payment::KIND => DomainEvent::Payment(id.into(), recorded.decode::<Payment>()?),
            _ => return Err(unknown()),
        };
        Ok(Self {
            position: recorded.log_position(),
            stream_id: recorded.stream_id,
            version: recorded.version,
            event_type: recorded.event_type,
            event_version: recorded.event_version,
            recorded_at: recorded.recorded_at,
            metadata: recorded.metadata,
            event,
        })
    }

    /// The message value published to Kafka: self-describing JSON any consumer can read.
    ///
    /// # Errors
    /// Never in practice (every field serializes).
    pub fn to_json(&self) -> Result<Vec<u8>, BusError> {
        serde_json::to_vec(self).map_err(|e| BusError::Malformed(e.to_string()))
    }

    /// # Errors
    /// A value that is not a [`BusEvent`] envelope.
    pub fn from_json(bytes: &[u8]) -> Result<Self, BusError> {
        serde_json::from_slice(bytes).map_err(|e| BusError::Malformed(e.to_string()))
    }

    pub fn correlation_id(&self) -> Option<uuid::Uuid> {
        self.metadata.map(|m| m.correlation_id)
    }
}

/// The bus consumers are fed from: chosen once at start-up from `KAFKA_BROKERS`.
#[derive(Debug, Clone)]
pub enum EventBus {
    /// Consumers read the event store's global log (the embedded default), through one shared
    /// tail of it per instance.
    InProcess(std::sync::Arc<crate::projections::tail::LogTail>),
    /// A relay publishes the log to Kafka; consumers read the topics in consumer groups.
    Kafka { store: crate::store::EventStore, settings: kafka::KafkaSettings },
}

impl EventBus {
    /// Events newest in the log that the in-process bus keeps decoded for its readers, and
    /// how many it reads at a time (as many as a projector applies in one batch).
    const TAIL_CAPACITY: usize = 20_000;
    const TAIL_PAGE: usize = 500;

    /// The in-process bus over `store`'s log.
    pub fn in_process(store: crate::store::EventStore) -> Self {
        Self::InProcess(std::sync::Arc::new(crate::projections::tail::LogTail::new(
            store,
            Self::TAIL_CAPACITY,
            Self::TAIL_PAGE,
        )))
    }

    /// Starts what the bus needs besides its consumers: the outbox relay for Kafka (which also
    /// creates the topics), nothing in-process. One relay runs across all instances (see
    /// [`crate::leadership`]); the others stand by.
    pub fn spawn_publisher(
        &self,
        shutdown: &tokio::sync::watch::Receiver<bool>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        match self {
            Self::InProcess(_) => None,
            Self::Kafka { store, settings } => {
                let (store, settings) = (store.clone(), settings.clone());
                let lock_pool = store.pool().clone();
                Some(tokio::spawn(crate::leadership::run_exclusively(
                    lock_pool,
                    "relay",
                    crate::leadership::RETRY,
                    shutdown.clone(),
                    move |stop| {
                        relay::run(
                            store.clone(),
                            settings.clone(),
                            "kafka",
                            500,
                            std::time::Duration::from_millis(50),
                            stop,
                        )
                    },
                )))
            }
        }
    }

    /// Feeds `projector` (whose tables live in `pool`) from this bus until `shutdown`. One copy of
    /// each projector runs across all instances (see [`crate::leadership`]).
    pub fn spawn_consumer(
        &self,
        pool: sqlx::PgPool,
        projector: std::sync::Arc<dyn crate::projections::Projector>,
        shutdown: &tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let bus = self.clone();
        let name = projector.name();
        tokio::spawn(crate::leadership::run_exclusively(
            pool.clone(),
            name,
            crate::leadership::RETRY,
            shutdown.clone(),
            move |stop| bus.consume(pool.clone(), projector.clone(), stop),
        ))
    }

    fn consume(
        &self,
        pool: sqlx::PgPool,
        projector: std::sync::Arc<dyn crate::projections::Projector>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> futures::future::BoxFuture<'static, ()> {
        match self {
            Self::InProcess(tail) => Box::pin(crate::projections::run_in_process(
                tail.clone(),
                pool,
                projector,
                Self::TAIL_PAGE,
                std::time::Duration::from_millis(50),
                stop,
            )),
            Self::Kafka { settings, .. } => Box::pin(kafka::run_projector(settings.clone(), pool, projector, stop)),
        }
    }

    pub const fn name(&self) -> &'static str {
        match self {
            Self::InProcess(_) => "in-process",
            Self::Kafka { .. } => "kafka",
        }
    }
}

/// A message's metadata as [`Metadata`], or `None` when it is absent or of another shape: a
/// consumer must not stop on a field it does not need.
fn metadata_if_readable<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Metadata>, D::Error> {
    let json = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(json).ok())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn published() -> BusEvent {
        let id = uuid::Uuid::new_v4();
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        BusEvent {
            stream_id: format!("{}-{id}", Event::KIND),
            version: 1,
            position: LogPosition { transaction_id: 7, position: 9 },
            event_type: "EventPublished".into(),
            event_version: 1,
            recorded_at: at,
            metadata: Some(Metadata {
                correlation_id: uuid::Uuid::new_v4(),
                causation_id: uuid::Uuid::new_v4(),
                command_id: uuid::Uuid::new_v4(),
                user_id: None,
            }),
            event: DomainEvent::Event(id.into(), EventChanged::Published { at }),
        }
    }

    #[test]
    fn a_message_keeps_its_metadata_and_one_without_readable_metadata_is_still_read() {
        let event = published();
        let message = event.to_json().unwrap();
        assert_eq!(BusEvent::from_json(&message).unwrap(), event);
        let mut value: serde_json::Value = serde_json::from_slice(&message).unwrap();
        // The shape consumers of the previous release read: an object of the four ids.
        let correlation_id = event.correlation_id().unwrap().to_string();
        assert_eq!(value["metadata"]["correlation_id"], json!(correlation_id));

        // From a release that read '{}' from a row with the typed columns, or without the field.
        let without = BusEvent { metadata: None, ..event };
        value["metadata"] = json!({});
        assert_eq!(BusEvent::from_json(&serde_json::to_vec(&value).unwrap()).unwrap(), without);
        value.as_object_mut().unwrap().remove("metadata");
        assert_eq!(BusEvent::from_json(&serde_json::to_vec(&value).unwrap()).unwrap(), without);
    }
}
