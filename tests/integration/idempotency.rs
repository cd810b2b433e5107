//! `Idempotency-Key`: replays, reuse with another body, and concurrent duplicates.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};
use ticketing::domain::ids::EventId;

use crate::support::{ADMIN_EMAIL, TestApp, spawn_app};

async fn event_on_sale(app: &TestApp) -> String {
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let create = json!({
        "name": "Idempotent Evening", "date": (chrono::Utc::now() + chrono::Duration::days(20)).to_rfc3339(),
        "venue": { "name": "Club" },
        "sections": [{ "name": "Floor", "capacity": 50, "seating": "general", "base_price_cents": 2_000 }]
    });
    let created: Value = app.post_json("/api/events", Some(&admin), &create).await.json().await.unwrap();
    let id = created["event_id"].as_str().unwrap().to_owned();
    app.post_json(&format!("/api/events/{id}/publish"), Some(&admin), &json!({})).await;
    app.post_json(&format!("/api/events/{id}/sales/open"), Some(&admin), &json!({})).await;
    id
}

async fn reserve(app: &TestApp, token: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(format!("{}/api/reservations", app.address))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn reserved_seats(app: &TestApp, event: &str) -> u32 {
    let inventory = app.runtime.inventory(EventId::from_uuid(event.parse().unwrap())).await.unwrap();
    inventory.section("Floor").unwrap().reserved()
}

#[tokio::test]
async fn a_replayed_request_returns_the_first_answer_and_changes_nothing() {
    let app = spawn_app().await;
    let event = event_on_sale(&app).await;
    let dana = app.sign_in("dana@example.com").await;
    let request = json!({ "event_id": event, "section": "Floor", "quantity": 2 });

    let first = reserve(&app, &dana, "order-1", &request).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();

    let replay = reserve(&app, &dana, "order-1", &request).await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    assert_eq!(reserved_seats(&app, &event).await, 2);

    let other = reserve(&app, &dana, "order-1", &json!({ "event_id": event, "section": "Floor", "quantity": 3 })).await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.json::<Value>().await.unwrap()["code"], "IDEMPOTENCY_KEY_REUSED");

    // Keys belong to their user: someone else's "order-1" is a new request.
    let erik = app.sign_in("erik@example.com").await;
    assert_eq!(reserve(&app, &erik, "order-1", &request).await.status(), StatusCode::CREATED);
    assert_eq!(reserved_seats(&app, &event).await, 4);

    let too_long = reserve(&app, &dana, &"k".repeat(256), &request).await;
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
    assert_eq!(too_long.json::<Value>().await.unwrap()["code"], "INVALID_REQUEST");
}

#[tokio::test]
async fn concurrent_duplicates_make_one_reservation() {
    let app = spawn_app().await;
    let event = event_on_sale(&app).await;
    let fred = app.sign_in("fred@example.com").await;
    let request = json!({ "event_id": event, "section": "Floor", "quantity": 3 });
    let attempts = (0..8).map(|_| reserve(&app, &fred, "double-click", &request));
    let responses = futures::future::join_all(attempts).await;
    let mut ids = HashSet::new();
    for response in responses {
        match response.status() {
            StatusCode::CREATED => {
                let body: Value = response.json().await.unwrap();
                ids.insert(body["reservation_id"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => {
                assert_eq!(response.json::<Value>().await.unwrap()["code"], "IDEMPOTENCY_IN_FLIGHT");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(reserved_seats(&app, &event).await, 3);
}

/// A write stuck behind a lock past `REQUEST_TIMEOUT_SECONDS` gets a 503 in our format; the work
/// goes on, and the retry with the same key gets its real outcome instead of running it twice.
#[tokio::test]
async fn a_request_past_its_deadline_is_a_503_and_its_retry_gets_the_real_outcome() {
    use sqlx::{Connection, Executor};

    let app = crate::support::spawn_app_with(|c| c.request_timeout_seconds = 1).await;
    let admin = app.sign_in(crate::support::ADMIN_EMAIL).await;
    let body = serde_json::json!({
        "name": "Deadline", "date": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
        "venue": { "name": "Hall" },
        "sections": [{ "name": "Floor", "capacity": 10, "seating": "general", "base_price_cents": 1_000 }]
    });
    let send = || {
        app.client
            .post(format!("{}/api/events", app.address))
            .bearer_auth(&admin)
            .header("Idempotency-Key", "deadline-1")
            .json(&body)
            .send()
    };

    // Another session holds the event log: every append waits.
    let mut blocker = sqlx::PgConnection::connect(&app.databases.0.url).await.unwrap();
    blocker.execute("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let started = std::time::Instant::now();
    let late = send().await.unwrap();
    assert_eq!(late.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let error: serde_json::Value = late.json().await.unwrap();
    assert_eq!(error["code"], "DEPENDENCY_UNAVAILABLE");
    assert_eq!(error["details"]["dependency"], "request_deadline");
    // Still running: the retry is told to wait, not run a second time.
    let waiting = send().await.unwrap();
    assert_eq!(waiting.status(), reqwest::StatusCode::CONFLICT);
    // Also after the five seconds an unrenewed claim lives: the running request renews it.
    tokio::time::sleep_until((started + std::time::Duration::from_millis(6_500)).into()).await;
    let still_waiting = send().await.unwrap();
    assert_eq!(still_waiting.status(), reqwest::StatusCode::CONFLICT);
    assert_eq!(still_waiting.json::<serde_json::Value>().await.unwrap()["code"], "IDEMPOTENCY_IN_FLIGHT");

    blocker.execute("COMMIT").await.unwrap();
    let mut replayed = None;
    for _ in 0..100 {
        let retry = send().await.unwrap();
        if retry.status() == reqwest::StatusCode::CREATED {
            replayed = Some(retry);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let replayed = replayed.expect("the first request's outcome is recorded");
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    let event: serde_json::Value = replayed.json().await.unwrap();
    // Exactly one event was created (event streams are named `event-<id>`).
    let events: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT stream_id FROM events WHERE stream_id LIKE 'event-%'")
            .fetch_all(&app.databases.0.pool)
            .await
            .unwrap();
    assert_eq!(events, [format!("event-{}", event["event_id"].as_str().unwrap())]);
}
