//! `/api/auth/oauth/{provider}/*`: sign in with an OpenID Connect provider.
//!
//! `authorize` sets a short-lived binding cookie (`HttpOnly`, `SameSite=Lax`, so it comes back on
//! the provider's redirect) whose secret the pending sign-in remembers; `callback` finishes only in
//! the browser that started. A browser then lands on the app's `/auth/callback` with the session
//! cookie set, or with `?error=CODE` (a fixed code: nothing the provider wrote is ever echoed on
//! our origin). An API client asking for JSON gets `AuthResponse` or our error envelope.

use axum::Router;
use axum::extract::State;
use axum::http::header::{ACCEPT, CACHE_CONTROL, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AppState;
use super::error::{ApiError, ErrorBody, Path, Query, Result};
use super::session::{AuthResponse, cookie, session_cookie, signed_in};
use crate::auth::oidc::{OidcError, STATE_TTL_SECONDS};

const BINDING_COOKIE: &str = "ticketing_oauth";

impl From<OidcError> for ApiError {
    fn from(error: OidcError) -> Self {
        match error {
            OidcError::UnknownProvider => Self::NotFound("NOT_FOUND", "no such sign-in provider"),
            OidcError::InvalidState(reason) | OidcError::Unverified(reason) | OidcError::Rejected(reason) => {
                Self::SignInRefused(reason)
            }
            OidcError::Provider { provider, reason } => {
                Self::unavailable("oidc_provider", format!("{provider}: {reason}"))
            }
            OidcError::Auth(e) => e.into(),
        }
    }
}

/// The fixed code the app shows words for.
fn error_code(error: &OidcError) -> &'static str {
    match error {
        OidcError::InvalidState(_) => "invalid_state",
        OidcError::Unverified(_) => "unverified_email",
        OidcError::Provider { .. } | OidcError::Auth(_) => "unavailable",
        OidcError::UnknownProvider | OidcError::Rejected(_) => "sign_in_failed",
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

fn redirect(to: &str, cookie: Option<HeaderValue>) -> Result<Response> {
    let location = HeaderValue::from_str(to).map_err(|e| ApiError::Internal(format!("redirect location: {e}")))?;
    let mut response =
        (StatusCode::FOUND, [(LOCATION, location), (CACHE_CONTROL, HeaderValue::from_static("no-store"))])
            .into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    Ok(response)
}

fn binding_cookie(state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.config.is_https() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{BINDING_COOKIE}={value}; Path=/api/auth/oauth; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("ticketing_oauth=; Max-Age=0"))
}

/// 302 to the provider's sign-in page.
#[utoipa::path(get, path = "/api/auth/oauth/{provider}/authorize", tag = "auth", params(("provider" = String, Path, description = "A configured provider, e.g. `google`")),
    responses((status = 302, description = "To the provider, with state and a PKCE challenge; sets the browser-binding cookie"), (status = 404, description = "No such provider", body = ErrorBody)))]
async fn authorize(State(state): State<AppState>, Path(provider): Path<String>) -> Result<Response> {
    let started = state.oidc.authorize(&provider.to_ascii_lowercase()).await?;
    redirect(&started.url, Some(binding_cookie(&state, &started.browser_secret, STATE_TTL_SECONDS)))
}

/// What the provider sends back. Providers add parameters of their own (`iss`, `session_state`,
/// `error_description`), so unknown ones are ignored here, unlike everywhere else.
#[derive(Debug, Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Completes the sign-in.
#[utoipa::path(get, path = "/api/auth/oauth/{provider}/callback", tag = "auth", params(("provider" = String, Path), ("code" = Option<String>, Query), ("state" = Option<String>, Query), ("error" = Option<String>, Query)),
    responses((status = 200, description = "With `Accept: application/json`", body = AuthResponse), (status = 302, description = "To the app: `/auth/callback` signed in (session cookie set), or `/auth/callback?error=cancelled|provider_error|invalid_state|unverified_email|unavailable|sign_in_failed`"),
        (status = 401, description = "Forged, expired or replayed state; refused code; unverified email", body = ErrorBody), (status = 404, description = "No such provider", body = ErrorBody)))]
async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(query): Query<Callback>,
    headers: HeaderMap,
) -> Result<Response> {
    let wants_json = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"));
    let app = format!("{}/auth/callback", state.config.public_url.trim_end_matches('/'));
    // The binding has done its job whatever happens next.
    let spent = binding_cookie(&state, "", 0);
    let fail = |code: &'static str, error: ApiError| {
        if wants_json { Err(error) } else { redirect(&format!("{app}?error={code}"), Some(spent.clone())) }
    };
    if let Some(error) = query.error {
        let code = if error == "access_denied" { "cancelled" } else { "provider_error" };
        tracing::info!(provider, error = %error.chars().take(64).collect::<String>(), "the provider ended the sign-in");
        return fail(code, ApiError::SignInRefused(format!("the provider ended the sign-in ({code})")));
    }
    let (Some(code), Some(oauth_state)) = (query.code, query.state) else {
        return fail("sign_in_failed", ApiError::InvalidRequest("code and state are required".into()));
    };
    if code.len() > 2048 || oauth_state.len() > 512 {
        return fail("sign_in_failed", ApiError::InvalidRequest("code or state is too long".into()));
    }
    let browser = cookie(&headers, BINDING_COOKIE);
    let email = match state.oidc.complete(&provider.to_ascii_lowercase(), &code, &oauth_state, browser).await {
        Ok(email) => email,
        Err(OidcError::UnknownProvider) => return Err(OidcError::UnknownProvider.into()),
        Err(error) => {
            let code = error_code(&error);
            return fail(code, error.into());
        }
    };
    let Ok(email) = crate::auth::parse_email(&email) else {
        return fail("unverified_email", ApiError::SignInRefused("the provider's address is not usable".into()));
    };
    let user = state.auth.user_for_email(&email, false).await?;
    let (token, session) = state.auth.start_session(&user, state.runtime.clock().now()).await?;
    if wants_json {
        let mut response = signed_in(&state.config, &headers, &token, session);
        response.headers_mut().append(SET_COOKIE, spent);
        return Ok(response);
    }
    let mut response = redirect(&app, Some(spent))?;
    response.headers_mut().append(SET_COOKIE, session_cookie(&state.config, &token));
    Ok(response)
}
