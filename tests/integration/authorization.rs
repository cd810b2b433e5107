//! Every route × {anonymous, customer A (the owner), customer B, admin} → the expected status,
//! from one table, three times: with `Authorization: Bearer` (API clients), with the web app's
//! session cookie from our own origin (the same answers), and with the cookie from a foreign
//! page (every session-using unsafe request refused with 403: no cross-site request forgery).
//! Requests for allowed callers are chosen to be refused *after* the authorization decision
//! (paying twice, cancelling what is over, invalid bodies), so the matrix changes nothing while
//! it runs. A route in `src/http` missing from the table fails.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN_EMAIL, TestApp, card_json, spawn_app};

struct Fixture {
    event: String,
    draft: String,
    paid: String,
    declined: String,
    payment: String,
    ticket: String,
    alice_id: String,
}

async fn fixture(app: &TestApp, admin: &str, alice: &str) -> Fixture {
    let create = |name: &str| {
        json!({
            "name": name, "date": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
            "venue": { "name": "Hall" },
            "sections": [{ "name": "Floor", "capacity": 20, "seating": "general", "base_price_cents": 1_000 }]
        })
    };
    let event: Value = app.post_json("/api/events", Some(admin), &create("Matrix")).await.json().await.unwrap();
    let event = event["event_id"].as_str().unwrap().to_owned();
    app.post_json(&format!("/api/events/{event}/publish"), Some(admin), &json!({})).await;
    app.post_json(&format!("/api/events/{event}/sales/open"), Some(admin), &json!({})).await;
    let draft: Value = app.post_json("/api/events", Some(admin), &create("Draft")).await.json().await.unwrap();
    let draft = draft["event_id"].as_str().unwrap().to_owned();

    let reserve = |q: i64| json!({ "event_id": event, "section": "Floor", "quantity": q });
    let paid: Value = app.post_json("/api/reservations", Some(alice), &reserve(2)).await.json().await.unwrap();
    let paid_id = paid["reservation_id"].as_str().unwrap().to_owned();
    let paid: Value = app.pay(alice, &paid_id, "4242424242424242").await.json().await.unwrap();
    let declined: Value = app.post_json("/api/reservations", Some(alice), &reserve(1)).await.json().await.unwrap();
    let declined_id = declined["reservation_id"].as_str().unwrap().to_owned();
    app.pay(alice, &declined_id, "4000000000000002").await;
    let me: Value = app.get_as(alice, "/api/auth/session").await.json().await.unwrap();
    // Tickets are found through the read model: wait for it.
    app.get_until(&format!("/api/events/{event}/availability"), |b| b["sections"]["Floor"]["sold"] == 2).await;
    Fixture {
        event,
        draft,
        payment: paid["payment_id"].as_str().unwrap().to_owned(),
        ticket: paid["tickets"][0]["ticket_id"].as_str().unwrap().to_owned(),
        paid: paid_id,
        declined: declined_id,
        alice_id: me["user"]["id"].as_str().unwrap().to_owned(),
    }
}

const A: u16 = 200;

/// (method, route as registered, concrete path, body, [anonymous, alice, bob, admin]).
type Row = (Method, &'static str, String, Option<Value>, [u16; 4]);

// One-letter names keep each row of the table on one readable line.
#[allow(clippy::many_single_char_names)]
fn table(f: &Fixture) -> Vec<Row> {
    let (e, d, r, x, p, t, c) = (&f.event, &f.draft, &f.paid, &f.declined, &f.payment, &f.ticket, &f.alice_id);
    let pay = json!({ "payment_method": card_json("4242424242424242") });
    vec![
        (Method::GET, "/health", "/health".into(), None, [A, A, A, A]),
        (Method::GET, "/health/ready", "/health/ready".into(), None, [A, A, A, A]),
        // Operators' scrape endpoint: served on METRICS_ADDR only, never on the public port.
        (Method::GET, "/metrics", "/metrics".into(), None, [404; 4]),
        (Method::GET, "/api/auth/providers", "/api/auth/providers".into(), None, [A; 4]),
        (Method::GET, "/api/checkin/key", "/api/checkin/key".into(), None, [A; 4]),
        (Method::GET, "/api/config", "/api/config".into(), None, [A; 4]),
        // The door: admins and staff; a forged code is a 200 with an `invalid` verdict.
        (
            Method::POST,
            "/api/checkin",
            "/api/checkin".into(),
            Some(json!({ "event_id": e, "code": "forged" })),
            [401, 403, 403, A],
        ),
        (
            Method::GET,
            "/api/events/{id}/reservations",
            format!("/api/events/{e}/reservations"),
            None,
            [401, 403, 403, A],
        ),
        (Method::GET, "/api/auth/passkeys", "/api/auth/passkeys".into(), None, [401, A, A, A]),
        (
            Method::DELETE,
            "/api/auth/passkeys/{id}",
            format!("/api/auth/passkeys/{}", uuid::Uuid::new_v4()),
            None,
            [401, 404, 404, 404],
        ),
        (Method::GET, "/api/openapi.json", "/api/openapi.json".into(), None, [A, A, A, A]),
        (
            Method::POST,
            "/api/auth/magic-link/send",
            "/api/auth/magic-link/send".into(),
            Some(json!({ "email": "x@example.com" })),
            [202; 4],
        ),
        (
            Method::POST,
            "/api/auth/magic-link/verify",
            "/api/auth/magic-link/verify".into(),
            Some(json!({ "token": "0".repeat(64) })),
            [401; 4],
        ),
        (Method::GET, "/api/auth/session", "/api/auth/session".into(), None, [401, A, A, A]),
        // Without an upgrade: a signed-in caller gets past the session check to "not a WebSocket".
        (
            Method::GET,
            "/ws/events/{id}/availability",
            format!("/ws/events/{e}/availability"),
            None,
            [401, 400, 400, 400],
        ),
        (Method::GET, "/api/auth/oauth/{provider}/authorize", "/api/auth/oauth/nope/authorize".into(), None, [404; 4]),
        (
            Method::GET,
            "/api/auth/oauth/{provider}/callback",
            "/api/auth/oauth/nope/callback?code=c&state=s".into(),
            None,
            [404; 4],
        ),
        (
            Method::POST,
            "/api/auth/passkey/register/begin",
            "/api/auth/passkey/register/begin".into(),
            None,
            [401, A, A, A],
        ),
        (
            Method::POST,
            "/api/auth/passkey/register/complete",
            "/api/auth/passkey/register/complete".into(),
            Some(json!({})),
            [401, 400, 400, 400],
        ),
        (
            Method::POST,
            "/api/auth/passkey/login/begin",
            "/api/auth/passkey/login/begin".into(),
            Some(json!({})),
            [A; 4],
        ),
        (
            Method::POST,
            "/api/auth/passkey/login/complete",
            "/api/auth/passkey/login/complete".into(),
            Some(json!({})),
            [400; 4],
        ),
        (Method::GET, "/api/events", "/api/events".into(), None, [A, A, A, A]),
        (
            Method::POST,
            "/api/events",
            "/api/events".into(),
            Some(json!({ "name": "no sections" })),
            [401, 403, 403, 400],
        ),
        (Method::GET, "/api/events/{id}", format!("/api/events/{e}"), None, [A, A, A, A]),
        // Editing needs a draft: the on-sale event is refused after the admin check.
        (
            Method::PUT,
            "/api/events/{id}",
            format!("/api/events/{e}"),
            Some(json!({ "name": "x", "date": "2030-01-01T00:00:00Z", "venue": { "name": "H" },
                         "sections": [{ "name": "F", "capacity": 1, "seating": "general", "base_price_cents": 100 }] })),
            [401, 403, 403, 422],
        ),
        (Method::GET, "/api/events/{id}", format!("/api/events/{d}"), None, [404, 404, 404, A]),
        (Method::POST, "/api/events/{id}/publish", format!("/api/events/{e}/publish"), None, [401, 403, 403, 422]),
        (
            Method::POST,
            "/api/events/{id}/sales/open",
            format!("/api/events/{e}/sales/open"),
            None,
            [401, 403, 403, 422],
        ),
        (
            Method::POST,
            "/api/events/{id}/sales/close",
            format!("/api/events/{d}/sales/close"),
            None,
            [401, 403, 403, 422],
        ),
        (
            Method::POST,
            "/api/events/{id}/cancel",
            format!("/api/events/{e}/cancel"),
            Some(json!({ "reason": " " })),
            [401, 403, 403, 400],
        ),
        (Method::GET, "/api/events/{id}/availability", format!("/api/events/{e}/availability"), None, [A, A, A, A]),
        (
            Method::GET,
            "/api/events/{id}/sections/{section}",
            format!("/api/events/{e}/sections/Floor"),
            None,
            [A, A, A, A],
        ),
        (Method::GET, "/api/events/{id}/analytics", format!("/api/events/{e}/analytics"), None, [401, 403, 403, A]),
        (
            Method::POST,
            "/api/reservations",
            "/api/reservations".into(),
            Some(json!({ "event_id": e, "section": "Floor", "quantity": 9 })),
            [401, 400, 400, 400],
        ),
        (Method::GET, "/api/reservations", "/api/reservations".into(), None, [401, A, A, A]),
        (Method::GET, "/api/reservations/{id}", format!("/api/reservations/{r}"), None, [401, A, 404, A]),
        (
            Method::POST,
            "/api/reservations/{id}/payment",
            format!("/api/reservations/{x}/payment"),
            Some(pay.clone()),
            [401, 422, 404, 404],
        ),
        (
            Method::POST,
            "/api/reservations/{id}/cancel",
            format!("/api/reservations/{x}/cancel"),
            None,
            [401, 422, 404, 404],
        ),
        (
            Method::GET,
            "/api/reservations/{id}/history",
            format!("/api/reservations/{r}/history"),
            None,
            [401, A, 404, A],
        ),
        (
            Method::POST,
            "/api/payments",
            "/api/payments".into(),
            Some(json!({ "reservation_id": x, "payment_method": card_json("4242424242424242") })),
            [401, 422, 404, 404],
        ),
        (Method::GET, "/api/payments/{id}", format!("/api/payments/{p}"), None, [401, A, 404, A]),
        (
            Method::POST,
            "/api/payments/{id}/refund",
            format!("/api/payments/{p}/refund"),
            Some(json!({ "amount_cents": 999_999, "reason": "too much" })),
            [401, 403, 403, 400],
        ),
        (Method::GET, "/api/tickets", "/api/tickets".into(), None, [401, A, A, A]),
        (
            Method::POST,
            "/api/tickets/{id}/transfer",
            format!("/api/tickets/{t}/transfer"),
            Some(json!({ "to_email": "alice@example.com" })),
            [401, 400, 404, 404],
        ),
        (Method::GET, "/api/customers/{id}/history", format!("/api/customers/{c}/history"), None, [401, A, 404, A]),
        (
            Method::GET,
            "/api/customers/{id}/lifetime-value",
            format!("/api/customers/{c}/lifetime-value"),
            None,
            [401, A, 404, A],
        ),
        (
            Method::GET,
            "/api/analytics/sales/time-series",
            "/api/analytics/sales/time-series".into(),
            None,
            [401, 403, 403, A],
        ),
        (
            Method::GET,
            "/api/analytics/events/top-sellers",
            "/api/analytics/events/top-sellers".into(),
            None,
            [401, 403, 403, A],
        ),
        (
            Method::GET,
            "/api/analytics/customers/segments",
            "/api/analytics/customers/segments".into(),
            None,
            [401, 403, 403, A],
        ),
        (
            Method::GET,
            "/api/analytics/sections/popularity",
            "/api/analytics/sections/popularity".into(),
            None,
            [401, 403, 403, A],
        ),
        // Last: they end sessions (each runs with sessions of its own).
        (Method::POST, "/api/auth/logout-all", "/api/auth/logout-all".into(), None, [401, A, A, A]),
        (Method::POST, "/api/auth/logout", "/api/auth/logout".into(), None, [401, A, A, A]),
    ]
}

/// Routes whose rows end the caller's sessions.
const ENDS_SESSIONS: [&str; 2] = ["/api/auth/logout-all", "/api/auth/logout"];

/// How the signed-in callers present their session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    Bearer,
    /// The web app's cookie, from our own page.
    Cookie,
    /// The cookie, sent along by the browser with a request another site made it send.
    ForeignCookie,
}

const PUBLIC_URL: &str = "http://localhost:8080";

/// Routes that answer 401 for reasons other than a missing session (a bad sign-in token).
const REFUSE_WITHOUT_A_SESSION: [&str; 1] = ["/api/auth/magic-link/verify"];

/// What a row answers a signed-in caller presenting `credential`.
fn expected(method: &Method, route: &str, anonymous: u16, want: u16, credential: Credential) -> u16 {
    let uses_session = anonymous == 401 && !REFUSE_WITHOUT_A_SESSION.contains(&route);
    let unsafe_method = !matches!(*method, Method::GET | Method::HEAD);
    if credential == Credential::ForeignCookie && uses_session && (unsafe_method || route.starts_with("/ws/")) {
        403
    } else {
        want
    }
}

async fn sessions(app: &TestApp) -> [String; 3] {
    [app.sign_in("alice@example.com").await, app.sign_in("bob@example.com").await, app.sign_in(ADMIN_EMAIL).await]
}

/// Every `.route("PATH"` in `src/http`, as registered.
fn registered_routes() -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for piece in text.split(".route(\"").skip(1) {
            routes.insert(piece.split('"').next().unwrap().to_owned());
        }
    }
    routes
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_specified() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let alice = app.sign_in("alice@example.com").await;
    let f = fixture(&app, &admin, &alice).await;
    let rows = table(&f);

    let covered: BTreeSet<String> = rows.iter().map(|(_, route, ..)| (*route).to_owned()).collect();
    let missing: Vec<_> = registered_routes().difference(&covered).cloned().collect();
    assert!(missing.is_empty(), "routes missing from the authorization table: {missing:?}");

    let mut wrong = Vec::new();
    for credential in [Credential::Cookie, Credential::ForeignCookie, Credential::Bearer] {
        let mut signed_in = sessions(&app).await;
        for (method, route, path, body, expected_statuses) in &rows {
            if ENDS_SESSIONS.contains(route) {
                signed_in = sessions(&app).await;
            }
            let callers = [None, Some(&signed_in[0]), Some(&signed_in[1]), Some(&signed_in[2])];
            for (who, (token, want)) in
                ["anonymous", "alice", "bob", "admin"].iter().zip(callers.iter().zip(expected_statuses))
            {
                let mut request = app.client.request(method.clone(), format!("{}{path}", app.address));
                let want = match token {
                    None => *want,
                    Some(token) => {
                        request = match credential {
                            Credential::Bearer => request.bearer_auth(token),
                            Credential::Cookie => request
                                .header("cookie", format!("ticketing_session={token}"))
                                .header("origin", PUBLIC_URL),
                            Credential::ForeignCookie => request
                                .header("cookie", format!("ticketing_session={token}"))
                                .header("origin", "https://evil.example"),
                        };
                        expected(method, route, expected_statuses[0], *want, credential)
                    }
                };
                if let Some(body) = body {
                    request = request.json(body);
                }
                let response = request.send().await.unwrap();
                let got = response.status();
                if got != StatusCode::from_u16(want).unwrap() {
                    let code = response
                        .json::<Value>()
                        .await
                        .ok()
                        .and_then(|b| b["code"].as_str().map(str::to_owned))
                        .unwrap_or_default();
                    wrong.push(format!("{credential:?}: {method} {route} as {who}: expected {want}, got {got} {code}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
