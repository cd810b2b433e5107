//! Passkeys end to end through the HTTP endpoints, with a software authenticator playing the
//! browser and the security key.

use reqwest::StatusCode;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{
    Base64UrlSafeData, CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse, Url,
};
use webauthn_rs_proto::AllowCredentials;

use crate::support::{TestApp, spawn_app};

fn origin() -> Url {
    // The public URL the app is configured with: the origin a browser would report.
    Url::parse("http://localhost:8080").unwrap()
}

async fn register(app: &TestApp, token: &str, authenticator: &mut WebauthnAuthenticator<SoftPasskey>) -> Value {
    let begin = app.post_json("/api/auth/passkey/register/begin", Some(token), &json!({})).await;
    assert_eq!(begin.status(), StatusCode::OK);
    let options: CreationChallengeResponse = begin.json().await.unwrap();
    let credential = authenticator.do_registration(origin(), options).unwrap();
    let complete = app
        .post_json("/api/auth/passkey/register/complete", Some(token), &serde_json::to_value(&credential).unwrap())
        .await;
    assert_eq!(complete.status(), StatusCode::CREATED);
    let created: Value = complete.json().await.unwrap();
    assert!(created["passkey_id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
    // The ceremony's state is gone: completing it again is refused.
    let again = app
        .post_json("/api/auth/passkey/register/complete", Some(token), &serde_json::to_value(&credential).unwrap())
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert_eq!(again.json::<Value>().await.unwrap()["code"], "REGISTRATION_NOT_FOUND");
    serde_json::to_value(&credential).unwrap()
}

async fn login_options(app: &TestApp, body: &Value) -> RequestChallengeResponse {
    let begin = app.post_json("/api/auth/passkey/login/begin", None, body).await;
    assert_eq!(begin.status(), StatusCode::OK);
    begin.json().await.unwrap()
}

async fn complete_login(app: &TestApp, assertion: &PublicKeyCredential) -> reqwest::Response {
    app.post_json("/api/auth/passkey/login/complete", None, &serde_json::to_value(assertion).unwrap()).await
}

#[tokio::test]
async fn a_registered_passkey_signs_in_and_a_replayed_assertion_is_refused() {
    let app = spawn_app().await;
    let token = app.sign_in("pat@example.com").await;
    let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));
    register(&app, &token, &mut authenticator).await;

    let options = login_options(&app, &json!({ "email": "Pat@Example.com" })).await;
    assert_eq!(options.public_key.allow_credentials.len(), 1, "the options name the account's passkey");
    let assertion = authenticator.do_authentication(origin(), options).unwrap();
    let signed_in = complete_login(&app, &assertion).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let body: Value = signed_in.json().await.unwrap();
    assert_eq!(body["user"]["email"], "pat@example.com");
    let session = body["session_token"].as_str().unwrap();
    assert_eq!(app.get_as(session, "/api/auth/session").await.status(), StatusCode::OK);

    // The same assertion again: its challenge was consumed.
    let replayed = complete_login(&app, &assertion).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    let error: Value = replayed.json().await.unwrap();
    assert_eq!(error["code"], "UNAUTHENTICATED");

    // A signature that does not match: take a fresh challenge, answer it, then alter what was signed.
    let options = login_options(&app, &json!({ "email": "pat@example.com" })).await;
    let mut tampered = authenticator.do_authentication(origin(), options).unwrap();
    let mut data: Vec<u8> = tampered.response.authenticator_data.clone().into();
    data[36] ^= 0x01; // the signature counter's low byte, inside the signed authenticator data
    tampered.response.authenticator_data = Base64UrlSafeData::from(data);
    assert_eq!(complete_login(&app, &tampered).await.status(), StatusCode::UNAUTHORIZED);

    // An assertion for a challenge that was never issued.
    let mut forged = assertion.clone();
    forged.response.client_data_json = Base64UrlSafeData::from(
        br#"{"type":"webauthn.get","challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","origin":"http://localhost:8080"}"#
            .to_vec(),
    );
    assert_eq!(complete_login(&app, &forged).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_discoverable_passkey_names_its_user_and_cannot_claim_another() {
    let app = spawn_app().await;
    let token = app.sign_in("dana@example.com").await;
    let other = app.sign_in("eve@example.com").await;
    let dana: Value = app.get_as(&token, "/api/auth/session").await.json().await.unwrap();
    let eve: Value = app.get_as(&other, "/api/auth/session").await.json().await.unwrap();
    let dana_id: uuid::Uuid = dana["user"]["id"].as_str().unwrap().parse().unwrap();
    let eve_id: uuid::Uuid = eve["user"]["id"].as_str().unwrap().parse().unwrap();
    let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));
    let credential = register(&app, &token, &mut authenticator).await;
    let credential_id: Base64UrlSafeData = serde_json::from_value(credential["rawId"].clone()).unwrap();

    // Without an email the options list no credentials: the authenticator picks one it holds and
    // returns its user handle.
    let options = login_options(&app, &json!({})).await;
    assert!(options.public_key.allow_credentials.is_empty());
    let answer = |mut options: RequestChallengeResponse,
                  user: uuid::Uuid,
                  authenticator: &mut WebauthnAuthenticator<SoftPasskey>| {
        // The software key cannot store resident credentials, so the test plays the part of one:
        // it finds its own credential and reports the user handle it was registered with.
        options.public_key.allow_credentials =
            vec![AllowCredentials { type_: "public-key".into(), id: credential_id.clone(), transports: None }];
        let mut assertion = authenticator.do_authentication(origin(), options).unwrap();
        assertion.response.user_handle = Some(Base64UrlSafeData::from(user.as_bytes().to_vec()));
        assertion
    };

    let options = login_options(&app, &json!({})).await;
    let assertion = answer(options, dana_id, &mut authenticator);
    let signed_in = complete_login(&app, &assertion).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let body: Value = signed_in.json().await.unwrap();
    assert_eq!(body["user"]["email"], "dana@example.com");

    // Dana's passkey presented as Eve's.
    let options = login_options(&app, &json!({})).await;
    let assertion = answer(options, eve_id, &mut authenticator);
    assert_eq!(complete_login(&app, &assertion).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn passkey_registration_needs_a_session_and_its_own_challenge() {
    let app = spawn_app().await;
    let alice = app.sign_in("alice@example.com").await;
    let bob = app.sign_in("bob@example.com").await;
    let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));
    let begin = app.post_json("/api/auth/passkey/register/begin", Some(&alice), &json!({})).await;
    let options: CreationChallengeResponse = begin.json().await.unwrap();
    let credential = authenticator.do_registration(origin(), options).unwrap();
    let body = serde_json::to_value(&credential).unwrap();
    // Anonymous, and Bob (who started no registration) cannot complete Alice's ceremony.
    assert_eq!(
        app.post_json("/api/auth/passkey/register/complete", None, &body).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.post_json("/api/auth/passkey/register/complete", Some(&bob), &body).await.status(),
        StatusCode::NOT_FOUND,
        "no registration of Bob's in progress"
    );
    // Bob with a ceremony of his own still cannot register Alice's credential (challenge mismatch).
    app.post_json("/api/auth/passkey/register/begin", Some(&bob), &json!({})).await;
    assert_eq!(
        app.post_json("/api/auth/passkey/register/complete", Some(&bob), &body).await.status(),
        StatusCode::BAD_REQUEST
    );
}

/// `login/begin` with an address answers in the same shape whether or not it has an account with
/// passkeys: credential ids derived from a server secret, stable per address, so the answer tells
/// nobody who is a customer.
#[tokio::test]
async fn login_options_do_not_reveal_whether_an_address_has_an_account() {
    let app = spawn_app().await;
    app.sign_in("member@example.com").await; // an account, without passkeys
    let ids = |options: &RequestChallengeResponse| -> Vec<Vec<u8>> {
        options.public_key.allow_credentials.iter().map(|c| c.id.as_ref().to_vec()).collect()
    };
    for email in ["nobody@example.com", "member@example.com"] {
        let first = login_options(&app, &json!({ "email": email })).await;
        let again = login_options(&app, &json!({ "email": email })).await;
        assert!((1..=2).contains(&first.public_key.allow_credentials.len()), "{email}: looks like an account's");
        assert!(first.public_key.allow_credentials.iter().all(|c| c.id.as_ref().len() == 32));
        assert_eq!(ids(&first), ids(&again), "{email}: the same every time, like a real account's");
    }
    let nobody = login_options(&app, &json!({ "email": "nobody@example.com" })).await;
    let someone = login_options(&app, &json!({ "email": "someone-else@example.com" })).await;
    assert_ne!(ids(&nobody), ids(&someone));
}

/// Rewrites when a session signed in (as if it happened `minutes` ago).
async fn age_sign_in(app: &TestApp, token: &str, minutes: i64) {
    let key = format!("{}session:{}", app.redis_prefix, ticketing::auth::hashed(token));
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let record: String = redis::cmd("GET").arg(&key).query_async(&mut redis).await.unwrap();
    let mut session: Value = serde_json::from_str(&record).unwrap();
    let then = chrono::Utc::now() - chrono::Duration::minutes(minutes);
    session["signed_in_at"] = json!(then);
    let () = redis::cmd("SET").arg(&key).arg(session.to_string()).arg("KEEPTTL").query_async(&mut redis).await.unwrap();
}

/// A stolen session must not be able to plant a lasting way in: adding a passkey needs a sign-in
/// less than ten minutes old. Users see their passkeys and can remove one (only their own).
#[tokio::test]
async fn passkeys_need_a_fresh_sign_in_to_add_and_can_be_listed_and_removed() {
    let app = spawn_app().await;
    let token = app.sign_in("kim@example.com").await;
    let stranger = app.sign_in("lee@example.com").await;
    age_sign_in(&app, &token, 11).await;
    let stale = app.post_json("/api/auth/passkey/register/begin", Some(&token), &json!({})).await;
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
    let error: Value = stale.json().await.unwrap();
    assert_eq!(error["details"]["reason"], "recent_sign_in_required");

    let fresh = app.sign_in("kim@example.com").await;
    let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));
    register(&app, &fresh, &mut authenticator).await;
    let listed: Value = app.get_as(&fresh, "/api/auth/passkeys").await.json().await.unwrap();
    let passkeys = listed.as_array().unwrap();
    assert_eq!(passkeys.len(), 1);
    let id = passkeys[0]["passkey_id"].as_str().unwrap();
    assert!(passkeys[0]["created_at"].is_string() && passkeys[0]["last_used_at"].is_null());
    let list_of = |token: String| {
        let app = &app;
        async move { app.get_as(&token, "/api/auth/passkeys").await.json::<Value>().await.unwrap() }
    };
    assert_eq!(list_of(stranger.clone()).await, json!([]));

    let delete = |token: String, id: String| {
        let app = &app;
        async move {
            app.client
                .delete(format!("{}/api/auth/passkeys/{id}", app.address))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(delete(stranger, id.to_owned()).await.status(), StatusCode::NOT_FOUND, "someone else's");
    assert_eq!(delete(fresh.clone(), id.to_owned()).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(list_of(fresh.clone()).await, json!([]));
    // It is gone: the sign-in options no longer name it, and an authenticator cannot answer them.
    let options = login_options(&app, &json!({ "email": "kim@example.com" })).await;
    assert!(authenticator.do_authentication(origin(), options).is_err());
}

/// Two sign-ins racing with the same passkey: the stored signature counter only moves forward.
#[tokio::test]
async fn the_signature_counter_never_moves_backwards() {
    let app = spawn_app().await;
    let token = app.sign_in("ray@example.com").await;
    let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));
    register(&app, &token, &mut authenticator).await;
    let auth_db = &app.databases.3.pool;
    // A concurrent sign-in has already recorded a higher count.
    sqlx::query("UPDATE passkeys SET sign_count = 100").execute(auth_db).await.unwrap();
    let stored_before: Value = sqlx::query_scalar("SELECT passkey FROM passkeys").fetch_one(auth_db).await.unwrap();
    let options = login_options(&app, &json!({ "email": "ray@example.com" })).await;
    let assertion = authenticator.do_authentication(origin(), options).unwrap();
    assert_eq!(complete_login(&app, &assertion).await.status(), StatusCode::OK);
    let (count, stored_after): (i64, Value) =
        sqlx::query_as("SELECT sign_count, passkey FROM passkeys").fetch_one(auth_db).await.unwrap();
    assert_eq!(count, 100, "the later count stays");
    assert_eq!(stored_after, stored_before, "an older counter does not overwrite the credential");
}
