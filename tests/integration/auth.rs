//! Passwordless sign-in through HTTP: magic links, sessions, logout, roles, rate limits.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_EMAIL, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_magic_link_signs_in_once_and_logout_kills_the_session() {
    let app = spawn_app().await;
    // Same answer for an address that has never been seen and one that has.
    let first = app.post_json("/api/auth/magic-link/send", None, &json!({ "email": "New.Person@Example.com" })).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["expires_in_seconds"], 900);

    let token = app.mailed_token("new.person@example.com").expect("mailed");
    let verified = app.post_json("/api/auth/magic-link/verify", None, &json!({ "token": token })).await;
    assert_eq!(verified.status(), StatusCode::OK);
    let auth: Value = verified.json().await.unwrap();
    assert_eq!(auth["user"]["email"], "new.person@example.com");
    assert_eq!(auth["user"]["role"], "customer");
    let session = auth["session_token"].as_str().unwrap().to_owned();
    assert_eq!(session.len(), 64);

    // The link works once.
    let again = app.post_json("/api/auth/magic-link/verify", None, &json!({ "token": token })).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(again.json::<Value>().await.unwrap()["code"], "UNAUTHENTICATED");

    let known = app.post_json("/api/auth/magic-link/send", None, &json!({ "email": "new.person@example.com" })).await;
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    assert_eq!(known.json::<Value>().await.unwrap(), first);

    let current = app.get_as(&session, "/api/auth/session").await;
    assert_eq!(current.status(), StatusCode::OK);
    assert_eq!(current.json::<Value>().await.unwrap()["user"]["id"], auth["user"]["id"]);

    let out = app.client.post(format!("{}/api/auth/logout", app.address)).bearer_auth(&session).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    assert_eq!(app.get_as(&session, "/api/auth/session").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admins_come_from_admin_emails_and_bad_credentials_are_401() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let me: Value = app.get_as(&admin, "/api/auth/session").await.json().await.unwrap();
    assert_eq!(me["user"]["role"], "admin");

    for header in ["", "Bearer", "Bearer nonsense", "Basic YWRtaW46YWRtaW4=", &format!("Bearer {}", "0".repeat(64))] {
        let response = app
            .client
            .get(format!("{}/api/auth/session", app.address))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header:?}");
    }
    let missing = app.get("/api/auth/session").await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn hostile_sign_in_requests_are_refused_in_our_format() {
    let app = spawn_app().await;
    let cases: [(Value, StatusCode, &str); 5] = [
        (json!({ "email": "not an email" }), StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
        (json!({ "email": 42 }), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        (json!({ "email": "a@b.co", "admin": true }), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        (json!({}), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        (
            json!({ "email": format!("{}@example.com", "x".repeat(100_000)) }),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
    ];
    for (body, status, code) in cases {
        let response = app.post_json("/api/auth/magic-link/send", None, &body).await;
        let shown: String = body.to_string().chars().take(80).collect();
        assert_eq!(response.status(), status, "{shown}");
        assert_eq!(response.json::<Value>().await.unwrap()["code"], code);
    }
    let garbage = app
        .client
        .post(format!("{}/api/auth/magic-link/verify", app.address))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    assert_eq!(garbage.json::<Value>().await.unwrap()["code"], "INVALID_REQUEST");
    assert_eq!(std::fs::read_dir(&app.outbox).map_or(0, Iterator::count), 0, "nothing was mailed");
}

#[tokio::test]
async fn too_many_auth_requests_from_one_address_get_429_with_retry_after() {
    let app = spawn_app_with(|c| c.auth_rate_limit = 5).await;
    for _ in 0..5 {
        let response = app.post_json("/api/auth/magic-link/send", None, &json!({ "email": "spam@example.com" })).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let limited = app.post_json("/api/auth/magic-link/send", None, &json!({ "email": "spam@example.com" })).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after));
    assert_eq!(limited.json::<Value>().await.unwrap()["code"], "RATE_LIMITED");
    // Other routes are not limited.
    assert_eq!(app.get("/health").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_session_is_401_everywhere() {
    let app = spawn_app().await;
    let session = app.sign_in("dora@example.com").await;
    assert_eq!(app.get_as(&session, "/api/auth/session").await.status(), StatusCode::OK);
    // Let the session's 24 hours run out: its Redis key lapses.
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}session:*", app.redis_prefix)).query_async(&mut conn).await.unwrap();
    assert_eq!(keys.len(), 1);
    let _: i64 = redis::cmd("PEXPIRE").arg(&keys[0]).arg(1).query_async(&mut conn).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    for path in ["/api/auth/session", "/api/reservations", "/api/tickets"] {
        assert_eq!(app.get_as(&session, path).await.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn browsers_from_allowed_origins_may_call_and_large_answers_are_compressed() {
    let app = spawn_app().await;
    // spawn_app allows http://localhost:5173.
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/api/events", app.address))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "http://localhost:5173");
    let foreign = app
        .client
        .get(format!("{}/api/events", app.address))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(foreign.headers().get("access-control-allow-origin").is_none());

    let compressed =
        app.client.get(format!("{}/health/ready", app.address)).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(compressed.status(), StatusCode::OK);
    assert_eq!(compressed.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
}

#[tokio::test]
async fn sign_in_mail_goes_over_smtp_or_to_the_outbox_and_an_smtp_outage_is_a_503() {
    let address = |email: &str| json!({ "email": email });

    // SMTP_URL set: delivered to the server the test runs, nothing in the outbox.
    let app = spawn_app().await;
    let sent = app.post_json("/api/auth/magic-link/send", None, &address("Mail@Example.com")).await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let delivered = app.smtp.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].recipients, ["mail@example.com"]);
    let data = &delivered[0].data;
    assert!(data.contains("Subject: Your sign-in link"), "{data}");
    assert!(data.contains("From: \"Ticketing tests\" <no-reply@example.com>"), "{data}");
    assert!(data.contains("To: mail@example.com"), "{data}");
    assert!(app.mailed_token("mail@example.com").is_some());
    assert!(!app.outbox.exists());

    // No SMTP_URL: the outbox directory gets the message.
    let app = spawn_app_with(|c| c.smtp_url = None).await;
    let sent = app.post_json("/api/auth/magic-link/send", None, &address("outbox@example.com")).await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    assert!(app.smtp.delivered().is_empty());
    assert_eq!(std::fs::read_dir(&app.outbox).unwrap().count(), 1);
    assert!(app.mailed_token("outbox@example.com").is_some());

    // The SMTP server is down: the caller learns it (503, retry later) instead of waiting for a
    // mail that will never come.
    let app = spawn_app_with(|c| c.smtp_url = Some("smtp://127.0.0.1:9".into())).await;
    let refused = app.post_json("/api/auth/magic-link/send", None, &address("down@example.com")).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "DEPENDENCY_UNAVAILABLE");
    assert_eq!(body["details"]["dependency"], "mail");
}
