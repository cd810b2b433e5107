//! `/api/auth`: magic-link sign-in, the current session, logout (here and everywhere), the list of
//! OpenID providers. Passkeys and OAuth live in their own modules but share this router, so the
//! rate limit covers them. Who is calling is `session`'s business.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::client_ip::ClientIp;
use super::error::{ApiError, ErrorBody, Json, Message, Result};
use super::session::{AuthResponse, SignedIn, cleared_session_cookie, signed_in};
use crate::auth::mail::Mail;
use crate::auth::{AuthError, MAGIC_LINK_TTL, parse_email};

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
        .route("/api/auth/logout-all", post(logout_all))
        .route("/api/auth/providers", get(providers))
        .merge(super::passkeys::routes())
        .merge(super::oauth::routes())
        .route_layer(middleware::from_fn_with_state(state, rate_limit))
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(send_magic_link, verify_magic_link, session, logout, logout_all, providers),
    components(schemas(AuthResponse, Provider, LinkSent, Message, crate::auth::User, crate::auth::Role))
)]
pub(super) struct Doc;

/// At most `AUTH_RATE_LIMIT` requests per client address per 15 minutes on `/api/auth/*`.
async fn rate_limit(State(state): State<AppState>, client: ClientIp, request: Request, next: Next) -> Response {
    let key = format!("auth:{}", client.bucket());
    match state.auth.rate_limit(&key, state.config.auth_rate_limit, 15 * 60).await {
        Ok(Ok(())) => next.run(request).await,
        Ok(Err(retry_after)) => ApiError::RateLimited(retry_after).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SendLink {
    #[schema(schema_with = super::openapi::email)]
    email: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct VerifyLink {
    token: String,
}

/// Mails a sign-in link. The answer is the same whether or not the address has an account
/// (the first sign-in creates one), so it reveals nothing about who is a customer.
#[utoipa::path(post, path = "/api/auth/magic-link/send", tag = "auth", request_body = SendLink,
    responses((status = 202, description = "Sent if the address can sign in; the same answer either way", body = LinkSent)))]
async fn send_magic_link(
    State(state): State<AppState>,
    Json(body): Json<SendLink>,
) -> Result<(StatusCode, Json<LinkSent>)> {
    let email = parse_email(&body.email)?;
    let per_address = format!("magic-link:{}", crate::auth::hashed(&email));
    // Per address, whoever asks: nobody can flood someone else's inbox.
    if let Err(retry_after) = state.auth.rate_limit(&per_address, state.config.magic_links_per_address, 3_600).await? {
        return Err(ApiError::RateLimited(retry_after));
    }
    let token = state.auth.issue_magic_link(&email).await?;
    // In the fragment: a browser never sends it to a server, so no log or proxy sees it.
    let link = format!("{}/auth/verify#token={token}", state.config.public_url.trim_end_matches('/'));
    let mail = Mail::text(
        email,
        "Your sign-in link",
        format!("Sign in to Ticketing: {link}\n\nThe link works once, for 15 minutes.\nToken: {token}"),
    );
    state.mailer.send(&mail).await.map_err(|e| ApiError::unavailable("mail", e))?;
    let seconds = MAGIC_LINK_TTL.num_seconds();
    Ok((
        StatusCode::ACCEPTED,
        Json(LinkSent { message: "If the address can sign in, a link is on its way.", expires_in_seconds: seconds }),
    ))
}

#[utoipa::path(post, path = "/api/auth/magic-link/verify", tag = "auth", request_body = VerifyLink,
    responses((status = 200, description = "Signed in: the session cookie is set; `session_token` is in the body only for API clients (requests without `Origin`)", body = AuthResponse),
        (status = 401, description = "Unknown, used or expired token", body = ErrorBody)))]
async fn verify_magic_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<VerifyLink>,
) -> Result<Response> {
    let email = state.auth.redeem_magic_link(body.token.trim()).await?.ok_or(ApiError::Unauthenticated)?;
    let user = state.auth.user_for_email(&email, false).await?;
    let (token, session) = state.auth.start_session(&user, state.runtime.clock().now()).await?;
    Ok(signed_in(&state.config, &headers, &token, session))
}

#[utoipa::path(get, path = "/api/auth/session", tag = "auth", security(("session" = [])),
    responses((status = 200, description = "The caller's session (`session_token` only for bearer callers, who have it anyway)", body = AuthResponse)))]
async fn session(signed_in: SignedIn) -> Response {
    let body = AuthResponse {
        session_token: (!signed_in.via_cookie).then_some(signed_in.token),
        expires_at: signed_in.expires_at,
        user: signed_in.user,
    };
    ([(CACHE_CONTROL, HeaderValue::from_static("no-store"))], axum::Json(body)).into_response()
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("session" = [])),
    responses((status = 200, description = "The session is dead on every instance; the cookie is cleared", body = Message)))]
async fn logout(State(state): State<AppState>, signed_in: SignedIn) -> Result<Response> {
    state.auth.end_session(&signed_in.token, signed_in.user.id).await?;
    let cleared = cleared_session_cookie(&state.config);
    Ok(([(SET_COOKIE, cleared)], Json(Message::new("signed out"))).into_response())
}

#[utoipa::path(post, path = "/api/auth/logout-all", tag = "auth", security(("session" = [])),
    responses((status = 200, description = "Every session of the user has ended, on every device", body = Message)))]
async fn logout_all(State(state): State<AppState>, signed_in: SignedIn) -> Result<Response> {
    let ended = state.auth.end_all_sessions(signed_in.user.id).await?;
    let cleared = cleared_session_cookie(&state.config);
    let message = format!("signed out of {ended} session{}", if ended == 1 { "" } else { "s" });
    Ok(([(SET_COOKIE, cleared)], Json(Message::new(message))).into_response())
}

/// The answer to `magic-link/send`: the same whether or not the address has an account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkSent {
    pub message: &'static str,
    pub expires_in_seconds: i64,
}

/// A configured OpenID Connect provider, as the sign-in page offers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Provider {
    /// The `{provider}` of the OAuth routes, e.g. `google`.
    pub name: String,
    /// Where the sign-in button goes.
    pub authorize_url: String,
}

#[utoipa::path(get, path = "/api/auth/providers", tag = "auth", responses((status = 200, body = Vec<Provider>)))]
async fn providers(State(state): State<AppState>) -> Json<Vec<Provider>> {
    Json(
        state
            .config
            .oidc_providers
            .iter()
            .map(|p| Provider { name: p.name.clone(), authorize_url: format!("/api/auth/oauth/{}/authorize", p.name) })
            .collect(),
    )
}
