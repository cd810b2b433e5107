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
