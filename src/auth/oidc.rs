//! Sign-in with OpenID Connect providers (authorization code + PKCE + state), with the oauth2 crate.
//!
//! Each provider comes from `OIDC_<NAME>_ISSUER/_CLIENT_ID/_CLIENT_SECRET`; its endpoints are
//! discovered from `<issuer>/.well-known/openid-configuration` on first use (so a provider that is
//! down does not stop the server from starting) and the discovered issuer must equal the configured
//! one. `state`, the PKCE verifier and a `nonce` live in Redis for ten minutes and are taken once: a
//! forged, expired or replayed `state` finds nothing. The code is exchanged server to server with the
//! client secret and the verifier. The ID token that comes back is verified (signature against the
//! provider's published keys, issuer, audience, expiry, our nonce); the address comes from the
//! userinfo endpoint for the same subject and must be `email_verified`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;

use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    Scope, TokenResponse, TokenUrl,
};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use super::{Auth, AuthError, hashed};
use crate::config::OidcProviderConfig;

/// How long a user may take at the provider.
pub const STATE_TTL_SECONDS: u64 = 600;

/// Why an OAuth sign-in did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("unknown provider")]
    UnknownProvider,
    /// The callback does not complete a sign-in this browser started (unknown, expired, replayed
    /// or foreign `state`).
    #[error("{0}")]
    InvalidState(String),
    /// The provider has not verified the person's address (or gave none).
    #[error("{0}")]
    Unverified(String),
    /// The provider refused, or its answer does not verify.
    #[error("{0}")]
    Rejected(String),
    /// The provider could not be reached or answered nonsense.
    #[error("provider {provider}: {reason}")]
    Provider { provider: String, reason: String },
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<redis::RedisError> for OidcError {
    fn from(error: redis::RedisError) -> Self {
        Self::Auth(AuthError::Redis(error))
    }
}

#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
}

#[derive(Serialize, Deserialize)]
struct PendingSignIn {
    provider: String,
    pkce_verifier: String,
    nonce: String,
    /// SHA-256 of the secret in the browser's binding cookie: the callback must come from the
    /// browser that started the sign-in (else anyone could finish their own sign-in in a
    /// victim's browser and have the victim's purchases land in their account).
    browser: String,
}

/// A sign-in about to start: where to send the browser, and the secret its binding cookie keeps.
#[derive(Debug)]
pub struct Authorization {
    pub url: String,
    pub browser_secret: String,
}

/// The token endpoint's answer: OAuth's fields plus OpenID Connect's `id_token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    id_token: Option<String>,
}

impl oauth2::ExtraTokenFields for IdTokenField {}

type TokenAnswer = oauth2::StandardTokenResponse<IdTokenField, oauth2::basic::BasicTokenType>;

/// The ID token claims we check.
#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    nonce: Option<String>,
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
}

struct Provider {
    config: OidcProviderConfig,
    discovered: OnceCell<Discovery>,
}

/// The configured providers.
#[derive(Clone)]
pub struct Oidc {
    providers: Arc<HashMap<String, Provider>>,
    http: reqwest::Client,
    jwks: Jwks,
    public_url: String,
    auth: Auth,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc").field("providers", &self.providers.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

impl Oidc {
    /// # Errors
    /// The HTTP client cannot be built (no TLS backend).
    pub fn new(configs: &[OidcProviderConfig], public_url: &str, auth: Auth) -> Result<Self, String> {
        // No redirects: following one during a token exchange could leak the code elsewhere.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| format!("OIDC HTTP client: {e}"))?;
        let providers = configs
            .iter()
            .map(|c| (c.name.clone(), Provider { config: c.clone(), discovered: OnceCell::new() }))
            .collect();
        let jwks = Jwks::new(http.clone());
        Ok(Self {
            providers: Arc::new(providers),
            http,
            jwks,
            public_url: public_url.trim_end_matches('/').to_owned(),
            auth,
        })
    }

    fn redirect_url(&self, name: &str) -> String {
        format!("{}/api/auth/oauth/{name}/callback", self.public_url)
    }

    async fn discovery<'a>(&self, provider: &'a Provider) -> Result<&'a Discovery, OidcError> {
        let failed = |reason: String| OidcError::Provider { provider: provider.config.name.clone(), reason };
        provider
            .discovered
            .get_or_try_init(|| async {
                let url = format!("{}/.well-known/openid-configuration", provider.config.issuer);
                let response = self.http.get(&url).send().await.map_err(|e| failed(format!("discovery: {e}")))?;
                if !response.status().is_success() {
                    return Err(failed(format!("discovery answered {}", response.status())));
                }
                let discovery: Discovery =
                    response.json().await.map_err(|e| failed(format!("discovery document: {e}")))?;
                if discovery.issuer.trim_end_matches('/') != provider.config.issuer {
                    return Err(failed(format!("discovered issuer {} is not the configured one", discovery.issuer)));
                }
                Ok(discovery)
            })
            .await
    }

    fn state_key(&self, state: &str) -> String {
        format!("{}oauth:state:{}", self.auth.prefix(), hashed(state))
    }

    /// Where to send the browser: the provider's authorization endpoint with a fresh `state` and
    /// PKCE challenge (both remembered here), and the secret that binds the sign-in to the browser.
    ///
    /// # Errors
    /// Unknown provider, discovery failed, or Redis.
    #[tracing::instrument(skip(self))]
    pub async fn authorize(&self, name: &str) -> Result<Authorization, OidcError> {
        let provider = self.providers.get(name).ok_or(OidcError::UnknownProvider)?;
        let discovery = self.discovery(provider).await?;
        let client = client(&provider.config, discovery, &self.redirect_url(name))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("openid".into()))
            .add_scope(Scope::new("email".into()))
            .add_extra_param("nonce", nonce.secret())
            .set_pkce_challenge(challenge)
            .url();
        let browser_secret = super::new_token()?;
        let pending = PendingSignIn {
            provider: name.to_owned(),
            pkce_verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            browser: hashed(&browser_secret),
        };
        let value = serde_json::to_string(&pending).map_err(|e| OidcError::Rejected(e.to_string()))?;
        let mut redis = self.auth.redis();
        let () = redis.set_ex(self.state_key(state.secret()), value, STATE_TTL_SECONDS).await?;
        Ok(Authorization { url: url.to_string(), browser_secret })
    }

    /// Completes a sign-in: the verified email address of the person the provider signed in.
    /// `browser_secret` is the binding cookie the callback request carried.
    ///
    /// # Errors
    /// `InvalidState` for an unknown/expired/replayed `state`, one issued for another provider or
    /// to another browser; `Rejected` for a code the provider refuses; `Unverified` for an address
    /// it has not verified.
    #[tracing::instrument(skip_all, fields(provider = name))]
    pub async fn complete(
        &self,
        name: &str,
        code: &str,
        state: &str,
        browser_secret: Option<&str>,
    ) -> Result<String, OidcError> {
        let provider = self.providers.get(name).ok_or(OidcError::UnknownProvider)?;
        let mut redis = self.auth.redis();
        let pending: Option<String> = redis.get_del(self.state_key(state)).await?;
        let pending: PendingSignIn = pending
            .and_then(|p| serde_json::from_str(&p).ok())
            .ok_or_else(|| OidcError::InvalidState("unknown, expired or already used OAuth state".into()))?;
        if pending.provider != name {
            return Err(OidcError::InvalidState("the OAuth state was issued for another provider".into()));
        }
        if browser_secret.map(hashed).as_deref() != Some(pending.browser.as_str()) {
            return Err(OidcError::InvalidState("the sign-in was started in another browser".into()));
        }
        let discovery = self.discovery(provider).await?;
        let client = client(&provider.config, discovery, &self.redirect_url(name))?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                oauth2::RequestTokenError::ServerResponse(answer) => {
                    OidcError::Rejected(format!("the provider refused the code: {}", answer.error()))
                }
                other => OidcError::Provider {
                    provider: name.to_owned(),
                    reason: format!("token exchange: {}", chain(&other)),
                },
            })?;
        let failed = |reason: String| OidcError::Provider { provider: name.to_owned(), reason };
        let id_token = token
            .extra_fields()
            .id_token
            .as_deref()
            .ok_or_else(|| OidcError::Rejected("the provider sent no ID token".into()))?;
        let subject = verify_id_token(
            &self.jwks,
            &discovery.jwks_uri,
            &discovery.issuer,
            &provider.config.client_id,
            id_token,
            &pending.nonce,
        )
        .await?;
        let response = self
            .http
            .get(&discovery.userinfo_endpoint)
            .bearer_auth(token.access_token().secret())
            .send()
            .await
            .map_err(|e| failed(format!("userinfo: {e}")))?;
        if !response.status().is_success() {
            return Err(failed(format!("userinfo answered {}", response.status())));
        }
        let info: UserInfo = response.json().await.map_err(|e| failed(format!("userinfo document: {e}")))?;
        if info.sub != subject {
            return Err(OidcError::Rejected("userinfo describes another subject than the ID token".into()));
        }
        let verified = matches!(info.email_verified, Some(serde_json::Value::Bool(true)))
            || matches!(&info.email_verified, Some(serde_json::Value::String(s)) if s == "true");
        let email = info.email.ok_or_else(|| OidcError::Unverified("the provider gave no email address".into()))?;
        if !verified {
            return Err(OidcError::Unverified("the provider has not verified this email address".into()));
        }
        Ok(email)
    }
}

/// Providers' published keys, kept for ten minutes; a token signed with a key id we have not
/// seen makes us fetch again at once (the provider rotated its keys).
#[derive(Debug, Clone)]
pub struct Jwks {
    http: reqwest::Client,
    cache: Arc<Mutex<HashMap<String, FetchedKeys>>>,
}

/// A key set and when it was fetched.
type FetchedKeys = (Instant, Arc<JwkSet>);

const JWKS_TTL: Duration = Duration::from_secs(600);

impl Jwks {
    pub fn new(http: reqwest::Client) -> Self {
        Self { http, cache: Arc::default() }
    }

    async fn fetch(&self, uri: &str, issuer: &str) -> Result<Arc<JwkSet>, OidcError> {
        let unreachable =
            |e: reqwest::Error| OidcError::Provider { provider: issuer.to_owned(), reason: format!("jwks: {e}") };
        let keys: JwkSet = self
            .http
            .get(uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unreachable)?
            .json()
            .await
            .map_err(unreachable)?;
        let keys = Arc::new(keys);
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(uri.to_owned(), (Instant::now(), keys.clone()));
        Ok(keys)
    }

    /// The key set at `uri` that has `kid` (or any set, without a kid), fetching when needed.
    async fn keys_for(&self, uri: &str, issuer: &str, kid: Option<&str>) -> Result<Arc<JwkSet>, OidcError> {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(uri)
            .filter(|(at, _)| at.elapsed() < JWKS_TTL)
            .map(|(_, keys)| keys.clone());
        match cached {
            Some(keys) if kid.is_none_or(|kid| keys.find(kid).is_some()) => Ok(keys),
            _ => self.fetch(uri, issuer).await,
        }
    }
}

/// The subject of a valid ID token: signed by one of the keys published at `jwks_uri`, issued
/// by `issuer` for `audience`, not expired, and carrying `nonce`.
///
/// # Errors
/// `Rejected` when the token does not verify; `Provider` when the keys cannot be fetched.
pub async fn verify_id_token(
    jwks: &Jwks,
    jwks_uri: &str,
    issuer: &str,
    audience: &str,
    id_token: &str,
    nonce: &str,
) -> Result<String, OidcError> {
    let rejected = |reason: String| OidcError::Rejected(format!("ID token: {reason}"));
    let header = jsonwebtoken::decode_header(id_token).map_err(|e| rejected(e.to_string()))?;
    let keys = jwks.keys_for(jwks_uri, issuer, header.kid.as_deref()).await?;
    let key = match &header.kid {
        Some(kid) => keys.find(kid),
        None => keys.keys.first(),
    }
    .ok_or_else(|| rejected("signed with a key the provider does not publish".into()))?;
    let decoding = jsonwebtoken::DecodingKey::from_jwk(key).map_err(|e| rejected(e.to_string()))?;
    // The algorithm comes from the header but must suit the published key (`decode` checks it),
    // so an HMAC "signed" with the public key cannot pass.
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims =
        jsonwebtoken::decode::<IdClaims>(id_token, &decoding, &validation).map_err(|e| rejected(e.to_string()))?.claims;
    if claims.nonce.as_deref() != Some(nonce) {
        return Err(rejected("the nonce is not this sign-in's".into()));
    }
    Ok(claims.sub)
}

type ConfiguredClient = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    TokenAnswer,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn client(config: &OidcProviderConfig, discovery: &Discovery, redirect: &str) -> Result<ConfiguredClient, OidcError> {
    let invalid = |what: &str, e: oauth2::url::ParseError| OidcError::Provider {
        provider: config.name.clone(),
        reason: format!("{what}: {e}"),
    };
    Ok(oauth2::Client::new(ClientId::new(config.client_id.clone()))
        .set_client_secret(ClientSecret::new(config.client_secret.clone()))
        .set_auth_uri(
            AuthUrl::new(discovery.authorization_endpoint.clone()).map_err(|e| invalid("authorization_endpoint", e))?,
        )
        .set_token_uri(TokenUrl::new(discovery.token_endpoint.clone()).map_err(|e| invalid("token_endpoint", e))?)
        .set_redirect_uri(RedirectUrl::new(redirect.to_owned()).map_err(|e| invalid("redirect URL", e))?))
}

/// An error with its causes, for the log (oauth2's errors keep the useful part in `source`).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
