//! `/api/auth`: magic-link sign-in, the current session, logout; and the extractors every
//! protected route uses (`SignedIn`, `AdminUser`). Passkeys and OAuth live in their own modules
//! but share this router, so the rate limit covers them.

use super::openapi::schema;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiError, Json, Result};
use crate::auth::mail::Mail;
use crate::auth::{AuthError, MAGIC_LINK_TTL, User, parse_email};
use crate::domain::values::Timestamp;

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Database(e) => Self::unavailable("auth_db", e),
            AuthError::Redis(e) => Self::unavailable("redis", e),
            AuthError::Random(e) => Self::Internal(e),
        }
    }
}

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/auth/magic-link/send", post(send_magic_link))
        .route("/api/auth/magic-link/verify", post(verify_magic_link))
        .route("/api/auth/session", get(session))
        .route("/api/auth/logout", post(logout))
        .merge(super::passkeys::routes())
        .merge(super::oauth::routes())
        .route_layer(middleware::from_fn_with_state(state, rate_limit))
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(send_magic_link, verify_magic_link, session, logout),
    components(schemas(AuthResponse, crate::auth::User, crate::auth::Role))
)]
pub(super) struct Doc;

/// At most `AUTH_RATE_LIMIT` requests per client address per 15 minutes on `/api/auth/*`.
async fn rate_limit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    match state.auth.rate_limit(&format!("auth:{}", peer.ip()), state.config.auth_rate_limit, 15 * 60).await {
        Ok(Ok(())) => next.run(request).await,
        Ok(Err(retry_after)) => {
            let body = json!({ "code": "RATE_LIMITED", "message": "too many requests, try again later", "details": { "retry_after_seconds": retry_after } });
            let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
            if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
            response
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The token of `Authorization: Bearer <token>`, if the request carries one.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim)
}

/// The signed-in user of a request (`Authorization: Bearer <session_token>`); 401 otherwise.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub token: String,
    pub expires_at: Timestamp,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        // Already looked up for this request (the idempotency middleware does): one Redis trip.
        if let Some(known) = parts.extensions.get::<Self>()
            && known.token == token
        {
            return Ok(known.clone());
        }
        let now = state.runtime.clock().now();
        let (user, expires_at) = state.auth.session(token, now).await?.ok_or(ApiError::Unauthenticated)?;
        Ok(Self { user, token: token.to_owned(), expires_at })
    }
}

/// A signed-in admin; 401 when not signed in, 403 when signed in as a customer.
#[derive(Debug, Clone)]
pub struct AdminUser(pub User);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if signed_in.user.is_admin() { Ok(Self(signed_in.user)) } else { Err(ApiError::Forbidden) }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SendLink {
    email: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct VerifyLink {
    token: String,
}

/// API.md `AuthResponse`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthResponse {
    pub session_token: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
    pub user: User,
}

/// Mails a sign-in link. The answer is the same whether or not the address has an account
/// (the first sign-in creates one), so it reveals nothing about who is a customer.
#[utoipa::path(post, path = "/api/auth/magic-link/send", tag = "auth", request_body = SendLink,
    responses((status = 202, description = "Sent if the address can sign in; the same answer either way", body = schema::LinkSent)))]
async fn send_magic_link(
    State(state): State<AppState>,
    Json(body): Json<SendLink>,
) -> Result<(StatusCode, Json<Value>)> {
    let email = parse_email(&body.email)?;
    let token = state.auth.issue_magic_link(&email).await?;
    let link = format!("{}/auth/verify?token={token}", state.config.public_url.trim_end_matches('/'));
    let mail = Mail {
        to: email,
        subject: "Your sign-in link".into(),
        body: format!("Sign in to Ticketing: {link}\n\nThe link works once, for 15 minutes.\nToken: {token}"),
    };
    state.mailer.send(&mail).await.map_err(|e| ApiError::unavailable("mail", e))?;
    let seconds = MAGIC_LINK_TTL.num_seconds();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "message": "If the address can sign in, a link is on its way.", "expires_in_seconds": seconds })),
    ))
}

#[utoipa::path(post, path = "/api/auth/magic-link/verify", tag = "auth", request_body = VerifyLink,
    responses((status = 200, body = AuthResponse), (status = 401, description = "Unknown, used or expired token", body = schema::ErrorBody)))]
async fn verify_magic_link(State(state): State<AppState>, Json(body): Json<VerifyLink>) -> Result<Json<AuthResponse>> {
    let email = state.auth.redeem_magic_link(body.token.trim()).await?.ok_or(ApiError::Unauthenticated)?;
    let user = state.auth.user_for_email(&email, false).await?;
    let (session_token, expires_at) = state.auth.start_session(&user, state.runtime.clock().now()).await?;
    Ok(Json(AuthResponse { session_token, expires_at, user }))
}

#[utoipa::path(get, path = "/api/auth/session", tag = "auth", security(("session" = [])), responses((status = 200, body = AuthResponse)))]
async fn session(signed_in: SignedIn) -> Json<AuthResponse> {
    Json(AuthResponse { session_token: signed_in.token, expires_at: signed_in.expires_at, user: signed_in.user })
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("session" = [])),
    responses((status = 200, description = "The token is dead on every instance", body = schema::Message)))]
async fn logout(State(state): State<AppState>, signed_in: SignedIn) -> Result<Json<Value>> {
    state.auth.end_session(&signed_in.token).await?;
    Ok(Json(json!({ "message": "signed out" })))
}

/// Whoever is asking, if anyone: public routes show admins a little more (drafts). A missing or
/// unusable token is simply anonymous here.
#[derive(Debug, Clone)]
pub struct Viewer(pub Option<User>);

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.0.as_ref().is_some_and(User::is_admin)
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match SignedIn::from_request_parts(parts, state).await {
            Ok(signed_in) => Ok(Self(Some(signed_in.user))),
            Err(ApiError::Unauthenticated) => Ok(Self(None)),
            Err(other) => Err(other),
        }
    }
}

/// The `Cause` of a request by `user`: the events it leads to carry their id.
pub fn cause_of(user: &User) -> crate::runtime::Cause {
    crate::runtime::Cause::new(Some(user.id))
}
