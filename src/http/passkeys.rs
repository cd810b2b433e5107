//! `/api/auth/passkey/*`: add a passkey to the signed-in account, and sign in with one.

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

/// WebAuthn creation options for `navigator.credentials.create`; valid five minutes.
async fn register_begin(State(state): State<AppState>, signed_in: SignedIn) -> Result<Json<CreationChallengeResponse>> {
    Ok(Json(state.passkeys.begin_registration(&signed_in.user).await?))
}

#[derive(Debug, Serialize)]
pub struct PasskeyCreated {
    pub passkey_id: Uuid,
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBegin {
    #[serde(default)]
    email: Option<String>,
}

/// WebAuthn request options for `navigator.credentials.get`: for the account's passkeys when an
/// email with passkeys is given, otherwise for a discoverable passkey.
async fn login_begin(
    State(state): State<AppState>,
    Json(body): Json<LoginBegin>,
) -> Result<Json<RequestChallengeResponse>> {
    let email = body.email.as_deref().map(parse_email).transpose()?;
    Ok(Json(state.passkeys.begin_login(email.as_deref()).await?))
}

async fn login_complete(
    State(state): State<AppState>,
    Json(assertion): Json<PublicKeyCredential>,
) -> Result<Json<AuthResponse>> {
    let user = state.passkeys.finish_login(&assertion).await?;
    let (session_token, expires_at) = state.auth.start_session(&user, state.runtime.clock().now()).await?;
    Ok(Json(AuthResponse { session_token, expires_at, user }))
}
