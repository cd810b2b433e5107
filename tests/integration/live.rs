//! The live availability WebSocket: refused before the upgrade without a session, for an unknown
//! event or over the connection limit; otherwise counts on connect and on every change, coalesced.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::support::{ADMIN_EMAIL, TestApp, spawn_app, spawn_app_with};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_url(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.address.replacen("http://", "ws://", 1))
}

async fn connect(app: &TestApp, path: &str) -> Result<Socket, StatusCode> {
    match tokio_tungstenite::connect_async(ws_url(app, path)).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => Err(StatusCode::from_u16(response.status().as_u16()).unwrap()),
        Err(other) => panic!("connect: {other}"),
    }
}

/// The next availability message (pings skipped), within `wait`.
async fn next_availability(socket: &mut Socket, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next()).await.ok()??.unwrap();
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == "availability" {
                return Some(value);
            }
        }
    }
}

#[tokio::test]
async fn a_socket_gets_counts_on_connect_and_after_every_change() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let buyer = app.sign_in("fan@example.com").await;
    let event = app.open_event(&admin, 50).await;
    app.get_until(&format!("/api/events/{event}/availability"), |b| b["sections"]["Floor"]["available"] == 50).await;

    let path = format!("/ws/events/{event}/availability?session_id={buyer}");
    let mut socket = connect(&app, &path).await.expect("connected");
    let first = next_availability(&mut socket, Duration::from_secs(5)).await.expect("a message on connect");
    assert_eq!(first["event_id"], event);
    assert_eq!(first["sections"]["Floor"]["available"], 50);
    assert!(first["timestamp"].as_str().is_some());

    let reserve = json!({ "event_id": event, "section": "Floor", "quantity": 2 });
    assert_eq!(app.post_json("/api/reservations", Some(&buyer), &reserve).await.status(), StatusCode::CREATED);
    // The first message that shows the hold (an earlier change may still be on its way).
    let mut update = Value::Null;
    while let Some(message) = next_availability(&mut socket, Duration::from_secs(10)).await {
        update = message;
        if update["sections"]["Floor"]["reserved"] == 2 {
            break;
        }
    }
    assert_eq!(update["sections"]["Floor"]["reserved"], 2, "{update}");
    assert_eq!(update["sections"]["Floor"]["available"], 48);

    // A burst of changes arrives coalesced: at most one message per 100 ms, the last one complete.
    let started = Instant::now();
    for _ in 0..10 {
        let one = json!({ "event_id": event, "section": "Floor", "quantity": 1 });
        app.post_json("/api/reservations", Some(&buyer), &one).await;
    }
    let mut messages = 0u32;
    let mut last = Value::Null;
    while let Some(message) = next_availability(&mut socket, Duration::from_millis(1_500)).await {
        messages += 1;
        last = message;
        if last["sections"]["Floor"]["reserved"] == 12 {
            break;
        }
    }
    assert_eq!(last["sections"]["Floor"]["reserved"], 12, "{last}");
    let windows = u32::try_from(started.elapsed().as_millis() / 100).unwrap() + 1;
    assert!(messages <= windows, "{messages} messages in {windows} windows of 100 ms");
    socket.close(None).await.unwrap();
}

#[tokio::test]
async fn refusals_happen_before_the_upgrade() {
    let app = spawn_app_with(|c| c.ws_max_connections = 2).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let buyer = app.sign_in("fan@example.com").await;
    let event = app.open_event(&admin, 10).await;
    app.get_until(&format!("/api/events/{event}"), |b| b["status"] == "sales_open").await;
    let path = |token: &str| format!("/ws/events/{event}/availability?session_id={token}");

    assert_eq!(connect(&app, &format!("/ws/events/{event}/availability")).await.err(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(connect(&app, &path(&"f".repeat(64))).await.err(), Some(StatusCode::UNAUTHORIZED));
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        connect(&app, &format!("/ws/events/{unknown}/availability?session_id={buyer}")).await.err(),
        Some(StatusCode::NOT_FOUND)
    );
    assert_eq!(
        connect(&app, &format!("/ws/events/not-a-uuid/availability?session_id={buyer}")).await.err(),
        Some(StatusCode::BAD_REQUEST)
    );
    // A plain GET (no upgrade) with a good session: our 400, not the library's text.
    let plain = app.get(&path(&buyer)).await;
    assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
    let body: Value = plain.json().await.unwrap();
    assert_eq!(body["code"], "INVALID_REQUEST");

    // Two sockets fit; the third is a 503; closing one makes room again.
    let mut first = connect(&app, &path(&buyer)).await.expect("first");
    let _second = connect(&app, &path(&buyer)).await.expect("second");
    assert_eq!(connect(&app, &path(&buyer)).await.err(), Some(StatusCode::SERVICE_UNAVAILABLE));
    first.close(None).await.unwrap();
    drop(first);
    let mut reconnected = None;
    for _ in 0..50 {
        if let Ok(socket) = connect(&app, &path(&buyer)).await {
            reconnected = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reconnected.is_some(), "a closed socket gives its place back");

    // Logged out: the token no longer opens a socket.
    app.post_json("/api/auth/logout", Some(&buyer), &json!({})).await;
    drop(reconnected);
    assert_eq!(connect(&app, &path(&buyer)).await.err(), Some(StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn sockets_get_pings_and_close_soon_after_their_session_ends() {
    let app = spawn_app_with(|c| c.ws_ping_seconds = 1).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let buyer = app.sign_in("leaving@example.com").await;
    let event = app.open_event(&admin, 10).await;
    app.get_until(&format!("/api/events/{event}"), |b| b["status"] == "sales_open").await;
    let mut socket = connect(&app, &format!("/ws/events/{event}/availability?session_id={buyer}")).await.unwrap();

    let mut kinds = Vec::new();
    let mut logged_out = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, socket.next()).await {
        match message {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                let kind = value["type"].as_str().unwrap().to_owned();
                if kind == "ping" && !logged_out {
                    let out = app.post_json("/api/auth/logout", Some(&buyer), &json!({})).await;
                    assert_eq!(out.status(), StatusCode::OK);
                    logged_out = true;
                }
                kinds.push(kind);
            }
            Message::Close(_) => {
                kinds.push("close".into());
                break;
            }
            _ => {}
        }
    }
    assert_eq!(kinds.first().map(String::as_str), Some("availability"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "ping"), "{kinds:?}");
    assert_eq!(&kinds[kinds.len() - 2..], ["error", "close"], "{kinds:?}");
}
