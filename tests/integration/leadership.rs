//! One runner per projector across instances: the process holding a projector's lock is killed,
//! another instance takes over within seconds, and the read models end as a rebuild makes them.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use ticketing::projections;
use ticketing::store::EventStore;
use uuid::Uuid;

use crate::projections::{all_tables, assert_same, dump};
use crate::support::{ADMIN_EMAIL, TestDb, spawn_app_on};

/// Jobs that run once across instances on the projections database: five read models, the
/// notifications projector and the mail sender.
const PROJECTION_JOBS: i64 = 7;

/// Advisory locks granted in the database `name` (the server's view, across every connection).
async fn locks_held(server: &PgPool, name: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
         WHERE l.locktype = 'advisory' AND l.granted AND d.datname = $1",
    )
    .bind(name)
    .fetch_one(server)
    .await
    .unwrap()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_killed_projector_holder_is_replaced_within_seconds_and_nothing_is_lost() {
    let databases = (TestDb::new().await, TestDb::projections().await, TestDb::analytics().await, TestDb::auth().await);
    let (events_url, projections_url, analytics_url, auth_url) =
        (databases.0.url.clone(), databases.1.url.clone(), databases.2.url.clone(), databases.3.url.clone());
    let (projections_name, analytics_name) = (databases.1.name.clone(), databases.2.name.clone());
    let server = ticketing::store::database::pool(&format!("{}/postgres", crate::support::server_url()), 2).unwrap();

    // Instance 1: the real binary, started first, so it takes every job.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut holder = Server(
        Command::new(env!("CARGO_BIN_EXE_ticketing"))
            .arg("serve")
            .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("METRICS_ADDR", "127.0.0.1:0")
            .env("DATABASE_MAX_CONNECTIONS", "5")
            .env("DATABASE_URL_EVENTS", &events_url)
            .env("DATABASE_URL_PROJECTIONS", &projections_url)
            .env("DATABASE_URL_ANALYTICS", &analytics_url)
            .env("DATABASE_URL_AUTH", &auth_url)
            .env("REDIS_PREFIX", format!("ticketing_test_{}:", Uuid::new_v4().simple()))
            .env("MAIL_OUTBOX_DIR", std::env::temp_dir().join(format!("ticketing-mail-{}", Uuid::new_v4().simple())))
            .env_remove("KAFKA_BROKERS")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while locks_held(&server, &projections_name).await < PROJECTION_JOBS
        || locks_held(&server, &analytics_name).await < 1
    {
        assert!(Instant::now() < deadline, "the first instance never took the projectors");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Instance 2, in this process: it stands by (the locks are taken) while serving requests.
    let app = spawn_app_on(databases, |_| {}).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let first = app.open_event(&admin, 20).await;
    let buyer = app.sign_in("buyer@example.com").await;
    let body = serde_json::json!({ "event_id": first, "section": "Floor", "quantity": 2 });
    let held: serde_json::Value = app.post_json("/api/reservations", Some(&buyer), &body).await.json().await.unwrap();
    let paid = app.pay(&buyer, held["reservation_id"].as_str().unwrap(), "4242424242424242").await;
    assert_eq!(paid.status(), reqwest::StatusCode::OK);
    assert_eq!(locks_held(&server, &projections_name).await, PROJECTION_JOBS, "one runner per job, not two");

    // The holder dies without a word.
    holder.0.kill().unwrap();
    holder.0.wait().unwrap();
    let killed = Instant::now();
    while locks_held(&server, &projections_name).await < PROJECTION_JOBS
        || locks_held(&server, &analytics_name).await < 1
    {
        assert!(killed.elapsed() < Duration::from_secs(10), "nobody took over within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let takeover = killed.elapsed();
    eprintln!("projectors taken over {} ms after the holder was killed", takeover.as_millis());

    // Life goes on, projected by the survivor.
    let second = app.open_event(&admin, 10).await;
    let body = serde_json::json!({ "event_id": second, "section": "Floor", "quantity": 3 });
    let held: serde_json::Value = app.post_json("/api/reservations", Some(&buyer), &body).await.json().await.unwrap();
    let cancelled = app
        .post_json(
            &format!("/api/reservations/{}/cancel", held["reservation_id"].as_str().unwrap()),
            Some(&buyer),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(cancelled.status(), reqwest::StatusCode::OK);

    // The read models end equal to a rebuild from the log.
    let store = EventStore::new(app.runtime.store().pool().clone());
    let live = &app.databases.1.pool;
    let deadline = Instant::now() + Duration::from_secs(20);
    for projector in projections::all(&store) {
        while projections::lag(&store, live, projector.name()).await.unwrap() > 0 {
            assert!(Instant::now() < deadline, "{} never caught up", projector.name());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let rebuilt = TestDb::projections().await;
    for projector in projections::all(&store) {
        projections::catch_up(&store, &rebuilt.pool, projector.as_ref(), 500).await.unwrap();
    }
    assert_same(&dump(live, &all_tables(&store)).await, &dump(&rebuilt.pool, &all_tables(&store)).await);
}
