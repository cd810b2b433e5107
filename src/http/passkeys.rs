//! `/api/auth/passkey/*`: add a passkey to the signed-in account (which needs a recent sign-in:
//! a stolen session must not be able to plant a lasting way in), sign in with one, and
//! `/api/auth/passkeys`: see and remove one's own.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::{Object, ObjectBuilder, Type};
use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
};

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Path, Result};
use super::session::{AuthResponse, SignedIn, signed_in};
use crate::auth::parse_email;
use crate::auth::passkey::{PasskeyError, PasskeySummary};

/// WebAuthn options or credentials exactly as the browser API takes or gives them
/// (`navigator.credentials.create/get`); see the WebAuthn Level 3 specification. Only describes
/// webauthn-rs's own types for the document.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct WebAuthnJson(std::collections::BTreeMap<String, serde_json::Value>);

/// Binary data in WebAuthn's JSON: base64url without padding, canonical (a length of 4n+1
/// cannot be one, and the unused bits of the last character are zero), at most `max_length`.
fn base64url(max_length: usize) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^([A-Za-z0-9_-]{4})*([A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"))
        .max_length(Some(max_length))
        .build()
}

fn credential_id() -> Object {
    base64url(1400)
}

fn binary() -> Object {
    base64url(8000)
}

fn attestation_object() -> Object {
    base64url(16000)
}

/// The user handle, or null when the authenticator gave none.
fn user_handle() -> Object {
    let mut handle = base64url(100);
    handle.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    handle
}

/// The `PublicKeyCredential` `navigator.credentials.get` resolves to, in its JSON form
/// (`toJSON()`): what `login/complete` takes. For the document; webauthn-rs parses it. Binary
/// fields are base64url without padding, canonical (a length of 4n+1 cannot be one, and the
/// unused bits of the last character are zero).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAssertion {
    #[schema(schema_with = credential_id)]
    id: String,
    #[serde(rename = "rawId")]
    #[schema(schema_with = credential_id)]
    raw_id: String,
    response: PasskeyAssertionResponse,
    #[serde(rename = "type")]
    #[schema(example = "public-key")]
    kind: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAssertionResponse {
    #[serde(rename = "authenticatorData")]
    #[schema(schema_with = binary)]
    authenticator_data: String,
    #[serde(rename = "clientDataJSON")]
    #[schema(schema_with = binary)]
    client_data_json: String,
    #[schema(schema_with = binary)]
    signature: String,
    #[serde(rename = "userHandle")]
    #[schema(schema_with = user_handle)]
    user_handle: Option<String>,
}

/// The `PublicKeyCredential` `navigator.credentials.create` resolves to, in its JSON form:
/// what `register/complete` takes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAttestation {
    #[schema(schema_with = credential_id)]
    id: String,
    #[serde(rename = "rawId")]
    #[schema(schema_with = credential_id)]
    raw_id: String,
    response: PasskeyAttestationResponse,
    #[serde(rename = "type")]
    #[schema(example = "public-key")]
    kind: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAttestationResponse {
    #[serde(rename = "attestationObject")]
    #[schema(schema_with = attestation_object)]
    attestation_object: String,
    #[serde(rename = "clientDataJSON")]
    #[schema(schema_with = binary)]
    client_data_json: String,
}

/// How recent a sign-in must be to add a passkey.
const RECENT_SIGN_IN: chrono::Duration = chrono::Duration::minutes(10);

impl From<PasskeyError> for ApiError {
    fn from(error: PasskeyError) -> Self {
        match error {
            PasskeyError::Rejected(reason) => Self::SignInRefused(reason),
            PasskeyError::NoRegistration => {
                Self::NotFound("REGISTRATION_NOT_FOUND", "no passkey registration is in progress (or it expired)")
            }
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
        .route("/api/auth/passkeys", get(list))
        .route("/api/auth/passkeys/{id}", delete(remove))
}

/// Adding a passkey needs a sign-in less than ten minutes old.
fn recently_signed_in(state: &AppState, signed_in: &SignedIn) -> Result<()> {
    if state.runtime.clock().now() - signed_in.signed_in_at < RECENT_SIGN_IN {
        Ok(())
    } else {
        Err(ApiError::RecentSignInRequired)
    }
}

/// This module's part of `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(register_begin, register_complete, login_begin, login_complete, list, remove),
    components(schemas(PasskeyCreated, PasskeySummary, WebAuthnJson, PasskeyAssertion, PasskeyAttestation))
)]
pub(super) struct Doc;

/// WebAuthn creation options for `navigator.credentials.create`; valid five minutes.
#[utoipa::path(post, path = "/api/auth/passkey/register/begin", tag = "auth", security(("session" = [])),
    responses((status = 200, description = "`CreationChallengeResponse` for `navigator.credentials.create`", body = WebAuthnJson),
        (status = 403, description = "FORBIDDEN (details.reason `recent_sign_in_required`): sign in again first", body = ErrorBody)))]
async fn register_begin(State(state): State<AppState>, signed_in: SignedIn) -> Result<Json<CreationChallengeResponse>> {
    recently_signed_in(&state, &signed_in)?;
    Ok(Json(state.passkeys.begin_registration(&signed_in.user).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyCreated {
    pub passkey_id: Uuid,
}

#[utoipa::path(post, path = "/api/auth/passkey/register/complete", tag = "auth", security(("session" = [])),
    request_body(content = PasskeyAttestation, description = "The `PublicKeyCredential` the authenticator created"),
    responses((status = 201, body = PasskeyCreated), (status = 400, description = "The credential does not verify, or is already registered", body = ErrorBody),
        (status = 404, description = "REGISTRATION_NOT_FOUND: no registration in progress (or it expired): begin again", body = ErrorBody),
        (status = 403, description = "FORBIDDEN (details.reason `recent_sign_in_required`)", body = ErrorBody)))]
async fn register_complete(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Json(credential): Json<RegisterPublicKeyCredential>,
) -> Result<(StatusCode, Json<PasskeyCreated>)> {
    recently_signed_in(&state, &signed_in)?;
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
    #[schema(schema_with = super::openapi::optional_email)]
    #[serde(default)]
    email: Option<String>,
}

/// WebAuthn request options for `navigator.credentials.get`: for the account's passkeys when an
/// email with passkeys is given, otherwise for a discoverable passkey.
#[utoipa::path(post, path = "/api/auth/passkey/login/begin", tag = "auth", request_body = LoginBegin,
    responses((status = 200, description = "`RequestChallengeResponse` for `navigator.credentials.get`", body = WebAuthnJson)))]
async fn login_begin(
    State(state): State<AppState>,
    Json(body): Json<LoginBegin>,
) -> Result<Json<RequestChallengeResponse>> {
    let email = body.email.as_deref().map(parse_email).transpose()?;
    Ok(Json(state.passkeys.begin_login(email.as_deref()).await?))
}

#[utoipa::path(post, path = "/api/auth/passkey/login/complete", tag = "auth",
    request_body(content = PasskeyAssertion, description = "The assertion (`PublicKeyCredential`)"),
    responses((status = 200, description = "Signed in: the session cookie is set; `session_token` only for API clients", body = AuthResponse), (status = 401, description = "Unknown, expired or replayed challenge; unknown passkey; bad signature", body = ErrorBody)))]
async fn login_complete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(assertion): Json<PublicKeyCredential>,
) -> Result<Response> {
    let user = state.passkeys.finish_login(&assertion).await?;
    let (token, session) = state.auth.start_session(&user, state.runtime.clock().now()).await?;
    Ok(signed_in(&state.config, &headers, &token, session))
}

#[utoipa::path(get, path = "/api/auth/passkeys", tag = "auth", security(("session" = [])),
    responses((status = 200, description = "The caller's passkeys, oldest first", body = Vec<PasskeySummary>)))]
async fn list(State(state): State<AppState>, signed_in: SignedIn) -> Result<Json<Vec<PasskeySummary>>> {
    Ok(Json(state.passkeys.list(signed_in.user.id).await?))
}

#[utoipa::path(delete, path = "/api/auth/passkeys/{id}", tag = "auth", security(("session" = [])), params(("id" = Uuid, Path)),
    responses((status = 204, description = "Removed"), (status = 404, description = "NOT_FOUND (also someone else's)", body = ErrorBody)))]
async fn remove(State(state): State<AppState>, signed_in: SignedIn, Path(id): Path<Uuid>) -> Result<StatusCode> {
    if state.passkeys.remove(signed_in.user.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("NOT_FOUND", "no such passkey"))
    }
}
