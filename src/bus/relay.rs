//! The outbox relay: publishes the event log to Kafka, in log order, from a checkpoint kept in
//! the events database. The log itself is the outbox: a write never waits for the broker, and a
//! broker outage only delays publishing. After a failed batch the relay retries it with backoff;
//! the broker may then see some events twice, which consumers skip.

use std::time::Duration;

use rdkafka::producer::FutureProducer;
use tokio::sync::watch;

use super::BusEvent;
use super::kafka::{KafkaSettings, ensure_topics, producer, publish};
use crate::store::{EventStore, LogPosition, StoreError};

/// # Errors
/// The database.
pub async fn checkpoint(store: &EventStore, relay: &str) -> Result<LogPosition, StoreError> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT transaction_id, position FROM relay_checkpoints WHERE relay = $1")
            .bind(relay)
            .fetch_optional(store.pool())
            .await?;
    Ok(row.map(|(transaction_id, position)| LogPosition { transaction_id, position }).unwrap_or_default())
}

async fn save_checkpoint(store: &EventStore, relay: &str, at: LogPosition) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO relay_checkpoints (relay, transaction_id, position, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (relay) DO UPDATE SET transaction_id = $2, position = $3, updated_at = now()",
    )
    .bind(relay)
    .bind(at.transaction_id)
    .bind(at.position)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Events not yet published.
///
/// # Errors
/// The database.
pub async fn lag(store: &EventStore, relay: &str) -> Result<i64, StoreError> {
    store.count_after(checkpoint(store, relay).await?).await
}

/// Publishes until `shutdown`. While the broker is unreachable writes go on as usual; the relay
/// retries with backoff (up to 10 s) and, once the broker answers, makes sure the topics exist
/// (a broker that lost its data comes back without them) and carries on from its checkpoint.
pub async fn run(
    store: EventStore,
    settings: KafkaSettings,
    relay: &'static str,
    batch: i64,
    idle_wait: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::info!(relay, brokers = %settings.brokers, "outbox relay started");
    let mut backoff = Duration::from_millis(100);
    let mut client: Option<FutureProducer> = None;
    while !*shutdown.borrow() {
        let result = match &client {
            Some(p) => relay_once(&store, p, relay, batch).await,
            None => match ensure_topics(&settings).await.and_then(|()| producer(&settings)) {
                Ok(p) => {
                    client = Some(p);
                    continue;
                }
                Err(e) => Err(e.into()),
            },
        };
        match result {
            Ok(n) if n > 0 => backoff = Duration::from_millis(100),
            Ok(_) => {
                backoff = Duration::from_millis(100);
                tokio::select! {
                    () = tokio::time::sleep(idle_wait) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                tracing::warn!(relay, error = %e, retry_in_ms = backoff.as_millis(), "publishing failed; retrying");
                // Start over with topics checked and a fresh producer.
                client = None;
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    tracing::info!(relay, "outbox relay stopped");
}

/// Publishes the next batch; returns how many events it published.
///
/// # Errors
/// The database or the broker; the checkpoint is then unchanged.
pub async fn relay_once(
    store: &EventStore,
    producer: &FutureProducer,
    relay: &str,
    batch: i64,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let from = checkpoint(store, relay).await?;
    let recorded = store.read_all(from, batch).await?;
    let Some(last) = recorded.last().map(crate::store::RecordedEvent::log_position) else { return Ok(0) };
    let events: Vec<BusEvent> = recorded.into_iter().map(BusEvent::from_recorded).collect::<Result<_, _>>()?;
    publish(producer, &events).await?;
    save_checkpoint(store, relay, last).await?;
    Ok(events.len())
}
