//! Passkeys (WebAuthn) with webauthn-rs.
//!
//! Registration: a signed-in user asks for creation options, their authenticator answers, the
//! credential is stored in `ticketing_auth.passkeys`. Login: request options for one user's passkeys
//! (by email) or, without an email, for a discoverable credential the authenticator picks.
//!
//! The state between the two steps of a ceremony lives in Redis for five minutes and is taken with
//! GETDEL, so each challenge is answered at most once: a replayed assertion finds no state and is
//! refused (and its signature counter would not have moved anyway). Login state is keyed by the
//! SHA-256 of the challenge, which the client echoes inside the signed client data, so the
//! complete step needs nothing but the assertion itself.

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs::prelude::{
    Base64UrlSafeData, CreationChallengeResponse, DiscoverableAuthentication, DiscoverableKey, Passkey,
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Webauthn, WebauthnBuilder,
};

use super::{Auth, AuthError, User, hex};

/// How long a ceremony may take between its two steps.
pub const CHALLENGE_TTL_SECONDS: u64 = 300;

/// Why a passkey ceremony did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The client's answer does not complete a ceremony we started (expired, replayed, forged,
    /// unknown credential, bad signature).
    #[error("{0}")]
    Rejected(String),
    /// No registration was begun for this account (or it expired): nothing to complete.
    #[error("no passkey registration is in progress (or it expired)")]
    NoRegistration,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("passkey state: {0}")]
    State(#[from] serde_json::Error),
}

impl From<sqlx::Error> for PasskeyError {
    fn from(error: sqlx::Error) -> Self {
        Self::Auth(AuthError::Database(error))
    }
}

impl From<redis::RedisError> for PasskeyError {
    fn from(error: redis::RedisError) -> Self {
        Self::Auth(AuthError::Redis(error))
    }
}

#[derive(Serialize, Deserialize)]
enum LoginState {
    /// Options listed this user's credentials.
    ForUser(PasskeyAuthentication),
    /// The authenticator chooses; its answer names the user (user handle = our user id).
    Discoverable(DiscoverableAuthentication),
}

#[derive(Clone)]
pub struct Passkeys {
    webauthn: std::sync::Arc<Webauthn>,
    auth: Auth,
    /// Key for decoy credential ids (see [`Passkeys::begin_login`]), loaded on first use.
    decoy_key: std::sync::Arc<tokio::sync::OnceCell<Vec<u8>>>,
}

/// A registered passkey as its owner sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PasskeySummary {
    pub passkey_id: Uuid,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: crate::domain::values::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<crate::domain::values::Timestamp>,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkeys").finish_non_exhaustive()
    }
}

/// The signature counter a credential was registered with (webauthn-rs keeps it inside).
fn passkey_counter(passkey: &Passkey) -> u32 {
    serde_json::to_value(passkey)
        .ok()
        .and_then(|v| v.pointer("/cred/counter").and_then(serde_json::Value::as_u64))
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(0)
}

#[derive(Deserialize)]
struct ClientData {
    challenge: Base64UrlSafeData,
}

impl Passkeys {
    /// Passkeys bound to `rp_id` (a domain) and used from `origin` (the public URL).
    ///
    /// # Errors
    /// The origin is not a URL, or `rp_id` is not a suffix of its host.
    pub fn new(rp_id: &str, origin: &str, auth: Auth) -> Result<Self, String> {
        let origin = Url::parse(origin).map_err(|e| format!("PUBLIC_URL: {e}"))?;
        let webauthn = WebauthnBuilder::new(rp_id, &origin)
            .and_then(|b| b.rp_name("Ticketing").build())
            .map_err(|e| format!("WEBAUTHN_RP_ID {rp_id:?} with origin {origin}: {e}"))?;
        Ok(Self { webauthn: std::sync::Arc::new(webauthn), auth, decoy_key: std::sync::Arc::default() })
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}passkey:{kind}:{id}", self.auth.prefix())
    }

    async fn put_state(&self, key: &str, state: &impl Serialize) -> Result<(), PasskeyError> {
        let mut redis = self.auth.redis();
        let () = redis.set_ex(key, serde_json::to_string(state)?, CHALLENGE_TTL_SECONDS).await?;
        Ok(())
    }

    async fn take_state<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Result<Option<T>, PasskeyError> {
        let mut redis = self.auth.redis();
        let raw: Option<String> = redis.get_del(key).await?;
        Ok(raw.map(|r| serde_json::from_str(&r)).transpose()?)
    }

    /// `(passkey_id, passkey)` of every credential `user` has registered.
    async fn passkeys_of(&self, user: Uuid) -> Result<Vec<(Uuid, Passkey)>, PasskeyError> {
        let rows: Vec<(Uuid, sqlx::types::Json<Passkey>)> =
            sqlx::query_as("SELECT passkey_id, passkey FROM passkeys WHERE user_id = $1 ORDER BY created_at")
                .bind(user)
                .fetch_all(self.auth.users_db())
                .await?;
        Ok(rows.into_iter().map(|(id, passkey)| (id, passkey.0)).collect())
    }

    /// Creation options for a new passkey of `user` (their existing ones are excluded).
    ///
    /// # Errors
    /// Redis or the auth database.
    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn begin_registration(&self, user: &User) -> Result<CreationChallengeResponse, PasskeyError> {
        let existing = self.passkeys_of(user.id).await?;
        let exclude = existing.iter().map(|(_, p)| p.cred_id().clone()).collect();
        let (mut options, state) = self
            .webauthn
            .start_passkey_registration(user.id, &user.email, &user.email, Some(exclude))
            .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
        // Ask for a discoverable credential (a passkey proper), so the user can sign in without
        // typing an address and browsers can offer it in autofill.
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(webauthn_rs_proto::ResidentKeyRequirement::Preferred);
        }
        self.put_state(&self.key("register", &user.id.to_string()), &state).await?;
        Ok(options)
    }

    /// Verifies the authenticator's answer and stores the passkey; returns its id.
    ///
    /// # Errors
    /// `Rejected` when no registration is pending for `user` or the answer does not verify.
    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn finish_registration(
        &self,
        user: &User,
        credential: &RegisterPublicKeyCredential,
    ) -> Result<Uuid, PasskeyError> {
        let state: PasskeyRegistration =
            self.take_state(&self.key("register", &user.id.to_string())).await?.ok_or(PasskeyError::NoRegistration)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(|e| PasskeyError::Rejected(format!("the credential did not verify: {e}")))?;
        let id = Uuid::new_v4();
        let credential_id: &[u8] = passkey.cred_id().as_ref();
        let inserted = sqlx::query(
            "INSERT INTO passkeys (passkey_id, user_id, credential_id, passkey, sign_count) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (credential_id) DO NOTHING",
        )
        .bind(id)
        .bind(user.id)
        .bind(credential_id)
        .bind(sqlx::types::Json(&passkey))
        .bind(i64::from(passkey_counter(&passkey)))
        .execute(self.auth.users_db())
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(PasskeyError::Rejected("this passkey is already registered".into()));
        }
        Ok(id)
    }

    /// Request options: for the passkeys of `email` when it has some, otherwise for a discoverable
    /// credential (so an unknown address gets an answer of the same kind).
    ///
    /// # Errors
    /// Redis or the auth database.
    #[tracing::instrument(skip_all)]
    pub async fn begin_login(&self, email: Option<&str>) -> Result<RequestChallengeResponse, PasskeyError> {
        let user = match email {
            Some(email) => self.auth.user_by_email(email).await?,
            None => None,
        };
        let passkeys = match &user {
            Some(user) => self.passkeys_of(user.id).await?.into_iter().map(|(_, p)| p).collect(),
            None => Vec::new(),
        };
        let rejected = |e: webauthn_rs::prelude::WebauthnError| PasskeyError::Rejected(e.to_string());
        let (options, state) = if passkeys.is_empty() {
            let (mut options, state) = self.webauthn.start_discoverable_authentication().map_err(rejected)?;
            if let Some(email) = email {
                // Unknown address, or one without passkeys: list credential ids that look like
                // an account's (stable per address), so the answer tells nobody who has one.
                options.public_key.allow_credentials = self.decoys(email).await?;
            }
            (options, LoginState::Discoverable(state))
        } else {
            let (options, state) = self.webauthn.start_passkey_authentication(&passkeys).map_err(rejected)?;
            (options, LoginState::ForUser(state))
        };
        let challenge: &[u8] = options.public_key.challenge.as_ref();
        self.put_state(&self.key("login", &hex(challenge)), &state).await?;
        Ok(options)
    }

    /// One or two credential ids derived from a server secret and `email`: the same every time
    /// for the same address, unlinkable to anything real.
    async fn decoys(&self, email: &str) -> Result<Vec<webauthn_rs_proto::AllowCredentials>, PasskeyError> {
        use hmac::{Hmac, Mac};
        let key = self.decoy_key.get_or_try_init(|| self.auth.server_secret("passkey-decoys")).await?;
        let keyed = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
            .map_err(|e| PasskeyError::Rejected(format!("decoy key: {e}")))?;
        let derive = |n: u8| {
            let mut mac = keyed.clone();
            mac.update(email.as_bytes());
            mac.update(&[n]);
            mac.finalize().into_bytes().to_vec()
        };
        let count = 1 + derive(0)[0] % 2;
        Ok((1..=count)
            .map(|n| webauthn_rs_proto::AllowCredentials {
                type_: "public-key".into(),
                id: derive(n).into(),
                transports: None,
            })
            .collect())
    }

    /// The passkeys `user` has registered, oldest first.
    ///
    /// # Errors
    /// The auth database.
    pub async fn list(&self, user: Uuid) -> Result<Vec<PasskeySummary>, PasskeyError> {
        let rows: Vec<(Uuid, crate::domain::values::Timestamp, Option<crate::domain::values::Timestamp>)> =
            sqlx::query_as(
                "SELECT passkey_id, created_at, last_used_at FROM passkeys WHERE user_id = $1 ORDER BY created_at",
            )
            .bind(user)
            .fetch_all(self.auth.users_db())
            .await?;
        Ok(rows
            .into_iter()
            .map(|(passkey_id, created_at, last_used_at)| PasskeySummary { passkey_id, created_at, last_used_at })
            .collect())
    }

    /// Removes one of `user`'s passkeys; `false` if they have none with that id.
    ///
    /// # Errors
    /// The auth database.
    pub async fn remove(&self, user: Uuid, passkey_id: Uuid) -> Result<bool, PasskeyError> {
        let deleted = sqlx::query("DELETE FROM passkeys WHERE passkey_id = $1 AND user_id = $2")
            .bind(passkey_id)
            .bind(user)
            .execute(self.auth.users_db())
            .await?;
        Ok(deleted.rows_affected() == 1)
    }

    /// The user an assertion signs in, once: the challenge it answers is consumed.
    ///
    /// # Errors
    /// `Rejected` for an unknown, expired or already answered challenge, an unknown credential or a
    /// signature that does not verify.
    #[tracing::instrument(skip_all)]
    pub async fn finish_login(&self, assertion: &PublicKeyCredential) -> Result<User, PasskeyError> {
        let client_data: ClientData = serde_json::from_slice(assertion.response.client_data_json.as_ref())
            .map_err(|_| PasskeyError::Rejected("clientDataJSON is not client data".into()))?;
        let challenge: &[u8] = client_data.challenge.as_ref();
        let state: LoginState = self
            .take_state(&self.key("login", &hex(challenge)))
            .await?
            .ok_or_else(|| PasskeyError::Rejected("unknown, expired or already used challenge".into()))?;
        let credential_id: &[u8] = assertion.raw_id.as_ref();
        let row: Option<(Uuid, Uuid, sqlx::types::Json<Passkey>)> =
            sqlx::query_as("SELECT passkey_id, user_id, passkey FROM passkeys WHERE credential_id = $1")
                .bind(credential_id)
                .fetch_optional(self.auth.users_db())
                .await?;
        let (passkey_id, user_id, sqlx::types::Json(mut passkey)) =
            row.ok_or_else(|| PasskeyError::Rejected("unknown passkey".into()))?;
        let result = match state {
            LoginState::ForUser(state) => self.webauthn.finish_passkey_authentication(assertion, &state),
            LoginState::Discoverable(state) => {
                let (claimed_user, _) = self
                    .webauthn
                    .identify_discoverable_authentication(assertion)
                    .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
                if claimed_user != user_id {
                    return Err(PasskeyError::Rejected("the passkey belongs to another user".into()));
                }
                self.webauthn.finish_discoverable_authentication(assertion, state, &[DiscoverableKey::from(&passkey)])
            }
        }
        .map_err(|e| PasskeyError::Rejected(format!("the assertion did not verify: {e}")))?;
        // The stored credential is rewritten only when the signature counter (or a flag) moved,
        // and the counter only ever forward: of two sign-ins racing, the later count stays.
        let changed = (passkey.update_credential(&result) == Some(true)).then_some(sqlx::types::Json(&passkey));
        sqlx::query(
            "UPDATE passkeys SET last_used_at = now(),
                    passkey = CASE WHEN $2::jsonb IS NOT NULL AND $3 >= sign_count THEN $2 ELSE passkey END,
                    sign_count = GREATEST(sign_count, $3)
             WHERE passkey_id = $1",
        )
        .bind(passkey_id)
        .bind(changed)
        .bind(i64::from(result.counter()))
        .execute(self.auth.users_db())
        .await?;
        self.auth.user(user_id).await?.ok_or_else(|| PasskeyError::Rejected("the account is gone".into()))
    }
}
