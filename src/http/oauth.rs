//! `/api/auth/oauth/{provider}/*`: sign in with an OpenID Connect provider.

use super::openapi::schema;
use axum::Router;
use axum::extract::State;
use axum::http::header::{ACCEPT, CACHE_CONTROL, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AppState;
use super::auth::AuthResponse;
use super::error::{ApiError, Json, Path, Query, Result};
use crate::auth::oidc::OidcError;

impl From<OidcError> for ApiError {
    fn from(error: OidcError) -> Self {
        match error {
            OidcError::UnknownProvider => Self::NotFound("NOT_FOUND", "no such sign-in provider"),
            OidcError::Rejected(reason) => Self::SignInRefused(reason),
            OidcError::Provider { provider, reason } => {
                Self::unavailable("oidc_provider", format!("{provider}: {reason}"))
            }
            OidcError::Auth(e) => e.into(),
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/oauth/{provider}/authorize", get(authorize))
        .route("/api/auth/oauth/{provider}/callback", get(callback))
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(authorize, callback))]
pub(super) struct Doc;

fn redirect(to: &str) -> Result<Response> {
    let location = HeaderValue::from_str(to).map_err(|e| ApiError::Internal(format!("redirect location: {e}")))?;
    Ok((StatusCode::FOUND, [(LOCATION, location), (CACHE_CONTROL, HeaderValue::from_static("no-store"))])
        .into_response())
}

/// 302 to the provider's sign-in page.
#[utoipa::path(get, path = "/api/auth/oauth/{provider}/authorize", tag = "auth", params(("provider" = String, Path, description = "A configured provider, e.g. `google`")),
    responses((status = 302, description = "To the provider, with state and a PKCE challenge"), (status = 404, description = "No such provider", body = schema::ErrorBody)))]
async fn authorize(State(state): State<AppState>, Path(provider): Path<String>) -> Result<Response> {
    let url = state.oidc.authorize_url(&provider.to_ascii_lowercase()).await?;
    redirect(&url)
}

/// What the provider sends back. Providers add parameters of their own (`iss`, `session_state`),
/// so unknown ones are ignored here, unlike everywhere else.
#[derive(Debug, Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Completes the sign-in. A browser is sent on to the SPA with the session token in the URL
/// fragment (never sent to a server, so never in a log); an API client asking for JSON gets the
/// `AuthResponse` itself.
#[utoipa::path(get, path = "/api/auth/oauth/{provider}/callback", tag = "auth", params(("provider" = String, Path), ("code" = Option<String>, Query), ("state" = Option<String>, Query), ("error" = Option<String>, Query)),
    responses((status = 200, description = "With `Accept: application/json`", body = AuthResponse), (status = 302, description = "To the SPA: `/auth/callback#session_token=...`"),
        (status = 401, description = "Forged, expired or replayed state; refused code; unverified email", body = schema::ErrorBody), (status = 404, description = "No such provider", body = schema::ErrorBody)))]
async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(query): Query<Callback>,
    headers: HeaderMap,
) -> Result<Response> {
    if let Some(error) = query.error {
        let description = query.error_description.unwrap_or_default();
        return Err(ApiError::SignInRefused(format!("the provider answered {error}: {description}")));
    }
    let (Some(code), Some(oauth_state)) = (query.code, query.state) else {
        return Err(ApiError::InvalidRequest("code and state are required".into()));
    };
    if code.len() > 2048 || oauth_state.len() > 512 {
        return Err(ApiError::InvalidRequest("code or state is too long".into()));
    }
    let email = state.oidc.complete(&provider.to_ascii_lowercase(), &code, &oauth_state).await?;
    let email = crate::auth::parse_email(&email)
        .map_err(|_| ApiError::SignInRefused("the provider's address is not usable".into()))?;
    let user = state.auth.user_for_email(&email, false).await?;
    let (session_token, expires_at) = state.auth.start_session(&user, state.runtime.clock().now()).await?;
    let wants_json = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return Ok(Json(AuthResponse { session_token, expires_at, user }).into_response());
    }
    redirect(&format!("{}/auth/callback#session_token={session_token}", state.config.public_url.trim_end_matches('/')))
}
