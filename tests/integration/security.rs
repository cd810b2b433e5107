//! The security review's defects, each with the test that failed before its fix: nothing
//! replayable, nothing one abuser can exhaust, no secret in a URL or a log, sessions that end.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{ADMIN_EMAIL, TestApp, TestDb, spawn_app, spawn_app_with};

async fn redis(app: &TestApp) -> redis::aio::MultiplexedConnection {
    let url = app.config.redis_url.clone();
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap()
}

async fn redis_keys(app: &TestApp) -> Vec<String> {
    let mut redis = redis(app).await;
    let mut keys: Vec<String> = redis.keys(format!("{}*", app.redis_prefix)).await.unwrap();
    keys.sort();
    keys
}

/// Idempotency never applies to sign-in: a replayed `magic-link/verify` with a key does not hand
/// the session token out again (and no answer carrying a credential is kept in Redis).
#[tokio::test]
async fn a_replayed_sign_in_with_an_idempotency_key_returns_no_token() {
    let app = spawn_app().await;
    let sent = app.post_json("/api/auth/magic-link/send", None, &json!({ "email": "kai@example.com" })).await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let token = app.mailed_token("kai@example.com").unwrap();
    let verify = || {
        app.client
            .post(format!("{}/api/auth/magic-link/verify", app.address))
            .header("idempotency-key", "sign-in-1")
            .json(&json!({ "token": token }))
            .send()
    };
    let first = verify().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let session = first.json::<Value>().await.unwrap()["session_token"].as_str().unwrap().to_owned();
    let replay = verify().await.unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED, "the link was used; nothing is replayed");
    assert!(replay.headers().get("idempotent-replayed").is_none());
    assert!(!replay.text().await.unwrap().contains(&session));
    for key in redis_keys(&app).await {
        assert!(!key.contains("idempotency"), "an idempotency record was kept: {key}");
    }
}

/// Anyone can send a random `Idempotency-Key` to any URL: without a session nothing is stored,
/// so 10,000 such requests leave Redis exactly as it was; and an anonymous keyed request is a
/// 401, not an idempotency answer.
#[tokio::test]
async fn anonymous_keyed_requests_store_nothing() {
    let app = spawn_app().await;
    let event = {
        let admin = app.sign_in(ADMIN_EMAIL).await;
        app.open_event(&admin, 10).await
    };
    let before = redis_keys(&app).await;
    let paths = ["/api/reservations", "/api/nope", "/api/events", "/api/payments", "/api/tickets/x/transfer"];
    let started = Instant::now();
    let requests = futures::stream::iter(0..10_000).map(|i| {
        let app = &app;
        let path = paths[i % paths.len()];
        async move {
            app.client
                .post(format!("{}{path}", app.address))
                .header("idempotency-key", format!("junk-{i}"))
                .json(&json!({ "event_id": Uuid::new_v4(), "section": "Floor", "quantity": 1 }))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses: Vec<StatusCode> =
        futures::StreamExt::collect(futures::StreamExt::buffer_unordered(requests, 64)).await;
    eprintln!("10,000 anonymous keyed requests in {} ms", started.elapsed().as_millis());
    assert!(statuses.iter().all(StatusCode::is_client_error), "{:?}", statuses.iter().find(|s| !s.is_client_error()));
    assert_eq!(redis_keys(&app).await, before, "Redis is as it was");
    // The same request twice with one key and no session: 401 both times, never 422.
    for _ in 0..2 {
        let response = app
            .client
            .post(format!("{}/api/reservations", app.address))
            .header("idempotency-key", "same")
            .json(&json!({ "event_id": event, "section": "Floor", "quantity": 1 }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}

use futures::StreamExt as _;

/// `buyer` asks to hold one seat on the Floor of `event`, under `key` if given.
fn hold_one(app: &TestApp, buyer: &str, event: &str, key: Option<&str>) -> reqwest::RequestBuilder {
    let request = app
        .client
        .post(format!("{}/api/reservations", app.address))
        .bearer_auth(buyer)
        .json(&json!({ "event_id": event, "section": "Floor", "quantity": 1 }));
    match key {
        Some(key) => request.header("idempotency-key", key),
        None => request,
    }
}

/// Retryable answers are not kept (the retry runs again); final ones keep the headers a client
/// acts on.
#[tokio::test]
async fn only_final_answers_are_kept_for_replay() {
    let app = spawn_app_with(|c| c.reservation_rate_limit = 2).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let event = app.open_event(&admin, 10).await;
    let buyer = app.sign_in("rapid@example.com").await;
    let reserve = |key: &'static str| hold_one(&app, &buyer, &event, Some(key)).send();
    assert_eq!(reserve("a").await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(reserve("b").await.unwrap().status(), StatusCode::CREATED);
    // Over the per-user rate: 429 with Retry-After, and not kept for the key.
    let limited = reserve("c").await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    let again = reserve("c").await.unwrap();
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(again.headers().get("idempotent-replayed").is_none(), "a 429 is not replayed");
    // A final answer is.
    let replayed = reserve("a").await.unwrap();
    assert_eq!(replayed.status(), StatusCode::CREATED);
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
}

/// Holds with and without an Idempotency-Key share one per-user count: a keyed hold is counted
/// once (with its claim on the key), a replay is not counted, and over the limit both kinds are
/// refused and no seat is taken.
#[tokio::test]
async fn keyed_and_unkeyed_holds_share_one_rate_limit_and_replays_are_free() {
    let app = spawn_app_with(|c| c.reservation_rate_limit = 3).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let event = app.open_event(&admin, 10).await;
    let buyer = app.sign_in("steady@example.com").await;
    let reserve = |key: Option<&'static str>| hold_one(&app, &buyer, &event, key).send();
    assert_eq!(reserve(Some("first")).await.unwrap().status(), StatusCode::CREATED);
    // A restarted Redis has forgotten the claim's script: it is loaded again on the next claim.
    let () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut redis(&app).await).await.unwrap();
    assert_eq!(reserve(None).await.unwrap().status(), StatusCode::CREATED);
    for _ in 0..4 {
        let replayed = reserve(Some("first")).await.unwrap();
        assert_eq!(replayed.status(), StatusCode::CREATED);
        assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    }
    // The third call of the minute, whatever the replays before it.
    assert_eq!(reserve(Some("second")).await.unwrap().status(), StatusCode::CREATED);
    for key in [None, Some("third"), Some("third")] {
        let limited = reserve(key).await.unwrap();
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS, "{key:?}");
        assert!(limited.headers().contains_key("retry-after"), "{key:?}");
        assert_eq!(limited.json::<Value>().await.unwrap()["code"], "RATE_LIMITED");
    }
    let mine: Value = app.get_as(&buyer, "/api/reservations").await.json().await.unwrap();
    assert_eq!(mine["total"], 3, "{mine}");
}

/// One account cannot hold a whole sale: its ninth held seat is refused while others still buy;
/// reservation creation is rate-limited per user; lists are paginated.
#[tokio::test]
async fn one_account_cannot_hold_a_whole_sale() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let event = app.open_event(&admin, 100).await;
    let hoarder = app.sign_in("hoarder@example.com").await;
    let other = app.sign_in("other@example.com").await;
    let reserve = |token: &str, quantity: u32| {
        let body = json!({ "event_id": event, "section": "Floor", "quantity": quantity });
        let app = &app;
        let token = token.to_owned();
        async move { app.post_json("/api/reservations", Some(&token), &body).await }
    };
    let mut held = Vec::new();
    for quantity in [5, 3] {
        let response = reserve(&hoarder, quantity).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        held.push(response.json::<Value>().await.unwrap()["reservation_id"].as_str().unwrap().to_owned());
    }
    let ninth = reserve(&hoarder, 1).await;
    assert_eq!(ninth.status(), StatusCode::CONFLICT);
    assert_eq!(ninth.json::<Value>().await.unwrap()["code"], "HOLD_LIMIT_REACHED");
    assert_eq!(reserve(&other, 4).await.status(), StatusCode::CREATED, "another customer still buys");
    // Paying for one hold frees its share of the allowance.
    assert_eq!(app.pay(&hoarder, &held[1], "4242424242424242").await.status(), StatusCode::OK);
    assert_eq!(reserve(&hoarder, 3).await.status(), StatusCode::CREATED);

    // Lists are bounded.
    let page: Value = app.get_as(&hoarder, "/api/reservations?per_page=2").await.json().await.unwrap();
    assert_eq!((page["reservations"].as_array().unwrap().len(), page["total"].as_i64()), (2, Some(3)));
    let second: Value = app.get_as(&hoarder, "/api/reservations?per_page=2&page=2").await.json().await.unwrap();
    assert_eq!(second["reservations"].as_array().unwrap().len(), 1);
    let tickets: Value = app.get_as(&hoarder, "/api/tickets?per_page=1").await.json().await.unwrap();
    assert_eq!((tickets["tickets"].as_array().unwrap().len(), tickets["total"].as_i64()), (1, Some(3)));
    for bad in ["/api/tickets?per_page=1000", "/api/reservations?page=0", "/api/tickets?page=x"] {
        assert_eq!(app.get_as(&hoarder, bad).await.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

/// Behind a load balancer the client is in `X-Forwarded-For`, trusted only from the balancer;
/// IPv6 clients share their /64; and one address cannot be sent sign-in links without end.
#[tokio::test]
async fn rate_limits_key_on_the_real_client_and_protect_inboxes() {
    let app = spawn_app_with(|c| {
        c.auth_rate_limit = 3;
        c.trusted_proxies = ticketing::http::client_ip::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let from = |client: &str| {
        app.client
            .get(format!("{}/api/auth/providers", app.address))
            .header("x-forwarded-for", client.to_owned())
            .send()
    };
    for _ in 0..3 {
        assert_eq!(from("198.51.100.7").await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(from("198.51.100.7").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same balancer has a bucket of its own.
    assert_eq!(from("203.0.113.5").await.unwrap().status(), StatusCode::OK);
    // Rotating addresses within one /64 buys nothing.
    for i in 0..3 {
        let status = from(&format!("2001:db8:1:2::{i:x}")).await.unwrap().status();
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(from("2001:db8:1:2:ffff::9").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);

    // Sign-in links to one address: at most MAGIC_LINKS_PER_ADDRESS an hour, whoever asks.
    let inbox = spawn_app_with(|c| c.magic_links_per_address = 2).await;
    for (i, expected) in [StatusCode::ACCEPTED, StatusCode::ACCEPTED, StatusCode::TOO_MANY_REQUESTS].iter().enumerate()
    {
        let response = inbox
            .client
            .post(format!("{}/api/auth/magic-link/send", inbox.address))
            .header("x-forwarded-for", format!("10.0.0.{i}")) // ignored: no trusted proxy here
            .json(&json!({ "email": "Victim@Example.com" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), *expected);
    }
    let delivered =
        inbox.smtp.delivered().iter().filter(|m| m.recipients.iter().any(|r| r == "victim@example.com")).count();
    assert_eq!(delivered, 2);
}

/// Sessions end: `logout-all` ends every session of the user at once, and a session ends after
/// its absolute lifetime however much it is used.
#[tokio::test]
async fn sign_out_everywhere_ends_every_session_at_once() {
    let app = spawn_app().await;
    let laptop = app.sign_in("sam@example.com").await;
    let phone = app.sign_in("sam@example.com").await;
    let someone_else = app.sign_in("pat@example.com").await;
    for token in [&laptop, &phone] {
        assert_eq!(app.get_as(token, "/api/auth/session").await.status(), StatusCode::OK);
    }
    let out = app.post_json("/api/auth/logout-all", Some(&phone), &json!({})).await;
    assert_eq!(out.status(), StatusCode::OK);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"), "the browser's cookie is cleared");
    for token in [&laptop, &phone] {
        assert_eq!(app.get_as(token, "/api/auth/session").await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.get_as(&someone_else, "/api/auth/session").await.status(), StatusCode::OK);

    // A session past its absolute end (7 days after the sign-in) is over, even if used daily.
    let token = app.sign_in("sam@example.com").await;
    let session: Value = app.get_as(&token, "/api/auth/session").await.json().await.unwrap();
    let expires: chrono::DateTime<chrono::Utc> = session["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires <= chrono::Utc::now() + chrono::Duration::hours(24) + chrono::Duration::seconds(5));
    let key = format!("{}session:{}", app.redis_prefix, ticketing::auth::hashed(&token));
    let mut redis = redis(&app).await;
    let record: String = redis.get(&key).await.unwrap();
    let mut record: Value = serde_json::from_str(&record).unwrap();
    record["ends_at"] = json!(chrono::Utc::now() - chrono::Duration::seconds(1));
    let () = redis::cmd("SET").arg(&key).arg(record.to_string()).arg("KEEPTTL").query_async(&mut redis).await.unwrap();
    assert_eq!(app.get_as(&token, "/api/auth/session").await.status(), StatusCode::UNAUTHORIZED);
}

/// Transferring someone else's ticket is refused before anything happens: no account is made for
/// the address it named.
#[tokio::test]
async fn a_transfer_of_someone_elses_ticket_creates_no_account() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let event = app.open_event(&admin, 10).await;
    let owner = app.sign_in("owner@example.com").await;
    let thief = app.sign_in("thief@example.com").await;
    let held: Value = app
        .post_json("/api/reservations", Some(&owner), &json!({ "event_id": event, "section": "Floor", "quantity": 1 }))
        .await
        .json()
        .await
        .unwrap();
    let paid: Value =
        app.pay(&owner, held["reservation_id"].as_str().unwrap(), "4242424242424242").await.json().await.unwrap();
    let ticket = paid["tickets"][0]["ticket_id"].as_str().unwrap();
    let refused = app
        .post_json(
            &format!("/api/tickets/{ticket}/transfer"),
            Some(&thief),
            &json!({ "to_email": "accomplice@example.com" }),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let made: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email = 'accomplice@example.com'")
        .fetch_one(&app.databases.3.pool)
        .await
        .unwrap();
    assert_eq!(made, 0, "no account for a transfer that was refused");
}

/// The public readiness answer says what is down without the driver's words, and is computed
/// at most once a second; the operators' listener has the details.
#[tokio::test]
async fn public_readiness_names_the_failing_dependency_without_its_error() {
    let app = spawn_app_with(|c| c.kafka_brokers = Some("127.0.0.1:9".into())).await;
    let first = app.get("/health/ready").await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["checks"]["bus"]["ok"], false);
    assert_eq!(first["checks"]["events_db"]["ok"], true);
    assert!(first["checks"]["bus"].get("error").is_none(), "no driver text in public: {first}");
    let second: Value = app.get("/health/ready").await.json().await.unwrap();
    assert_eq!(second, first, "probed at most once a second");
    let detailed: Value =
        app.client.get(format!("{}/health/ready", app.operations)).send().await.unwrap().json().await.unwrap();
    assert!(detailed["checks"]["bus"]["error"].is_string(), "{detailed}");
}

/// A private Redis for a test that stops it.
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    fn start() -> Self {
        Self::start_on(std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port())
    }

    fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { port, child }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// With Redis gone, a signed-in visitor still sees the public catalogue (as a visitor would),
/// while what needs the session is a clear 503.
#[tokio::test]
async fn the_public_catalogue_survives_a_redis_outage() {
    let mut own = OwnRedis::start();
    let app = spawn_app_with(|c| c.redis_url = format!("redis://127.0.0.1:{}", own.port)).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let buyer = app.sign_in("buyer@example.com").await;
    let event = app.open_event(&admin, 10).await;
    app.get_until(&format!("/api/events/{event}"), |b| b["status"] == "sales_open").await;
    own.child.kill().unwrap();
    own.child.wait().unwrap();
    let started = Instant::now();
    let catalogue = app.get_as(&buyer, "/api/events").await;
    assert_eq!(catalogue.status(), StatusCode::OK);
    let one = app.get_as(&buyer, &format!("/api/events/{event}")).await;
    assert_eq!(one.status(), StatusCode::OK);
    let mine = app.get_as(&buyer, "/api/tickets").await;
    assert_eq!(mine.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(mine.json::<Value>().await.unwrap()["details"]["dependency"], "redis");
    assert!(started.elapsed() < Duration::from_secs(10), "failing fast, not waiting out the deadline");
}

/// The operator's report: after a 5 s Redis outage, requests hung for the whole 30 s deadline
/// for two minutes. While Redis is away every call that needs it must be a 503 within about a
/// second, and once it is back it must be used again within two seconds.
#[tokio::test]
async fn redis_away_is_a_fast_503_and_redis_back_is_used_within_two_seconds() {
    let mut own = OwnRedis::start();
    let port = own.port;
    let app = spawn_app_with(|c| c.redis_url = format!("redis://127.0.0.1:{port}")).await;
    let buyer = app.sign_in("buyer@example.com").await;
    assert_eq!(app.get_as(&buyer, "/api/tickets").await.status(), StatusCode::OK);

    own.child.kill().unwrap();
    own.child.wait().unwrap();
    let outage = Instant::now();
    let (mut answered, mut slowest) = (0, Duration::ZERO);
    while outage.elapsed() < Duration::from_secs(5) {
        for signing_in in [false, true] {
            let asked = Instant::now();
            let response = if signing_in {
                app.post_json("/api/auth/magic-link/send", None, &json!({ "email": "buyer@example.com" })).await
            } else {
                app.get_as(&buyer, "/api/tickets").await
            };
            slowest = slowest.max(asked.elapsed());
            answered += 1;
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.json::<Value>().await.unwrap()["details"]["dependency"], "redis");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("redis away: {answered} answers, slowest {} ms", slowest.as_millis());
    assert!(slowest < Duration::from_millis(2_500), "a 503 in about a second, not the deadline: {slowest:?}");

    let back = OwnRedis::start_on(port);
    let restarted = Instant::now();
    let recovered = loop {
        let asked = Instant::now();
        let sent = app.post_json("/api/auth/magic-link/send", None, &json!({ "email": "again@example.com" })).await;
        assert!(asked.elapsed() < Duration::from_millis(2_500), "no request waits out the deadline");
        if sent.status() == StatusCode::ACCEPTED {
            break restarted.elapsed();
        }
        assert!(restarted.elapsed() < Duration::from_secs(10), "Redis back but never used again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("redis back: sign-in works again after {} ms", recovered.as_millis());
    assert!(recovered < Duration::from_secs(2), "used again within two seconds: {recovered:?}");
    // The restarted Redis kept nothing: the old session is gone, a new sign-in works end to end.
    assert_eq!(app.get_as(&buyer, "/api/tickets").await.status(), StatusCode::UNAUTHORIZED);
    let again = app.sign_in("buyer@example.com").await;
    assert_eq!(app.get_as(&again, "/api/tickets").await.status(), StatusCode::OK);
    drop(back);
}

/// Headers every answer carries, and the hardening of what carries tokens.
#[tokio::test]
async fn answers_carry_security_headers_and_tokens_are_never_cached_or_in_urls() {
    let app = spawn_app().await;
    let health = app.get("/health").await;
    let headers = health.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "strict-origin-when-cross-origin");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert!(headers.get("strict-transport-security").is_none(), "no HSTS on plain http");

    // The sign-in link carries its token in the fragment: browsers never send it to a server.
    app.post_json("/api/auth/magic-link/send", None, &json!({ "email": "frag@example.com" })).await;
    let mail =
        app.smtp.delivered().into_iter().rev().find(|m| m.recipients.iter().any(|r| r == "frag@example.com")).unwrap();
    assert!(mail.data.contains("/auth/verify#token="), "{}", mail.data);
    assert!(!mail.data.contains("verify?token="));

    // A browser's sign-in gets the cookie, not the token; the session answer never shows it.
    let token = app.mailed_token("frag@example.com").unwrap();
    let browser = app
        .client
        .post(format!("{}/api/auth/magic-link/verify", app.address))
        .header("origin", "http://localhost:8080")
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(browser.status(), StatusCode::OK);
    assert_eq!(browser.headers()["cache-control"], "no-store");
    let cookie = browser.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"), "{cookie}");
    let body: Value = browser.json().await.unwrap();
    assert!(body.get("session_token").is_none(), "{body}");
    let session_value = cookie.split(';').next().unwrap().to_owned();
    let session = app
        .client
        .get(format!("{}/api/auth/session", app.address))
        .header("cookie", &session_value)
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), StatusCode::OK);
    assert_eq!(session.headers()["cache-control"], "no-store");
    let session: Value = session.json().await.unwrap();
    assert!(session.get("session_token").is_none() && session["user"]["email"] == "frag@example.com");

    // On https the cookie is Secure and __Host- prefixed, and HSTS is sent.
    let https = spawn_app_with(|c| {
        c.public_url = "https://tickets.example.com".into();
        c.webauthn_rp_id = "tickets.example.com".into();
    })
    .await;
    assert!(https.get("/health").await.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
    https.post_json("/api/auth/magic-link/send", None, &json!({ "email": "tls@example.com" })).await;
    let token = https.mailed_token("tls@example.com").unwrap();
    let verified = https.post_json("/api/auth/magic-link/verify", None, &json!({ "token": token })).await;
    let cookie = verified.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-ticketing_session=") && cookie.contains("; Secure"), "{cookie}");
}

/// A public (https) server refuses to start without SMTP: the outbox directory would hold live
/// sign-in links.
#[tokio::test]
async fn an_https_server_without_smtp_does_not_start() {
    let databases = (TestDb::new().await, TestDb::projections().await, TestDb::analytics().await, TestDb::auth().await);
    let config = ticketing::config::Config {
        http_addr: "127.0.0.1:0".into(),
        metrics_addr: "127.0.0.1:0".into(),
        public_url: "https://tickets.example.com".into(),
        webauthn_rp_id: "tickets.example.com".into(),
        smtp_url: None,
        database_url_events: databases.0.url.clone(),
        database_url_projections: databases.1.url.clone(),
        database_url_analytics: databases.2.url.clone(),
        database_url_auth: databases.3.url.clone(),
        ..ticketing::config::Config::default()
    };
    let refused = ticketing::app::Application::build(config).await;
    let error = refused.expect_err("refused to start").to_string();
    assert!(error.contains("SMTP_URL"), "{error}");
}

/// A whole sign-in-and-buy session against the real binary at debug level: no line of its log
/// holds a session token, a sign-in token, or an OAuth code or state.
#[tokio::test]
async fn no_log_line_holds_a_token() {
    let databases = (TestDb::new().await, TestDb::projections().await, TestDb::analytics().await, TestDb::auth().await);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let outbox = std::env::temp_dir().join(format!("ticketing-mail-{}", Uuid::new_v4().simple()));
    let log = std::env::temp_dir().join(format!("ticketing-log-{}.txt", Uuid::new_v4().simple()));
    let mut server = Command::new(env!("CARGO_BIN_EXE_ticketing"))
        .arg("serve")
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("METRICS_ADDR", "127.0.0.1:0")
        .env("DATABASE_MAX_CONNECTIONS", "5")
        .env("DATABASE_URL_EVENTS", &databases.0.url)
        .env("DATABASE_URL_PROJECTIONS", &databases.1.url)
        .env("DATABASE_URL_ANALYTICS", &databases.2.url)
        .env("DATABASE_URL_AUTH", &databases.3.url)
        .env("REDIS_PREFIX", format!("ticketing_test_{}:", Uuid::new_v4().simple()))
        .env("MAIL_OUTBOX_DIR", &outbox)
        .env("ADMIN_EMAILS", ADMIN_EMAIL)
        .env("RUST_LOG", "debug")
        .env("OIDC_TEST_ISSUER", "http://127.0.0.1:9")
        .env("OIDC_TEST_CLIENT_ID", "ticketing")
        .env("OIDC_TEST_CLIENT_SECRET", "secret-of-the-client")
        .env_remove("KAFKA_BROKERS")
        .env_remove("SMTP_URL")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server never came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut secrets = Vec::new();
    let mut sign_in = async |email: &str| -> String {
        client.post(format!("{base}/api/auth/magic-link/send")).json(&json!({ "email": email })).send().await.unwrap();
        let text = std::fs::read_dir(&outbox)
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
            .filter(|t| t.starts_with(&format!("To: {email}\n")))
            .last()
            .unwrap();
        let link = text.lines().find_map(|l| l.strip_prefix("Token: ")).unwrap().to_owned();
        let verified: Value = client
            .post(format!("{base}/api/auth/magic-link/verify"))
            .json(&json!({ "token": link }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = verified["session_token"].as_str().unwrap().to_owned();
        secrets.push(link);
        secrets.push(session.clone());
        session
    };
    let admin = sign_in(ADMIN_EMAIL).await;
    let buyer = sign_in("quiet@example.com").await;
    let create = json!({
        "name": "Quiet Night", "date": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
        "venue": { "name": "Hall" },
        "sections": [{ "name": "Floor", "capacity": 10, "seating": "general", "base_price_cents": 1_000 }]
    });
    let event: Value = client
        .post(format!("{base}/api/events"))
        .bearer_auth(&admin)
        .json(&create)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event = event["event_id"].as_str().unwrap().to_owned();
    for step in ["publish", "sales/open"] {
        client.post(format!("{base}/api/events/{event}/{step}")).bearer_auth(&admin).send().await.unwrap();
    }
    let held: Value = client
        .post(format!("{base}/api/reservations"))
        .bearer_auth(&buyer)
        .header("idempotency-key", "quiet-1")
        .json(&json!({ "event_id": event, "section": "Floor", "quantity": 1 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reservation = held["reservation_id"].as_str().unwrap();
    client
        .post(format!("{base}/api/reservations/{reservation}/payment"))
        .header("cookie", format!("ticketing_session={buyer}"))
        .header("origin", "http://localhost:8080")
        .json(&json!({ "payment_method": crate::support::card_json("4242424242424242") }))
        .send()
        .await
        .unwrap();
    client.get(format!("{base}/api/tickets")).bearer_auth(&buyer).send().await.unwrap();
    // An OAuth callback with a code and state in its query (the provider is down: 503).
    let (code, state) = (format!("code-{}", Uuid::new_v4().simple()), format!("state-{}", Uuid::new_v4().simple()));
    client.get(format!("{base}/api/auth/oauth/test/callback?code={code}&state={state}")).send().await.unwrap();
    client.get(format!("{base}/api/auth/oauth/test/authorize")).send().await.unwrap();
    secrets.extend([code, state, "secret-of-the-client".to_owned()]);
    // A WebSocket upgrade attempt with a token in its URL (refused; the token still must not be logged).
    client.get(format!("{base}/ws/events/{event}/availability?session_id={buyer}")).send().await.unwrap();
    client.post(format!("{base}/api/auth/logout")).bearer_auth(&buyer).send().await.unwrap();

    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let _ = server.wait();
    let logged = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_dir_all(&outbox);
    assert!(logged.lines().count() > 50, "the server logged at debug level");
    for secret in &secrets {
        let leaks: Vec<&str> = logged.lines().filter(|l| l.contains(secret.as_str())).take(3).collect();
        assert!(leaks.is_empty(), "a secret is in the log:\n{}", leaks.join("\n"));
    }
}
