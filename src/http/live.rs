//! `GET /ws/events/{id}/availability`: live section counts over a WebSocket.
//!
//! Browsers cannot set headers on a WebSocket, so the session comes as `?session_id=`; it is
//! checked, with the event and the connection limit, before the upgrade, so a refusal is an
//! ordinary HTTP answer in our error format.

use super::openapi::schema;
use std::time::Duration;

use super::auth::bearer_token;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, Path, Query, Result};
use crate::live::{AvailabilityFeed, Slot};

pub fn router() -> Router<AppState> {
    Router::new().route("/ws/events/{id}/availability", get(availability))
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(availability))]
pub(super) struct Doc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Connect {
    session_id: Option<String>,
}

#[utoipa::path(get, path = "/ws/events/{id}/availability", tag = "events", params(("id" = Uuid, Path), ("session_id" = Option<String>, Query, description = "Session token (browsers cannot set headers on a WebSocket)")),
    responses((status = 101, description = "WebSocket: `{type: availability, event_id, sections, timestamp}` on connect and on change (at most one per 100 ms), `{type: ping}`, `{type: error, message}`"),
        (status = 401, description = "UNAUTHENTICATED", body = schema::ErrorBody), (status = 404, description = "EVENT_NOT_FOUND", body = schema::ErrorBody), (status = 503, description = "WS_MAX_CONNECTIONS reached", body = schema::ErrorBody)))]
async fn availability(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Query(query): Query<Connect>,
    headers: HeaderMap,
    upgrade: std::result::Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response> {
    let token = query
        .session_id
        .as_deref()
        .or_else(|| bearer_token(&headers))
        .ok_or(ApiError::Unauthenticated)?
        .trim()
        .to_owned();
    let now = state.runtime.clock().now();
    state.auth.session(&token, now).await?.ok_or(ApiError::Unauthenticated)?;
    super::events::public_event(&state, id).await?;
    let upgrade = upgrade.map_err(|e| ApiError::InvalidRequest(format!("a WebSocket upgrade is required: {e}")))?;
    let slot = state
        .live
        .acquire()
        .ok_or_else(|| ApiError::unavailable("websocket_capacity", "WS_MAX_CONNECTIONS reached on this instance"))?;
    let watcher = Watcher { feed: state.live.clone(), state, token, event_id: id };
    Ok(upgrade.on_upgrade(move |socket| serve(socket, watcher, slot)))
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
            let _ = socket.send(Message::Text(message.to_string().into())).await;
            return;
        }
    };
    if socket.send(Message::Text(first.into())).await.is_err() {
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
                    let _ = socket.send(Message::Text(message.to_string().into())).await;
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
                serde_json::json!({ "type": "ping" }).to_string()
            }
            _ = stopped.changed() => {
                let _ = socket.send(Message::Close(None)).await;
                break;
            }
        };
        if socket.send(Message::Text(outgoing.into())).await.is_err() {
            break;
        }
    }
}
