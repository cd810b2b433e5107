//! The Kafka transport (Redpanda in production; any Kafka-API broker).
//!
//! Producer: idempotent (`enable.idempotence`, `acks=all`), so a retry never duplicates or
//! reorders within a partition; key = stream id, so a stream's events share a partition and stay
//! in order. Consumers: one per projector (which runs once in the deployment), assigned every
//! partition by hand; offsets kept under a group per projector and committed only after the
//! projector's transaction committed (a crash in between redelivers; the projector skips what it
//! already applied).

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use sqlx::PgPool;
use tokio::sync::watch;

use super::{BusEvent, TOPICS, topic_for};
use crate::projections::{Projector, apply_batch};

/// Where the broker is and how topics are made.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// `KAFKA_BROKERS`, e.g. `127.0.0.1:9092`.
    pub brokers: String,
    pub partitions: i32,
    pub replication: i32,
}

impl KafkaSettings {
    pub fn new(brokers: impl Into<String>) -> Self {
        Self { brokers: brokers.into(), partitions: 3, replication: 1 }
    }

    fn client(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers).set("socket.timeout.ms", "10000");
        config
    }
}

/// Creates the four topics if they do not exist (brokers may not auto-create them).
///
/// # Errors
/// The broker is unreachable or refused.
pub async fn ensure_topics(settings: &KafkaSettings) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = settings.client().create()?;
    let topics: Vec<NewTopic<'_>> = TOPICS
        .iter()
        .map(|t| NewTopic::new(t, settings.partitions, TopicReplication::Fixed(settings.replication)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&topics, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::AdminOp(code))
                    .inspect_err(|_| tracing::warn!(%topic, ?code, "topic not created"));
            }
        }
    }
    Ok(())
}

/// An idempotent producer.
///
/// # Errors
/// Invalid settings.
pub fn producer(settings: &KafkaSettings) -> Result<FutureProducer, KafkaError> {
    settings
        .client()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", "15000")
        .set("linger.ms", "5")
        .create()
}

/// Publishes `events` and waits until the broker has every one of them.
///
/// # Errors
/// The first delivery failure (the caller retries the whole batch; duplicates are harmless).
pub async fn publish(producer: &FutureProducer, events: &[BusEvent]) -> Result<(), KafkaError> {
    let mut deliveries = Vec::with_capacity(events.len());
    for event in events {
        let Some(topic) = topic_for(&event.stream_id) else { continue };
        let payload = event.to_json().map_err(|_| KafkaError::MessageProduction(RDKafkaErrorCode::InvalidMessage))?;
        let position = format!("{}:{}", event.position.transaction_id, event.position.position);
        let version = event.event_version.to_string();
        let correlation_id = event.correlation_id().map(|id| id.to_string());
        let headers = OwnedHeaders::new()
            .insert(Header { key: "event_type", value: Some(event.event_type.as_str()) })
            .insert(Header { key: "event_version", value: Some(version.as_str()) })
            .insert(Header { key: "position", value: Some(position.as_str()) })
            .insert(Header { key: "correlation_id", value: correlation_id.as_deref() });
        let record = FutureRecord::to(topic).key(event.stream_id.as_str()).payload(&payload).headers(headers);
        deliveries.push(producer.send_result(record).map_err(|(e, _)| e)?);
    }
    for delivery in deliveries {
        match delivery.await {
            Ok(Ok(_)) => {}
            Ok(Err((e, _))) => return Err(e),
            Err(_) => return Err(KafkaError::Canceled),
        }
    }
    Ok(())
}

/// A consumer of every partition of the four topics, assigned by hand and started at the offsets
/// committed under `group` (the beginning where none were).
///
/// No group membership: each projector already runs once in the whole deployment (an advisory
/// lock, see `leadership`), so a group coordinator would only add its join and rebalance protocol,
/// which after a broker restart left consumers of some projectors assigned nothing for minutes
/// (found by the fault suite: read models stayed behind while the relay had published
/// everything). The group remains only the place where offsets are kept.
///
/// Blocking (metadata and offsets are asked of the broker): call from a blocking task.
fn assigned_consumer(settings: &KafkaSettings, group: &str) -> Result<StreamConsumer, KafkaError> {
    let consumer: StreamConsumer = settings
        .client()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        // Where nothing was committed, or the offset is gone (a broker that came back empty).
        .set("auto.offset.reset", "earliest")
        // A read model is what a buyer sees next: do not let a broker that answers a fetch only
        // when its wait is over (tansu) add half a second to it.
        .set("fetch.wait.max.ms", "100")
        // Small fetches: a broker reading a backlog from disk (tansu on SQLite after a restart)
        // answered 1 MB per partition too slowly, the request timed out and was sent again, and
        // the read models never caught up.
        .set("max.partition.fetch.bytes", "262144")
        // And small in all (12 partitions × 256 KiB was 3 MiB): after a restart, fetches that
        // timed out at tansu every few seconds kept the read models behind for over a minute.
        .set("fetch.max.bytes", "1048576")
        .create()?;
    let metadata = consumer.fetch_metadata(None, BROKER_TIMEOUT)?;
    let mut partitions = TopicPartitionList::new();
    for topic in TOPICS {
        let found = metadata.topics().iter().find(|t| t.name() == topic && t.error().is_none());
        let Some(found) = found.filter(|t| !t.partitions().is_empty()) else {
            // The relay creates the topics before it publishes: wait for it.
            return Err(KafkaError::MetadataFetch(RDKafkaErrorCode::UnknownTopicOrPartition));
        };
        for partition in found.partitions() {
            partitions.add_partition(topic, partition.id());
        }
    }
    let committed = consumer.committed_offsets(partitions, BROKER_TIMEOUT)?;
    let mut start = TopicPartitionList::new();
    for element in committed.elements() {
        let offset = match element.offset() {
            Offset::Offset(at) => Offset::Offset(at),
            _ => Offset::Beginning,
        };
        start.add_partition_offset(element.topic(), element.partition(), offset)?;
    }
    consumer.assign(&start)?;
    Ok(consumer)
}

/// How long a blocking question to the broker may take.
const BROKER_TIMEOUT: Duration = Duration::from_secs(5);

/// Feeds `projector` from Kafka until `shutdown`: batches of messages are applied in one
/// transaction, then their offsets are committed.
pub async fn run_projector(
    settings: KafkaSettings,
    pool: PgPool,
    projector: Arc<dyn Projector>,
    mut shutdown: watch::Receiver<bool>,
) {
    let group = format!("ticketing-{}", projector.name());
    tracing::info!(projector = projector.name(), %group, "kafka projector started");
    while !*shutdown.borrow() {
        // A fresh consumer resumes from the committed offsets: after any failure, that is at
        // most the first message not yet applied (a commit lost with the broker only means the
        // projector skips a few events it already has).
        let (for_task, group_name) = (settings.clone(), group.clone());
        let created = tokio::task::spawn_blocking(move || assigned_consumer(&for_task, &group_name))
            .await
            .map_err(|e| e.to_string())
            .and_then(|created| created.map_err(|e| e.to_string()));
        let consumer = match created {
            Ok(consumer) => consumer,
            Err(error) => {
                // Soon: at start-up the relay is creating the topics right now, and a buyer's
                // first purchase should not wait a second for its read models. (A broker that is
                // away makes each attempt wait its own timeout anyway.)
                tracing::warn!(projector = projector.name(), %error, "kafka consumer not ready; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let result = consume(&consumer, &pool, projector.as_ref(), &mut shutdown).await;
        // Closing a consumer is a blocking call that, with the broker away, waits for it. On a
        // tokio worker it froze the whole process (every request stalled for the length of a
        // broker outage, found by the fault suite), so it is closed on a blocking thread, and
        // awaited: one close at a time per projector.
        let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
        if let Err(e) = result {
            tracing::warn!(projector = projector.name(), error = %e, "kafka projector failed; resuming from committed offsets");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    tracing::info!(projector = projector.name(), "kafka projector stopped");
}

async fn consume(
    consumer: &StreamConsumer,
    pool: &PgPool,
    projector: &dyn Projector,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    loop {
        let mut events = Vec::new();
        let mut offsets = TopicPartitionList::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
        while events.len() < 500 {
            let message = tokio::select! {
                m = consumer.recv() => m?,
                () = tokio::time::sleep_until(deadline) => break,
                _ = shutdown.changed() => return Ok(()),
            };
            if let Some(payload) = message.payload() {
                events.push(BusEvent::from_json(payload)?);
            }
            offsets.add_partition_offset(message.topic(), message.partition(), Offset::Offset(message.offset() + 1))?;
        }
        if offsets.count() == 0 {
            if *shutdown.borrow() {
                return Ok(());
            }
            continue;
        }
        apply_batch(pool, projector, &events, None).await?;
        // Async: a synchronous commit blocks its tokio worker until the broker answers, and with
        // the broker down every projector's commit froze every worker of the process, requests
        // included (found by the fault suite: 8 s without an answer). A commit lost with the
        // broker only means those events are delivered again, and the projector skips what it
        // already applied (its per-stream versions are kept in the same transaction).
        consumer.commit(&offsets, CommitMode::Async)?;
    }
}

/// Asks the broker for its metadata (blocking; call from a blocking task).
///
/// # Errors
/// The broker did not answer within 2 seconds.
pub fn probe(settings: &KafkaSettings) -> Result<(), KafkaError> {
    use rdkafka::consumer::BaseConsumer;
    let consumer: BaseConsumer = settings.client().create()?;
    consumer.fetch_metadata(None, Duration::from_secs(2)).map(|_| ())
}
