//! OAuth / OpenID Connect sign-in against a real provider (the certified `oidc-provider` package,
//! started by the test on a free port), walked through as a browser would.

use std::process::Stdio;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, LOCATION};
use serde_json::{Value, json};
use ticketing::config::OidcProviderConfig;
use tokio::io::AsyncBufReadExt;

use crate::support::{TestApp, spawn_app_with};

const PUBLIC_URL: &str = "http://localhost:8080";

struct Provider {
    issuer: String,
    _process: tokio::process::Child,
}

async fn start_provider(env: &[(&str, &str)]) -> Provider {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
    assert!(
        dir.join("node_modules/oidc-provider").exists(),
        "the test OpenID provider is not installed: run `npm ci --prefix tests/oidc` (scripts/test.sh does)"
    );
    let mut process = tokio::process::Command::new("node")
        .arg("provider.mjs")
        .current_dir(&dir)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = tokio::io::BufReader::new(process.stdout.take().unwrap()).lines();
    let issuer = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Ok(ready) = serde_json::from_str::<Value>(&line) {
                return ready["issuer"].as_str().unwrap().to_owned();
            }
        }
        panic!("the provider exited before it was ready")
    })
    .await
    .expect("the provider starts within 30 s");
    // Keep reading: the provider logs to stdout and dies of EPIPE once nobody does.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Provider { issuer, _process: process }
}

fn provider_config(name: &str, issuer: &str) -> OidcProviderConfig {
    OidcProviderConfig {
        name: name.into(),
        issuer: issuer.into(),
        client_id: "ticketing".into(),
        client_secret: "ticketing-secret".into(),
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap()
}

/// Starts a sign-in at our server and follows the provider's redirects (with its cookies) until the
/// provider sends the browser back to us; returns that callback URL.
async fn sign_in_at_provider(app: &TestApp, browser: &reqwest::Client, provider: &str, issuer: &str) -> reqwest::Url {
    let start = browser.get(format!("{}/api/auth/oauth/{provider}/authorize", app.address)).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let mut location = reqwest::Url::parse(start.headers()[LOCATION].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(issuer), "{location}");
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query["state"].len() >= 16 && query["code_challenge"].len() >= 43);
    for _ in 0..10 {
        if location.as_str().starts_with(PUBLIC_URL) {
            return location;
        }
        let response = browser.get(location.clone()).send().await.unwrap();
        assert!(response.status().is_redirection(), "{} at {location}", response.status());
        location = location.join(response.headers()[LOCATION].to_str().unwrap()).unwrap();
    }
    panic!("the provider never sent the browser back")
}

/// The callback as our server receives it (the test's requests go to the real port, the provider
/// redirects to the public URL).
fn at_app(app: &TestApp, callback: &reqwest::Url) -> String {
    format!("{}{}?{}", app.address, callback.path(), callback.query().unwrap_or_default())
}

fn with_state(callback: &reqwest::Url, state: &str) -> reqwest::Url {
    let mut forged = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| if k == "state" { (k.into_owned(), state.to_owned()) } else { (k.into_owned(), v.into_owned()) })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    forged
}

#[tokio::test]
async fn openid_sign_in_with_pkce_and_state_refuses_forged_and_replayed_callbacks() {
    let provider = start_provider(&[("ACCOUNT_EMAIL", "Oidc.User@Example.com")]).await;
    let app = spawn_app_with(|c| {
        c.oidc_providers = vec![provider_config("test", &provider.issuer), provider_config("other", &provider.issuer)];
    })
    .await;
    let browser = browser();
    let callback = sign_in_at_provider(&app, &browser, "test", &provider.issuer).await;
    assert_eq!(callback.path(), "/api/auth/oauth/test/callback");

    // A forged state with the real code: refused, and it does not burn the real state.
    let forged = with_state(&callback, "forged-state-value");
    let refused = browser.get(at_app(&app, &forged)).header(ACCEPT, "application/json").send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["code"], "UNAUTHENTICATED");

    let signed_in = browser.get(at_app(&app, &callback)).header(ACCEPT, "application/json").send().await.unwrap();
    let status = signed_in.status();
    let body: Value = signed_in.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], "oidc.user@example.com");
    assert_eq!(body["user"]["role"], "customer");
    let token = body["session_token"].as_str().unwrap();
    assert_eq!(app.get_as(token, "/api/auth/session").await.status(), StatusCode::OK);

    // The same callback again (state used once).
    let replayed = browser.get(at_app(&app, &callback)).header(ACCEPT, "application/json").send().await.unwrap();
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);

    // A browser is sent on to the app, signed in by the session cookie: no token in any URL.
    let callback = sign_in_at_provider(&app, &browser, "test", &provider.issuer).await;
    let redirected = browser.get(at_app(&app, &callback)).send().await.unwrap();
    assert_eq!(redirected.status(), StatusCode::FOUND);
    assert_eq!(redirected.headers()[LOCATION].to_str().unwrap(), format!("{PUBLIC_URL}/auth/callback"));
    let token = session_cookie(&redirected).expect("the session cookie");
    let session: Value = app.get_as(&token, "/api/auth/session").await.json().await.unwrap();
    assert_eq!(session["user"]["id"], body["user"]["id"]);

    // A state issued for one provider is not accepted by another: the app is told, in a fixed code.
    let callback = sign_in_at_provider(&app, &browser, "test", &provider.issuer).await;
    let elsewhere = format!("{}/api/auth/oauth/other/callback?{}", app.address, callback.query().unwrap());
    let refused = browser.get(elsewhere).send().await.unwrap();
    assert_eq!(
        refused.headers()[LOCATION].to_str().unwrap(),
        format!("{PUBLIC_URL}/auth/callback?error=invalid_state")
    );

    // The provider reporting an error (its words are never echoed on our origin), and a callback
    // without code or state.
    let denied = browser
        .get(format!(
            "{}/api/auth/oauth/test/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C/script%3E&state=x",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::FOUND);
    assert_eq!(denied.headers()[LOCATION].to_str().unwrap(), format!("{PUBLIC_URL}/auth/callback?error=cancelled"));
    let denied_json = browser
        .get(format!(
            "{}/api/auth/oauth/test/callback?error=server_error&error_description=%3Cb%3Ehi&state=x",
            app.address
        ))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(denied_json.status(), StatusCode::UNAUTHORIZED);
    assert!(!denied_json.text().await.unwrap().contains("<b>"), "the provider's text is not reflected");
    let incomplete = browser.get(format!("{}/api/auth/oauth/test/callback?state=x", app.address)).send().await.unwrap();
    assert_eq!(
        incomplete.headers()[LOCATION].to_str().unwrap(),
        format!("{PUBLIC_URL}/auth/callback?error=sign_in_failed")
    );
    let incomplete_json = browser
        .get(format!("{}/api/auth/oauth/test/callback?state=x", app.address))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(incomplete_json.status(), StatusCode::BAD_REQUEST);
}

/// The session token a response set in its cookie, if any.
fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("ticketing_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .filter(|t| !t.is_empty())
}

/// Login CSRF: an attacker signs in at the provider in their own browser, then makes the
/// victim's browser open the callback. The victim's browser did not start that sign-in (it has no
/// binding cookie for it), so it is refused, and the victim is not signed in to the attacker's
/// account.
#[tokio::test]
async fn a_callback_opened_in_another_browser_than_the_one_that_started_is_refused() {
    let provider = start_provider(&[("ACCOUNT_EMAIL", "attacker@example.com")]).await;
    let app = spawn_app_with(|c| c.oidc_providers = vec![provider_config("test", &provider.issuer)]).await;
    let attacker = browser();
    let callback = sign_in_at_provider(&app, &attacker, "test", &provider.issuer).await;
    let victim = browser();
    let opened = victim.get(at_app(&app, &callback)).send().await.unwrap();
    assert_eq!(opened.status(), StatusCode::FOUND);
    assert_eq!(opened.headers()[LOCATION].to_str().unwrap(), format!("{PUBLIC_URL}/auth/callback?error=invalid_state"));
    assert_eq!(session_cookie(&opened), None, "no session for the victim's browser");
    let json = victim.get(at_app(&app, &callback)).header(ACCEPT, "application/json").send().await.unwrap();
    assert_eq!(json.status(), StatusCode::UNAUTHORIZED);
    // The browser that started it is not affected by the forgery's failure... but the state was
    // spent: it signs in by starting again.
    let again = sign_in_at_provider(&app, &attacker, "test", &provider.issuer).await;
    let own = attacker.get(at_app(&app, &again)).header(ACCEPT, "application/json").send().await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_address_the_provider_has_not_verified_does_not_sign_in() {
    let provider = start_provider(&[("ACCOUNT_EMAIL", "unverified@example.com"), ("EMAIL_VERIFIED", "false")]).await;
    let app = spawn_app_with(|c| c.oidc_providers = vec![provider_config("test", &provider.issuer)]).await;
    let browser = browser();
    let callback = sign_in_at_provider(&app, &browser, "test", &provider.issuer).await;
    let refused = browser.get(at_app(&app, &callback)).header(ACCEPT, "application/json").send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let error: Value = refused.json().await.unwrap();
    assert!(error["message"].as_str().unwrap().contains("verified"), "{error}");
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_a_503_not_a_crash() {
    let app = spawn_app_with(|c| c.oidc_providers = vec![provider_config("down", "http://127.0.0.1:9")]).await;
    let response = app.get("/api/auth/oauth/down/authorize").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "DEPENDENCY_UNAVAILABLE");
}

/// The ID-token check on its own, against tokens the test signs: only a token signed by a
/// published key, for us, from the issuer, unexpired and with this sign-in's nonce passes.
#[tokio::test]
async fn id_tokens_that_do_not_verify_are_refused() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use ticketing::auth::oidc::{Jwks, OidcError, verify_id_token};

    const ISSUER: &str = "https://issuer.example";
    const AUDIENCE: &str = "ticketing";
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oidc");
    let jwks = std::fs::read_to_string(fixtures.join("jwks.json")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_uri = format!("http://{}/jwks", listener.local_addr().unwrap());
    let fetched = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = fetched.clone();
    let keys = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let jwks = jwks.clone();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { ([("content-type", "application/json")], jwks) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, keys).await.unwrap() });

    let provider = EncodingKey::from_rsa_pem(&std::fs::read(fixtures.join("provider.pem")).unwrap()).unwrap();
    let stranger = EncodingKey::from_rsa_pem(&std::fs::read(fixtures.join("stranger.pem")).unwrap()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = |iss: &str, aud: &str, exp: i64, nonce: Option<&str>| {
        let mut claims = json!({ "iss": iss, "aud": aud, "sub": "user-1", "exp": exp, "iat": now });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        claims
    };
    let signed = |key: &EncodingKey, alg: Algorithm, kid: Option<&str>, claims: &Value| {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        encode(&header, claims, key).unwrap()
    };
    let http = Jwks::new(reqwest::Client::new());
    let good = claims(ISSUER, AUDIENCE, now + 300, Some("nonce-1"));
    let token = signed(&provider, Algorithm::RS256, Some("test-key-1"), &good);
    let subject = verify_id_token(&http, &jwks_uri, ISSUER, AUDIENCE, &token, "nonce-1").await.unwrap();
    assert_eq!(subject, "user-1");
    // The provider's keys are kept: a second sign-in does not fetch them again.
    verify_id_token(&http, &jwks_uri, ISSUER, AUDIENCE, &token, "nonce-1").await.unwrap();
    assert_eq!(fetched.load(std::sync::atomic::Ordering::SeqCst), 1, "the JWKS is cached");

    let public_pem = std::fs::read(fixtures.join("jwks.json")).unwrap();
    let forged: Vec<(&str, String)> = vec![
        (
            "another sign-in's nonce",
            signed(
                &provider,
                Algorithm::RS256,
                Some("test-key-1"),
                &claims(ISSUER, AUDIENCE, now + 300, Some("nonce-2")),
            ),
        ),
        (
            "no nonce",
            signed(&provider, Algorithm::RS256, Some("test-key-1"), &claims(ISSUER, AUDIENCE, now + 300, None)),
        ),
        (
            "for another client",
            signed(
                &provider,
                Algorithm::RS256,
                Some("test-key-1"),
                &claims(ISSUER, "someone-else", now + 300, Some("nonce-1")),
            ),
        ),
        (
            "from another issuer",
            signed(
                &provider,
                Algorithm::RS256,
                Some("test-key-1"),
                &claims("https://evil.example", AUDIENCE, now + 300, Some("nonce-1")),
            ),
        ),
        (
            "expired",
            signed(
                &provider,
                Algorithm::RS256,
                Some("test-key-1"),
                &claims(ISSUER, AUDIENCE, now - 600, Some("nonce-1")),
            ),
        ),
        ("an unpublished key under the published kid", signed(&stranger, Algorithm::RS256, Some("test-key-1"), &good)),
        ("an unknown kid", signed(&provider, Algorithm::RS256, Some("rotated-away"), &good)),
        (
            "HMAC keyed with public material",
            signed(&EncodingKey::from_secret(&public_pem), Algorithm::HS256, Some("test-key-1"), &good),
        ),
        ("not a JWT", "not.a.jwt".to_owned()),
    ];
    for (why, token) in forged {
        let verdict = verify_id_token(&http, &jwks_uri, ISSUER, AUDIENCE, &token, "nonce-1").await;
        assert!(matches!(verdict, Err(OidcError::Rejected(_))), "{why}: {verdict:?}");
    }
}
