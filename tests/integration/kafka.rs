//! The Kafka path against a real Kafka-protocol broker (tansu, started here as a process):
//! relay → topics → consumer groups → projections, including a broker outage during writes.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ticketing::bus::kafka::{self, KafkaSettings};
use ticketing::bus::{EventBus, relay};
use ticketing::domain::ids::CustomerId;
use ticketing::domain::values::{Quantity, SectionName};
use ticketing::projections;
use ticketing::runtime::Cause;
use ticketing::runtime::purchase::ReserveRequest;
use ticketing::store::EventStore;
use tokio::sync::watch;
use uuid::Uuid;

use crate::projections::{all_tables, assert_same, dump, play_scenario};
use crate::support::{TestDb, fast_config, runtime_on};

/// The broker binary: `TANSU_BIN`, or where `scripts/test.sh` installs it, or `tansu` on PATH.
fn tansu() -> String {
    if let Ok(bin) = std::env::var("TANSU_BIN") {
        return bin;
    }
    let cached = format!("{}/.cache/ticketing-tools/bin/tansu", std::env::var("HOME").unwrap_or_default());
    if std::path::Path::new(&cached).exists() { cached } else { "tansu".into() }
}

/// A broker process on a port of its own, in memory (a restart starts it empty).
pub struct Broker {
    port: u16,
    child: Option<Child>,
}

impl Broker {
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut broker = Self { port, child: None };
        broker.restart();
        broker
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(tansu())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start the Kafka-protocol broker {:?} ({e}); scripts/test.sh installs it", tansu())
            });
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("broker did not listen on {}", self.port);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until the Kafka-fed read models equal the ones rebuilt from the log.
async fn wait_until_equal(store: &EventStore, fed: &TestDb, reference: &TestDb, within: Duration) {
    for projector in projections::all(store) {
        projections::catch_up(store, &reference.pool, projector.as_ref(), 500).await.unwrap();
    }
    let tables = all_tables(store);
    let expected = dump(&reference.pool, &tables).await;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let actual = dump(&fed.pool, &tables).await;
        if actual == expected {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            assert_same(&actual, &expected);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_projections_through_kafka_and_survive_a_broker_outage() {
    let mut broker = Broker::start();
    let settings = KafkaSettings::new(broker.address());
    kafka::ensure_topics(&settings).await.unwrap();
    let (events_db, fed, reference) = (TestDb::new().await, TestDb::projections().await, TestDb::projections().await);
    let store = EventStore::new(events_db.pool.clone());

    let (stop, stopped) = watch::channel(false);
    let bus = EventBus::Kafka { store: store.clone(), settings: settings.clone() };
    bus.spawn_publisher(&stopped);
    for projector in projections::all(&store) {
        bus.spawn_consumer(fed.pool.clone(), projector, &stopped);
    }

    // Every kind of event goes through the broker into every read model.
    let scenario = play_scenario(&events_db).await;
    wait_until_equal(&store, &fed, &reference, Duration::from_secs(60)).await;

    // The broker dies. Writes do not notice.
    broker.stop();
    let rt = runtime_on(events_db.pool.clone(), fast_config());
    let mut during_outage = Vec::new();
    for _ in 0..5 {
        let started = tokio::time::Instant::now();
        let request = ReserveRequest {
            event_id: scenario.event_a,
            section: SectionName::parse("Floor").unwrap(),
            quantity: Quantity::new(1).unwrap(),
            seats: None,
            reservation_id: None,
        };
        let held = rt.reserve(&Cause::new(None), CustomerId::from_uuid(Uuid::new_v4()), request).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(2), "a write waited for the broker");
        during_outage.push(held.reservation_id);
    }
    assert!(relay::lag(&store, "kafka").await.unwrap() > 0, "nothing can have been published");

    // It comes back (empty: this broker keeps nothing on disk). Everything arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    broker.restart();
    wait_until_equal(&store, &fed, &reference, Duration::from_secs(90)).await;
    let statuses: Vec<String> = sqlx::query_scalar("SELECT status FROM reservations WHERE reservation_id = ANY($1)")
        .bind(during_outage.iter().map(ticketing::domain::ids::Id::as_uuid).collect::<Vec<_>>())
        .fetch_all(&fed.pool)
        .await
        .unwrap();
    assert_eq!(statuses, vec!["seats_reserved".to_owned(); 5]);
    assert_eq!(relay::lag(&store, "kafka").await.unwrap(), 0);
    stop.send(true).unwrap();
}
