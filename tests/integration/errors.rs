//! The documented error codes not produced elsewhere in the suite, each by the request that
//! should produce it, with its status and details (API.md, "Errors").

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_EMAIL, TestApp, spawn_app, spawn_app_with};

async fn expect(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    let actual = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!((actual, body["code"].as_str().unwrap_or_default()), (status, code), "{body}");
    body
}

/// An event starting in `hours`, in the state the steps leave it in.
async fn event_in(app: &TestApp, admin: &str, hours: i64, steps: &[&str]) -> String {
    let body = json!({
        "name": "Soon", "date": (chrono::Utc::now() + chrono::Duration::hours(hours)).to_rfc3339(),
        "venue": { "name": "Hall" },
        "sections": [{ "name": "Floor", "capacity": 10, "seating": "general", "base_price_cents": 1_000 }]
    });
    let created: Value = app.post_json("/api/events", Some(admin), &body).await.json().await.unwrap();
    let id = created["event_id"].as_str().unwrap().to_owned();
    for step in steps {
        let response = app.post_json(&format!("/api/events/{id}/{step}"), Some(admin), &json!({})).await;
        assert!(response.status().is_success(), "{step}");
    }
    id
}

async fn reserve(app: &TestApp, token: &str, event: &str) -> reqwest::Response {
    app.post_json("/api/reservations", Some(token), &json!({ "event_id": event, "section": "Floor", "quantity": 1 }))
        .await
}

#[tokio::test]
async fn the_remaining_documented_codes_are_produced_with_their_statuses() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let buyer = app.sign_in("codes@example.com").await;

    // 422 INVALID_STATE_TRANSITION with from/action; 422 SALES_NOT_OPEN.
    let published = event_in(&app, &admin, 24 * 40, &["publish"]).await;
    let again = app.post_json(&format!("/api/events/{published}/publish"), Some(&admin), &json!({})).await;
    let body = expect(again, StatusCode::UNPROCESSABLE_ENTITY, "INVALID_STATE_TRANSITION").await;
    assert_eq!(body["details"]["from"], "published");
    assert!(body["details"]["action"].is_string());
    expect(reserve(&app, &buyer, &published).await, StatusCode::UNPROCESSABLE_ENTITY, "SALES_NOT_OPEN").await;

    // 404 TICKET_NOT_FOUND.
    let nowhere = app
        .post_json(
            &format!("/api/tickets/{}/transfer", uuid::Uuid::new_v4()),
            Some(&buyer),
            &json!({ "to_email": "friend@example.com" }),
        )
        .await;
    expect(nowhere, StatusCode::NOT_FOUND, "TICKET_NOT_FOUND").await;

    // Within a day of the start: 422 TRANSFER_WINDOW_CLOSED and 422 CANCELLATION_WINDOW_CLOSED.
    let tomorrow = event_in(&app, &admin, 12, &["publish", "sales/open"]).await;
    let held: Value = reserve(&app, &buyer, &tomorrow).await.json().await.unwrap();
    let reservation = held["reservation_id"].as_str().unwrap().to_owned();
    let paid: Value = app.pay(&buyer, &reservation, "4242424242424242").await.json().await.unwrap();
    let ticket = paid["tickets"][0]["ticket_id"].as_str().unwrap().to_owned();
    let transfer = app
        .post_json(
            &format!("/api/tickets/{ticket}/transfer"),
            Some(&buyer),
            &json!({ "to_email": "friend@example.com" }),
        )
        .await;
    // The ticket is found through the read model; it may take a moment to appear.
    let transfer = if transfer.status() == StatusCode::NOT_FOUND {
        tokio::time::sleep(Duration::from_millis(500)).await;
        app.post_json(
            &format!("/api/tickets/{ticket}/transfer"),
            Some(&buyer),
            &json!({ "to_email": "friend@example.com" }),
        )
        .await
    } else {
        transfer
    };
    expect(transfer, StatusCode::UNPROCESSABLE_ENTITY, "TRANSFER_WINDOW_CLOSED").await;
    let cancel = app.post_json(&format!("/api/reservations/{reservation}/cancel"), Some(&buyer), &json!({})).await;
    expect(cancel, StatusCode::UNPROCESSABLE_ENTITY, "CANCELLATION_WINDOW_CLOSED").await;

    // 422 for cancelling the event within 24 h of the start, as documented for the route.
    let late_cancel =
        app.post_json(&format!("/api/events/{tomorrow}/cancel"), Some(&admin), &json!({ "reason": "storm" })).await;
    assert_eq!(late_cancel.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn paying_after_the_hold_ended_is_408_reservation_expired() {
    let app = spawn_app_with(|c| c.reservation_ttl_seconds = 1).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let buyer = app.sign_in("late@example.com").await;
    // The one-second hold ends before the card is presented.
    let open = event_in(&app, &admin, 24 * 40, &["publish", "sales/open"]).await;
    let held: Value = reserve(&app, &buyer, &open).await.json().await.unwrap();
    let held = held["reservation_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let late = app.pay(&buyer, &held, "4242424242424242").await;
    expect(late, StatusCode::REQUEST_TIMEOUT, "RESERVATION_EXPIRED").await;

    let after: Value = app.get_as(&buyer, &format!("/api/reservations/{held}")).await.json().await.unwrap();
    assert_eq!(after["status"], "expired", "{after}");
}
