//! `GET /ws/events/{id}/availability`: live section counts over a WebSocket.
//!
//! The session comes as the web app's cookie (a browser sends it with the upgrade) or, for API
//! clients, `Authorization: Bearer` on the upgrade request: no token ever travels in a URL. A
//! cookie-authenticated upgrade must come from our own pages (`Origin`), or any site could open
//! a socket in a visitor's name. The session, the event and the limits (per instance, per user,
//! per client address) are checked before the upgrade, so a refusal is an ordinary HTTP answer in
//! our error format. Clients have nothing to say, so their messages are capped small, and a client
//! that stops reading is dropped instead of holding its messages in memory.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::get;
use uuid::Uuid;

use super::AppState;
use super::client_ip::ClientIp;
use super::error::{ApiError, ErrorBody, Path, Result};
use super::session::{authenticate, same_origin};
use crate::live::{AvailabilityFeed, Full, Slot};

/// The largest message or frame a client may send (it only ever sends pings and closes).
const MAX_CLIENT_MESSAGE: usize = 1024;
/// What a socket reserves to read its client's frames. The library's 128 KiB default, touched
/// on the first read, made each watcher cost the server 131 KiB (1.3 GB for an on-sale's
/// 10,000 watchers, measured by the flash-sale harness's `sockets` scenario) to read pongs.
const READ_BUFFER: usize = 4 * MAX_CLIENT_MESSAGE;
/// A client that has not taken a message within this long is gone or stuck: drop it.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

pub fn router() -> Router<AppState> {
    Router::new().route("/ws/events/{id}/availability", get(availability))
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(availability))]
pub(super) struct Doc;

#[utoipa::path(get, path = "/ws/events/{id}/availability", tag = "events", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 101, description = "WebSocket: `{type: availability, event_id, sections, timestamp}` on connect and on change (at most one per 100 ms), `{type: ping}`, `{type: error, message}`"),
        (status = 401, description = "UNAUTHENTICATED", body = ErrorBody), (status = 403, description = "FORBIDDEN: a cookie-authenticated upgrade from another origin", body = ErrorBody),
        (status = 404, description = "EVENT_NOT_FOUND", body = ErrorBody), (status = 429, description = "RATE_LIMITED: this user or address has as many sockets open as it may", body = ErrorBody),
        (status = 503, description = "WS_MAX_CONNECTIONS reached on this instance", body = ErrorBody)))]
async fn availability(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    client: ClientIp,
    headers: HeaderMap,
    upgrade: std::result::Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response> {
    // An upgrade is a GET, which `authenticate` lets through from anywhere: check the origin here.
    let signed_in = authenticate(&headers, &Method::GET, &state).await?.ok_or(ApiError::Unauthenticated)?;
    if signed_in.via_cookie && !same_origin(&headers, &state.config) {
        return Err(ApiError::ForeignOrigin);
    }
    super::events::public_event(&state, id).await?;
    let upgrade = upgrade.map_err(|e| ApiError::InvalidRequest(format!("a WebSocket upgrade is required: {e}")))?;
    let slot = state.live.acquire(signed_in.user.id, client.bucket()).map_err(|full| match full {
        Full::Instance => ApiError::unavailable("websocket_capacity", "WS_MAX_CONNECTIONS reached on this instance"),
        Full::User | Full::Address => ApiError::RateLimited(state.config.ws_ping_seconds),
    })?;
    let watcher = Watcher { feed: state.live.clone(), state, token: signed_in.token, event_id: id };
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| serve(socket, watcher, slot)))
}

/// What one socket needs: the feed, and the session it was opened with.
struct Watcher {
    feed: AvailabilityFeed,
    state: AppState,
    token: String,
    event_id: Uuid,
}

impl Watcher {
    /// Whether the session still stands (logout ends it at once; Redis trouble does not close
    /// the socket, the next check will tell). One Redis EXISTS: this runs for every socket.
    async fn signed_in(&self) -> bool {
        !matches!(self.state.auth.session_exists(&self.token).await, Ok(false))
    }
}

/// Sends one message, or gives up on a client that does not read.
async fn send(socket: &mut WebSocket, text: String) -> bool {
    matches!(tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await, Ok(Ok(())))
}

async fn serve(mut socket: WebSocket, watcher: Watcher, _slot: Slot) {
    let Watcher { ref feed, event_id, .. } = watcher;
    // Subscribe before the first snapshot, so no change falls between the two.
    let mut updates = feed.subscribe(event_id);
    let mut stopped = feed.stopped();
    let first = match feed.snapshot(event_id).await {
        Ok(message) => message,
        Err(error) => {
            tracing::warn!(%error, "availability snapshot failed");
            let message =
                serde_json::json!({ "type": "error", "message": "availability is unavailable, reconnect later" });
            send(&mut socket, message.to_string()).await;
            return;
        }
    };
    if !send(&mut socket, first).await {
        return;
    }
    let every = Duration::from_secs(watcher.state.config.ws_ping_seconds);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        let outgoing = tokio::select! {
            update = updates.recv() => match update {
                Ok(message) => message.to_string(),
                // Fell behind: the latest counts replace whatever was skipped.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => match feed.snapshot(event_id).await {
                    Ok(message) => message,
                    Err(_) => continue,
                },
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                // Pings are answered by the library; clients have nothing else to say.
                Some(Ok(_)) => continue,
            },
            _ = ping.tick() => {
                if !watcher.signed_in().await {
                    let message = serde_json::json!({ "type": "error", "message": "the session has ended" });
                    send(&mut socket, message.to_string()).await;
                    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(None))).await;
                    break;
                }
                serde_json::json!({ "type": "ping" }).to_string()
            }
            _ = stopped.changed() => {
                let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(None))).await;
                break;
            }
        };
        if !send(&mut socket, outgoing).await {
            break;
        }
    }
}
