//! The live availability WebSocket: refused before the upgrade without a session, for an unknown
//! event, from a foreign page, or over a connection limit (instance, user, address); otherwise
//! counts on connect and on every change, coalesced. The session comes in a header or the
//! cookie, never in the URL.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::support::{ADMIN_EMAIL, TestApp, spawn_app, spawn_app_with};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_url(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.address.replacen("http://", "ws://", 1))
}

/// How an upgrade request says who is asking.
enum Credential<'a> {
    None,
    Bearer(&'a str),
    /// The web app's cookie, sent from the page at `origin`.
    Cookie {
        token: &'a str,
        origin: &'a str,
    },
}

async fn connect_as(app: &TestApp, path: &str, credential: Credential<'_>) -> Result<Socket, StatusCode> {
    let mut request = ws_url(app, path).into_client_request().unwrap();
    let headers = request.headers_mut();
    match credential {
        Credential::None => {}
        Credential::Bearer(token) => {
            headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        Credential::Cookie { token, origin } => {
            headers.insert("cookie", format!("ticketing_session={token}").parse().unwrap());
            headers.insert("origin", origin.parse().unwrap());
        }
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => Err(StatusCode::from_u16(response.status().as_u16()).unwrap()),
        Err(other) => panic!("connect: {other}"),
    }
}

/// An API client's socket: the session in `Authorization` on the upgrade.
async fn connect(app: &TestApp, path: &str, token: &str) -> Result<Socket, StatusCode> {
    connect_as(app, path, Credential::Bearer(token)).await
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

/// The first message (within 10 s each) whose "Floor" shows `reserved` seats held, or the last one.
async fn first_showing_reserved(socket: &mut Socket, reserved: u32) -> Value {
    let mut last = Value::Null;
    while let Some(message) = next_availability(socket, Duration::from_secs(10)).await {
        last = message;
        if last["sections"]["Floor"]["reserved"] == reserved {
            break;
        }
    }
    last
}

#[tokio::test]
async fn a_socket_gets_counts_on_connect_and_after_every_change() {
    // One buyer makes every change here: lift the per-customer hold limit.
    let app = spawn_app_with(|c| c.max_held_seats_per_customer = 50).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let buyer = app.sign_in("fan@example.com").await;
    let event = app.open_event(&admin, 50).await;
    app.get_until(&format!("/api/events/{event}/availability"), |b| b["sections"]["Floor"]["available"] == 50).await;

    let path = format!("/ws/events/{event}/availability");
    let mut socket = connect(&app, &path, &buyer).await.expect("connected");
    let first = next_availability(&mut socket, Duration::from_secs(5)).await.expect("a message on connect");
    assert_eq!(first["event_id"], event);
    assert_eq!(first["sections"]["Floor"]["available"], 50);
    assert!(first["timestamp"].as_str().is_some());

    let reserve = json!({ "event_id": event, "section": "Floor", "quantity": 2 });
    assert_eq!(app.post_json("/api/reservations", Some(&buyer), &reserve).await.status(), StatusCode::CREATED);
    // The first message that shows the hold (an earlier change may still be on its way).
    let update = first_showing_reserved(&mut socket, 2).await;
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
    let path = format!("/ws/events/{event}/availability");

    assert_eq!(connect_as(&app, &path, Credential::None).await.err(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(connect(&app, &path, &"f".repeat(64)).await.err(), Some(StatusCode::UNAUTHORIZED));
    // A token in the URL is not a credential: tokens never travel in URLs (and logs).
    assert_eq!(
        connect_as(&app, &format!("{path}?session_id={buyer}"), Credential::None).await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        connect(&app, &format!("/ws/events/{unknown}/availability"), &buyer).await.err(),
        Some(StatusCode::NOT_FOUND)
    );
    assert_eq!(connect(&app, "/ws/events/not-a-uuid/availability", &buyer).await.err(), Some(StatusCode::BAD_REQUEST));
    // A plain GET (no upgrade) with a good session: our 400, not the library's text.
    let plain = app.get_as(&buyer, &path).await;
    assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
    let body: Value = plain.json().await.unwrap();
    assert_eq!(body["code"], "INVALID_REQUEST");

    // The web app's cookie works from our own page, and from no other (another site could
    // otherwise open sockets in a visitor's name).
    let ours = Credential::Cookie { token: &buyer, origin: "http://localhost:8080" };
    let theirs = Credential::Cookie { token: &buyer, origin: "https://evil.example" };
    assert_eq!(connect_as(&app, &path, theirs).await.err(), Some(StatusCode::FORBIDDEN));
    let mut first = connect_as(&app, &path, ours).await.expect("first, by cookie");

    // Two sockets fit this instance; the third is a 503; closing one makes room again.
    let _second = connect(&app, &path, &buyer).await.expect("second");
    assert_eq!(connect(&app, &path, &buyer).await.err(), Some(StatusCode::SERVICE_UNAVAILABLE));
    first.close(None).await.unwrap();
    drop(first);
    let mut reconnected = None;
    for _ in 0..50 {
        if let Ok(socket) = connect(&app, &path, &buyer).await {
            reconnected = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reconnected.is_some(), "a closed socket gives its place back");

    // Logged out: the token no longer opens a socket.
    app.post_json("/api/auth/logout", Some(&buyer), &json!({})).await;
    drop(reconnected);
    assert_eq!(connect(&app, &path, &buyer).await.err(), Some(StatusCode::UNAUTHORIZED));
}

/// One user cannot take every slot: their sockets are capped (429), while another user still
/// connects; and per client address likewise.
#[tokio::test]
async fn one_user_or_one_address_cannot_take_every_socket() {
    let app = spawn_app_with(|c| {
        c.ws_max_per_user = 3;
        c.ws_max_per_ip = 5;
    })
    .await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let hog = app.sign_in("hog@example.com").await;
    let other = app.sign_in("other@example.com").await;
    let third = app.sign_in("third@example.com").await;
    let event = app.open_event(&admin, 10).await;
    let path = format!("/ws/events/{event}/availability");
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(connect(&app, &path, &hog).await.expect("within the user's cap"));
    }
    assert_eq!(connect(&app, &path, &hog).await.err(), Some(StatusCode::TOO_MANY_REQUESTS), "the fourth of one user");
    open.push(connect(&app, &path, &other).await.expect("another user still connects"));
    open.push(connect(&app, &path, &other).await.expect("another user still connects"));
    // Every socket here comes from 127.0.0.1: the address's cap (5) is reached.
    assert_eq!(connect(&app, &path, &third).await.err(), Some(StatusCode::TOO_MANY_REQUESTS), "the address's sixth");
    drop(open.pop());
    let mut again = None;
    for _ in 0..50 {
        if let Ok(socket) = connect(&app, &path, &third).await {
            again = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "a closed socket frees the address's place");
}

/// Clients have nothing to say: a large message ends their socket, it is not buffered.
#[tokio::test]
async fn a_client_sending_a_large_message_is_disconnected() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let buyer = app.sign_in("chatty@example.com").await;
    let event = app.open_event(&admin, 10).await;
    let mut socket = connect(&app, &format!("/ws/events/{event}/availability"), &buyer).await.unwrap();
    next_availability(&mut socket, Duration::from_secs(5)).await.expect("the first message");
    futures::SinkExt::send(&mut socket, Message::Text("x".repeat(64 * 1024).into())).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let ended = loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(None | Some(Err(_) | Ok(Message::Close(_)))) => break true,
            Ok(Some(Ok(_))) => {}
            Err(_) => break false,
        }
    };
    assert!(ended, "the server closed the socket");
}

#[tokio::test]
async fn sockets_get_pings_and_close_soon_after_their_session_ends() {
    let app = spawn_app_with(|c| c.ws_ping_seconds = 1).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let buyer = app.sign_in("leaving@example.com").await;
    let event = app.open_event(&admin, 10).await;
    app.get_until(&format!("/api/events/{event}"), |b| b["status"] == "sales_open").await;
    let mut socket = connect(&app, &format!("/ws/events/{event}/availability"), &buyer).await.unwrap();

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

/// Availability answers are served from memory (`live::read_cache`), dropped by the same
/// notification that feeds the sockets: once a socket has shown a change, a plain GET shows it
/// too; and a change made behind the projector's back (no notification) shows within the cache's
/// one-second limit instead of never.
#[tokio::test]
async fn availability_served_from_memory_follows_every_change() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let buyer = app.sign_in("fan@example.com").await;
    let event = app.open_event(&admin, 50).await;
    let path = format!("/api/events/{event}/availability");
    let section = format!("/api/events/{event}/sections/Floor");
    app.get_until(&path, |b| b["sections"]["Floor"]["available"] == 50).await;
    let mut socket = connect(&app, &format!("/ws/events/{event}/availability"), &buyer).await.expect("connected");
    next_availability(&mut socket, Duration::from_secs(5)).await.expect("a message on connect");
    // Both answers are now in memory.
    for _ in 0..3 {
        let counts: Value = app.get(&path).await.json().await.unwrap();
        assert_eq!(counts["sections"]["Floor"]["available"], 50);
        let floor: Value = app.get(&section).await.json().await.unwrap();
        assert_eq!(floor["available"], 50);
    }

    let reserve = json!({ "event_id": event, "section": "Floor", "quantity": 2 });
    assert_eq!(app.post_json("/api/reservations", Some(&buyer), &reserve).await.status(), StatusCode::CREATED);
    let shown = first_showing_reserved(&mut socket, 2).await;
    assert_eq!(shown["sections"]["Floor"]["reserved"], 2, "{shown}");
    let counts: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(counts["sections"]["Floor"]["reserved"], 2, "the socket showed the hold, the GET did not: {counts}");
    let floor: Value = app.get(&section).await.json().await.unwrap();
    assert_eq!(floor["reserved"], 2, "{floor}");

    // An operator's repair in SQL sends no notification.
    sqlx::query("UPDATE section_availability SET total_capacity = 60, available = 58 WHERE event_id = $1::uuid")
        .bind(&event)
        .execute(&app.databases.1.pool)
        .await
        .unwrap();
    app.get_until(&path, |b| b["sections"]["Floor"]["total_capacity"] == 60).await;
    socket.close(None).await.unwrap();
}
