//! `/api/auth/passkey/*`: add a passkey to the signed-in account, and sign in with one.

use super::openapi::schema;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
};

use super::AppState;
use super::auth::{AuthResponse, SignedIn};
use super::error::{ApiError, Json, Result};
use crate::auth::parse_email;
use crate::auth::passkey::PasskeyError;

impl From<PasskeyError> for ApiError {
    fn from(error: PasskeyError) -> Self {
        match error {
            PasskeyError::Rejected(reason) => Self::SignInRefused(reason),
            PasskeyError::Auth(e) => e.into(),
            PasskeyError::State(e) => Self::Internal(format!("passkey state: {e}")),
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/passkey/register/begin", post(register_begin))
        .route("/api/auth/passkey/register/complete", post(register_complete))
        .route("/api/auth/passkey/login/begin", post(login_begin))
        .route("/api/auth/passkey/login/complete", post(login_complete))
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(register_begin, register_complete, login_begin, login_complete), components(schemas(PasskeyCreated)))]
pub(super) struct Doc;

/// WebAuthn creation options for `navigator.credentials.create`; valid five minutes.
#[utoipa::path(post, path = "/api/auth/passkey/register/begin", tag = "auth", security(("session" = [])),
    responses((status = 200, description = "`CreationChallengeResponse` for `navigator.credentials.create`", body = schema::WebAuthnJson)))]
async fn register_begin(State(state): State<AppState>, signed_in: SignedIn) -> Result<Json<CreationChallengeResponse>> {
    Ok(Json(state.passkeys.begin_registration(&signed_in.user).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyCreated {
    pub passkey_id: Uuid,
}

#[utoipa::path(post, path = "/api/auth/passkey/register/complete", tag = "auth", security(("session" = [])),
    request_body(content = schema::WebAuthnJson, description = "The `PublicKeyCredential` the authenticator created"),
    responses((status = 201, body = PasskeyCreated), (status = 400, description = "No registration in progress, or the credential does not verify", body = schema::ErrorBody)))]
async fn register_complete(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Json(credential): Json<RegisterPublicKeyCredential>,
) -> Result<(StatusCode, Json<PasskeyCreated>)> {
    let passkey_id = state.passkeys.finish_registration(&signed_in.user, &credential).await.map_err(|e| match e {
        // The user is signed in: a credential that does not verify is a bad request, not a 401.
        PasskeyError::Rejected(reason) => ApiError::InvalidRequest(format!("passkey registration failed: {reason}")),
        other => other.into(),
    })?;
    Ok((StatusCode::CREATED, Json(PasskeyCreated { passkey_id })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginBegin {
    #[serde(default)]
    email: Option<String>,
}

/// WebAuthn request options for `navigator.credentials.get`: for the account's passkeys when an
/// email with passkeys is given, otherwise for a discoverable passkey.
#[utoipa::path(post, path = "/api/auth/passkey/login/begin", tag = "auth", request_body = LoginBegin,
    responses((status = 200, description = "`RequestChallengeResponse` for `navigator.credentials.get`", body = schema::WebAuthnJson)))]
async fn login_begin(
    State(state): State<AppState>,
    Json(body): Json<LoginBegin>,
) -> Result<Json<RequestChallengeResponse>> {
    let email = body.email.as_deref().map(parse_email).transpose()?;
    Ok(Json(state.passkeys.begin_login(email.as_deref()).await?))
}

#[utoipa::path(post, path = "/api/auth/passkey/login/complete", tag = "auth",
    request_body(content = schema::WebAuthnJson, description = "The assertion (`PublicKeyCredential`)"),
    responses((status = 200, body = AuthResponse), (status = 401, description = "Unknown, expired or replayed challenge; unknown passkey; bad signature", body = schema::ErrorBody)))]
async fn login_complete(
    State(state): State<AppState>,
    Json(assertion): Json<PublicKeyCredential>,
) -> Result<Json<AuthResponse>> {
    let user = state.passkeys.finish_login(&assertion).await?;
    let (session_token, expires_at) = state.auth.start_session(&user, state.runtime.clock().now()).await?;
    Ok(Json(AuthResponse { session_token, expires_at, user }))
}
