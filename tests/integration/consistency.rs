//! Read-your-writes: right after paying, the buyer's ticket list has the tickets and a ticket can
//! be transferred, on the instance that took the payment or another, with either bus. The read
//! models are held back on purpose while the buyer reads (their projector blocked on a table
//! lock), so a read that did not wait for them would come back empty every time.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use crate::kafka::Broker;
use crate::support::{ADMIN_EMAIL, TestApp, card_json, spawn_app_with};

/// Blocks every projector of the projections database for `hold` (a batch read from the log
/// locks its row of `projector_checkpoints`, one from Kafka rows of `projector_streams`, which
/// `EXCLUSIVE` mode refuses; plain reads still go through).
async fn hold_back_read_models(app: &TestApp, hold: Duration) -> tokio::task::JoinHandle<()> {
    let mut connection = PgConnection::connect(&app.databases.1.url).await.unwrap();
    let (locked, is_locked) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut tx = connection.begin().await.unwrap();
        sqlx::query("LOCK TABLE projector_checkpoints, projector_streams IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .unwrap();
        locked.send(()).unwrap();
        tokio::time::sleep(hold).await;
        tx.commit().await.unwrap();
    });
    is_locked.await.unwrap();
    task
}

async fn post(client: &reqwest::Client, url: String, token: &str, body: &Value) -> reqwest::Response {
    client.post(url).bearer_auth(token).json(body).send().await.unwrap()
}

/// As the web app sends a hold or a payment: with an `Idempotency-Key`, whose answer is recorded
/// in the same Redis round trip as the write's read-your-writes mark.
async fn post_keyed(client: &reqwest::Client, url: String, token: &str, body: &Value) -> reqwest::Response {
    let key = uuid::Uuid::new_v4().to_string();
    client.post(url).bearer_auth(token).header("Idempotency-Key", key).json(body).send().await.unwrap()
}

/// Buys two seats on `pay_at`, then at once lists tickets and transfers one on `read_at`.
async fn pay_then_read_at_once(app: &TestApp, pay_at: &str, read_at: &str, event: &str, buyer: &str) {
    let client = reqwest::Client::new();
    let body = json!({ "event_id": event, "section": "Floor", "quantity": 2 });
    let held: Value =
        post_keyed(&client, format!("{pay_at}/api/reservations"), buyer, &body).await.json().await.unwrap();
    let reservation = held["reservation_id"].as_str().unwrap().to_owned();
    let blocked = hold_back_read_models(app, Duration::from_millis(400)).await;
    // Held and paid with keys, transferred without one: both ways of remembering a write.
    let paid = post_keyed(
        &client,
        format!("{pay_at}/api/reservations/{reservation}/payment"),
        buyer,
        &json!({ "payment_method": card_json("4242424242424242") }),
    )
    .await;
    assert_eq!(paid.status(), StatusCode::OK);

    let listed: Value =
        client.get(format!("{read_at}/api/tickets")).bearer_auth(buyer).send().await.unwrap().json().await.unwrap();
    let mine: Vec<&Value> =
        listed["tickets"].as_array().unwrap().iter().filter(|t| t["reservation_id"] == reservation.as_str()).collect();
    assert_eq!(mine.len(), 2, "the tickets just bought are listed: {listed}");
    let reservations: Value = client
        .get(format!("{read_at}/api/reservations"))
        .bearer_auth(buyer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let this =
        reservations["reservations"].as_array().unwrap().iter().find(|r| r["reservation_id"] == reservation.as_str());
    assert_eq!(this.map(|r| r["status"].clone()), Some(json!("completed")), "{reservations}");

    let ticket = mine[0]["ticket_id"].as_str().unwrap();
    let friend = format!("friend-{}@example.com", uuid::Uuid::new_v4().simple());
    let given =
        post(&client, format!("{read_at}/api/tickets/{ticket}/transfer"), buyer, &json!({ "to_email": friend })).await;
    assert_eq!(given.status(), StatusCode::OK, "{}", given.text().await.unwrap());
    blocked.await.unwrap();

    // The recipient sees it on their first look.
    let friend_token = app.sign_in(&friend).await;
    let theirs: Value = client
        .get(format!("{read_at}/api/tickets"))
        .bearer_auth(&friend_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["tickets"].as_array().unwrap().len(), 1, "{theirs}");
}

async fn buyers_read_their_writes(app: TestApp) {
    let peer = app.peer(|_| {}).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let event = app.open_event(&admin, 50).await;
    for (pay_at, read_at) in
        [(&app.address, &app.address), (&app.address, &peer.address), (&peer.address, &app.address)]
    {
        let buyer = app.sign_in(&format!("buyer-{}@example.com", uuid::Uuid::new_v4().simple())).await;
        pay_then_read_at_once(&app, pay_at, read_at, &event, &buyer).await;
    }
}

#[tokio::test]
async fn with_the_in_process_bus_a_buyer_reads_their_writes_on_any_instance() {
    buyers_read_their_writes(spawn_app_with(|_| {}).await).await;
}

#[tokio::test]
async fn with_kafka_a_buyer_reads_their_writes_on_any_instance() {
    let broker = Broker::start();
    let brokers = broker.address();
    buyers_read_their_writes(spawn_app_with(move |c| c.kafka_brokers = Some(brokers)).await).await;
    drop(broker);
}

/// An event an admin just opened for sale is there for the public at once.
#[tokio::test]
async fn an_event_just_opened_is_public_at_once() {
    let app = spawn_app_with(|_| {}).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let body = json!({
        "name": "Opening Night", "date": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
        "venue": { "name": "Hall" },
        "sections": [{ "name": "Floor", "capacity": 10, "seating": "general", "base_price_cents": 2_500 }]
    });
    let created: Value = app.post_json("/api/events", Some(&admin), &body).await.json().await.unwrap();
    let id = created["event_id"].as_str().unwrap();
    let blocked = hold_back_read_models(&app, Duration::from_millis(400)).await;
    for step in ["publish", "sales/open"] {
        let changed = app.post_json(&format!("/api/events/{id}/{step}"), Some(&admin), &json!({})).await;
        assert_eq!(changed.status(), StatusCode::OK);
    }
    let public = app.get(&format!("/api/events/{id}")).await;
    assert_eq!(public.status(), StatusCode::OK);
    let public: Value = public.json().await.unwrap();
    assert_eq!(public["status"], "sales_open");
    let listed: Value = app.get_as(&admin, "/api/events?status=sales_open").await.json().await.unwrap();
    assert!(
        listed["events"].as_array().unwrap().iter().any(|e| e["event_id"] == id),
        "the admin sees it listed: {listed}"
    );
    blocked.await.unwrap();
}

/// What read-your-writes costs a read: the same list, by a caller with no recent write and by one
/// whose write the read model has already applied (the common case after the first read).
/// Printed, not asserted: timings belong in PERFORMANCE.md, not in pass/fail.
#[tokio::test]
async fn reads_with_and_without_a_recent_write_are_measured() {
    let app = spawn_app_with(|_| {}).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let event = app.open_event(&admin, 10).await;
    let idle = app.sign_in("idle@example.com").await;
    let writer = app.sign_in("writer@example.com").await;
    let body = json!({ "event_id": event, "section": "Floor", "quantity": 1 });
    let held: Value = app.post_json("/api/reservations", Some(&writer), &body).await.json().await.unwrap();
    let paid = app.pay(&writer, held["reservation_id"].as_str().unwrap(), "4242424242424242").await;
    assert_eq!(paid.status(), StatusCode::OK);
    let mut results = Vec::new();
    for (who, token) in [("no recent write", &idle), ("a recent write", &writer)] {
        let mut samples = Vec::new();
        for _ in 0..200 {
            let started = Instant::now();
            let response = app.get_as(token, "/api/tickets").await;
            assert_eq!(response.status(), StatusCode::OK);
            response.bytes().await.unwrap();
            samples.push(started.elapsed());
        }
        samples.sort();
        results.push((who, samples[100], samples[189]));
    }
    for (who, p50, p95) in &results {
        eprintln!("GET /api/tickets, {who}: p50 {} µs, p95 {} µs", p50.as_micros(), p95.as_micros());
    }
    let tickets: Value = app.get_as(&writer, "/api/tickets").await.json().await.unwrap();
    assert_eq!(tickets["total"], 1);
}
