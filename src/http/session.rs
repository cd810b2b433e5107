//! Who is calling: the session a request carries, and the extractors every route uses
//! (`SignedIn`, `AdminUser`, `StaffUser`, `Viewer`).
//!
//! Two ways to carry a session (API.md): API clients send `Authorization: Bearer <token>`; the
//! web app has an `HttpOnly`, `SameSite=Strict` cookie the server set at sign-in, so no script can
//! read the token. A cookie is sent by the browser on its own, so an unsafe request authenticated
//! by one must also come from our own page: its `Origin` must be `PUBLIC_URL` (else 403).
//! Answers to cookie callers never carry the token.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, COOKIE, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::AppState;
use super::error::{ApiError, Result};
use crate::auth::{SESSION_MAX_AGE, Session, User};
use crate::config::Config;
use crate::domain::values::Timestamp;

/// How a request proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    Bearer(&'a str),
    Cookie(&'a str),
}

impl<'a> Credential<'a> {
    pub fn token(self) -> &'a str {
        match self {
            Self::Bearer(token) | Self::Cookie(token) => token,
        }
    }
}

/// The token of `Authorization: Bearer <token>`, if the request carries one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim)
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// The session credential of a request: a bearer token wins over a cookie.
pub fn credential<'a>(headers: &'a HeaderMap, config: &Config) -> Option<Credential<'a>> {
    if let Some(token) = bearer_token(headers) {
        return Some(Credential::Bearer(token));
    }
    cookie(headers, config.session_cookie_name()).map(Credential::Cookie)
}

/// `Set-Cookie` for a new session: `HttpOnly`, `SameSite=Strict`, `Secure` (and the `__Host-`
/// prefix) on https, living as long as the session can.
pub fn session_cookie(config: &Config, token: &str) -> HeaderValue {
    let secure = if config.is_https() { "; Secure" } else { "" };
    let value = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        config.session_cookie_name(),
        SESSION_MAX_AGE.num_seconds()
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("ticketing_session=; Max-Age=0"))
}

/// `Set-Cookie` that removes the session cookie.
pub fn cleared_session_cookie(config: &Config) -> HeaderValue {
    let secure = if config.is_https() { "; Secure" } else { "" };
    let value = format!("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}", config.session_cookie_name());
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("ticketing_session=; Max-Age=0"))
}

/// Whether the request's `Origin` is our own (`PUBLIC_URL`).
pub fn same_origin(headers: &HeaderMap, config: &Config) -> bool {
    headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| origin.trim_end_matches('/').eq_ignore_ascii_case(config.public_origin()))
}

/// The signed-in caller of a request, if any.
///
/// # Errors
/// 403 for a cookie-authenticated unsafe request from another origin (cross-site request
/// forgery); 503 when the session store is down.
pub async fn authenticate(headers: &HeaderMap, method: &Method, state: &AppState) -> Result<Option<SignedIn>> {
    let Some(credential) = credential(headers, &state.config) else { return Ok(None) };
    if matches!(credential, Credential::Cookie(_)) && !method.is_safe() && !same_origin(headers, &state.config) {
        return Err(ApiError::ForeignOrigin);
    }
    let now = state.runtime.clock().now();
    let Some(session) = state.auth.session(credential.token(), now).await? else { return Ok(None) };
    Ok(Some(SignedIn {
        user: session.user,
        token: credential.token().to_owned(),
        via_cookie: matches!(credential, Credential::Cookie(_)),
        signed_in_at: session.signed_in_at,
        expires_at: session.expires_at,
    }))
}

/// The signed-in user of a request; 401 otherwise.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub token: String,
    /// The session came as the web app's cookie (answers must not show the token).
    pub via_cookie: bool,
    pub signed_in_at: Timestamp,
    pub expires_at: Timestamp,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Already looked up for this request (the idempotency middleware does): one Redis trip.
        if let Some(known) = parts.extensions.get::<Self>() {
            return Ok(known.clone());
        }
        let signed_in = authenticate(&parts.headers, &parts.method, state).await?.ok_or(ApiError::Unauthenticated)?;
        parts.extensions.insert(signed_in.clone());
        Ok(signed_in)
    }
}

/// A signed-in admin; 401 when not signed in, 403 otherwise.
#[derive(Debug, Clone)]
pub struct AdminUser(pub User);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if signed_in.user.is_admin() { Ok(Self(signed_in.user)) } else { Err(ApiError::Forbidden) }
    }
}

/// Whoever is asking, if anyone: public routes show admins a little more (drafts). A missing or
/// unusable session is simply anonymous here, and so is a session store that is down: the
/// public catalogue does not depend on Redis.
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
        match authenticate(&parts.headers, &parts.method, state).await {
            Ok(signed_in) => Ok(Self(signed_in.map(|s| s.user))),
            Err(ApiError::Unavailable { dependency, cause }) => {
                tracing::warn!(dependency, cause, "session store unavailable: answering as to a visitor");
                Ok(Self(None))
            }
            Err(other) => Err(other),
        }
    }
}

/// The `Cause` of a request by `user`: the events it leads to carry their id.
pub fn cause_of(user: &User) -> crate::runtime::Cause {
    crate::runtime::Cause::new(Some(user.id))
}

/// API.md `AuthResponse`. `session_token` is there only for API clients: a browser keeps its
/// session in the cookie, where no script can read it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthResponse {
    /// For API clients (`Authorization: Bearer`); absent for browsers (the cookie carries it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
    pub user: User,
}

/// The answer to a completed sign-in: the cookie for a browser (a request with an `Origin`),
/// the token in the body for an API client; never stored by a cache.
pub fn signed_in(config: &Config, request_headers: &HeaderMap, token: &str, session: Session) -> Response {
    let browser = request_headers.contains_key(ORIGIN);
    let body = AuthResponse {
        session_token: (!browser).then(|| token.to_owned()),
        expires_at: session.expires_at,
        user: session.user,
    };
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(SET_COOKIE, session_cookie(config, token));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; ticketing_session=abc ; b=2"));
        headers.append(COOKIE, HeaderValue::from_static("c=3"));
        assert_eq!(cookie(&headers, "ticketing_session"), Some("abc"));
        assert_eq!(cookie(&headers, "c"), Some("3"));
        assert_eq!(cookie(&headers, "session"), None);
    }
}
