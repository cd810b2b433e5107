//! One table of hostile requests against every write route: wrong types, huge and negative
//! numbers, megabyte strings, unknown fields, malformed JSON, bad UUIDs in paths, SQL and HTML
//! where a strict format is expected. Each must be a 4xx in our error format, and afterwards the
//! event log, the users and the passkeys are exactly as before.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_EMAIL, TestApp, card_json, spawn_app};

/// A request body: JSON, or raw text sent as JSON.
enum Body {
    Json(Value),
    Raw(String),
}

struct Case {
    path: String,
    token: Option<String>,
    body: Body,
    why: &'static str,
}

async fn counts(app: &TestApp) -> (i64, i64, i64, i64) {
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&app.databases.0.pool).await.unwrap();
    let effects: i64 =
        sqlx::query_scalar("SELECT count(*) FROM effects").fetch_one(&app.databases.0.pool).await.unwrap();
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.databases.3.pool).await.unwrap();
    let passkeys: i64 =
        sqlx::query_scalar("SELECT count(*) FROM passkeys").fetch_one(&app.databases.3.pool).await.unwrap();
    (events, effects, users, passkeys)
}

/// A 4xx in our envelope, without internals.
async fn assert_hostile_refused(response: reqwest::Response, path: &str, why: &str) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let shown: String = text.chars().take(300).collect();
    assert!(status.is_client_error(), "{path} ({why}): {status} {shown}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path} ({why}): not JSON: {shown}"));
    let code = body["code"].as_str().unwrap_or_default();
    assert!(!code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{why}: {shown}");
    assert!(body["message"].is_string(), "{why}: {shown}");
    assert!(!text.contains("sqlx") && !text.contains("panicked"), "{why}: internals leaked: {shown}");
    assert_ne!(status, StatusCode::PAYLOAD_TOO_LARGE, "{why}: the body limit answers in our format as 400");
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one table, on purpose
async fn hostile_bodies_on_every_write_route_are_4xx_in_our_format_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let buyer = app.sign_in("buyer@example.com").await;
    let event = app.open_event(&admin, 30).await;
    app.get_until(&format!("/api/events/{event}"), |b| b["status"] == "sales_open").await;
    let held: Value = app
        .post_json("/api/reservations", Some(&buyer), &json!({ "event_id": event, "section": "Floor", "quantity": 1 }))
        .await
        .json()
        .await
        .unwrap();
    let held = held["reservation_id"].as_str().unwrap().to_owned();
    let paid: Value = app
        .post_json("/api/reservations", Some(&buyer), &json!({ "event_id": event, "section": "Floor", "quantity": 2 }))
        .await
        .json()
        .await
        .unwrap();
    let paid_id = paid["reservation_id"].as_str().unwrap().to_owned();
    let paid: Value = app.pay(&buyer, &paid_id, "4242424242424242").await.json().await.unwrap();
    let payment = paid["payment_id"].as_str().unwrap().to_owned();
    let ticket = paid["tickets"][0]["ticket_id"].as_str().unwrap().to_owned();

    let megabyte = "x".repeat(1024 * 1024);
    let date = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let event_with =
        |section: Value| json!({ "name": "Hostile", "date": date, "venue": { "name": "Hall" }, "sections": [section] });
    let good_section = json!({ "name": "Floor", "capacity": 10, "seating": "general", "base_price_cents": 100 });
    let card = |number: &str| json!({ "payment_method": { "type": "card", "card_number": number, "expiry": "12/30", "cvc": "123" } });
    let (a, b) = (Some(admin.clone()), Some(buyer.clone()));
    let case = |path: &str, token: &Option<String>, body: Value, why: &'static str| Case {
        path: path.to_owned(),
        token: token.clone(),
        body: Body::Json(body),
        why,
    };
    let raw = |path: &str, token: &Option<String>, text: &str, why: &'static str| Case {
        path: path.to_owned(),
        token: token.clone(),
        body: Body::Raw(text.to_owned()),
        why,
    };
    let events = "/api/events";
    let reservations = "/api/reservations";
    let pay_held = format!("/api/reservations/{held}/payment");
    let refund = format!("/api/payments/{payment}/refund");
    let transfer = format!("/api/tickets/{ticket}/transfer");
    let cancel_event = format!("/api/events/{event}/cancel");
    let cases = vec![
        // Auth.
        case("/api/auth/magic-link/send", &None, json!({ "email": 42 }), "wrong type"),
        case(
            "/api/auth/magic-link/send",
            &None,
            json!({ "email": "a@b.com'; DROP TABLE users; --" }),
            "SQL in an email",
        ),
        case(
            "/api/auth/magic-link/send",
            &None,
            json!({ "email": "<script>alert(1)</script>@x.com" }),
            "HTML in an email",
        ),
        case("/api/auth/magic-link/send", &None, json!({ "email": megabyte.clone() }), "1 MB email"),
        case("/api/auth/magic-link/send", &None, json!({ "email": "a@b.com", "admin": true }), "unknown field"),
        raw("/api/auth/magic-link/send", &None, "{\"email\":", "truncated JSON"),
        case("/api/auth/magic-link/verify", &None, json!({ "token": ["x"] }), "wrong type"),
        case("/api/auth/magic-link/verify", &None, json!({ "token": "' OR 1=1 --" }), "SQL as a token"),
        case("/api/auth/passkey/login/begin", &None, json!({ "email": "not an address" }), "bad email"),
        case("/api/auth/passkey/login/begin", &None, json!({ "email": "a@b.com", "user_id": "x" }), "unknown field"),
        case(
            "/api/auth/passkey/login/complete",
            &None,
            json!({ "id": "x", "rawId": "!!", "type": "public-key" }),
            "not an assertion",
        ),
        case("/api/auth/passkey/register/complete", &b, json!({ "id": 1 }), "not a credential"),
        // Events.
        case(events, &a, json!({ "name": 5, "date": date, "venue": { "name": "H" }, "sections": [] }), "wrong type"),
        case(
            events,
            &a,
            event_with(json!({ "name": "F", "capacity": "ten", "seating": "general", "base_price_cents": 1 })),
            "capacity as text",
        ),
        case(
            events,
            &a,
            event_with(json!({ "name": "F", "capacity": 1e30, "seating": "general", "base_price_cents": 1 })),
            "huge capacity",
        ),
        case(
            events,
            &a,
            event_with(
                json!({ "name": "F", "capacity": 9_223_372_036_854_775_807_i64, "seating": "general", "base_price_cents": 1 }),
            ),
            "i64::MAX capacity",
        ),
        case(
            events,
            &a,
            event_with(json!({ "name": "F", "capacity": -5, "seating": "general", "base_price_cents": 1 })),
            "negative capacity",
        ),
        case(
            events,
            &a,
            event_with(json!({ "name": "F", "capacity": 5, "seating": "general", "base_price_cents": -100 })),
            "negative price",
        ),
        case(
            events,
            &a,
            event_with(
                json!({ "name": "F", "capacity": 5, "seating": "general", "base_price_cents": 100_000_000_000_000_000_u64 }),
            ),
            "absurd price",
        ),
        case(
            events,
            &a,
            event_with(
                json!({ "name": "F'; DROP TABLE events; --", "capacity": 5, "seating": "general", "base_price_cents": 1 }),
            ),
            "SQL in a section name",
        ),
        case(
            events,
            &a,
            event_with(
                json!({ "name": "<img src=x onerror=alert(1)>", "capacity": 5, "seating": "general", "base_price_cents": 1 }),
            ),
            "HTML in a section name",
        ),
        case(
            events,
            &a,
            event_with(json!({ "name": "F", "capacity": 5, "seating": "vip", "base_price_cents": 1 })),
            "unknown seating",
        ),
        case(
            events,
            &a,
            event_with(
                json!({ "name": "F", "capacity": 5, "seating": "numbered", "rows": 1000, "seats_per_row": 1000, "base_price_cents": 1 }),
            ),
            "rows × seats ≠ capacity",
        ),
        case(
            events,
            &a,
            json!({ "name": megabyte.clone(), "date": date, "venue": { "name": "H" }, "sections": [good_section.clone()] }),
            "1 MB name",
        ),
        case(
            events,
            &a,
            json!({ "name": "N", "date": "yesterday", "venue": { "name": "H" }, "sections": [good_section.clone()] }),
            "bad date",
        ),
        case(
            events,
            &a,
            json!({ "name": "N", "date": date, "venue": { "name": "H" }, "sections": [good_section.clone()], "status": "sales_open" }),
            "unknown field",
        ),
        case(
            events,
            &a,
            json!({ "name": "N", "date": date, "venue": { "name": "H" }, "category": "<b>", "sections": [good_section.clone()] }),
            "HTML category",
        ),
        raw(events, &a, "[1, 2", "malformed JSON"),
        case(&cancel_event, &a, json!({ "reason": 1 }), "wrong type"),
        case(&cancel_event, &a, json!({ "reason": megabyte.clone() }), "1 MB reason"),
        case("/api/events/not-a-uuid/publish", &a, json!({}), "bad UUID in path"),
        case(
            "/api/events/00000000-0000-0000-0000-00000000000g/cancel",
            &a,
            json!({ "reason": "x" }),
            "bad UUID in path",
        ),
        // Reservations and payments.
        case(reservations, &b, json!({ "event_id": event, "section": "Floor", "quantity": -1 }), "negative quantity"),
        case(reservations, &b, json!({ "event_id": event, "section": "Floor", "quantity": 0 }), "zero quantity"),
        case(
            reservations,
            &b,
            json!({ "event_id": event, "section": "Floor", "quantity": 18_446_744_073_709_551_615_u64 }),
            "u64::MAX quantity",
        ),
        case(
            reservations,
            &b,
            json!({ "event_id": event, "section": "Floor", "quantity": 2.5 }),
            "fractional quantity",
        ),
        case(reservations, &b, json!({ "event_id": event, "section": "Floor", "quantity": "2" }), "quantity as text"),
        case(
            reservations,
            &b,
            json!({ "event_id": "'; DROP TABLE events; --", "section": "Floor", "quantity": 1 }),
            "SQL as an id",
        ),
        case(
            reservations,
            &b,
            json!({ "event_id": event, "section": "Floor' OR '1'='1", "quantity": 1 }),
            "SQL in a section",
        ),
        case(
            reservations,
            &b,
            json!({ "event_id": event, "section": "Floor", "quantity": 1, "specific_seats": ["<script>"] }),
            "HTML seat label",
        ),
        case(
            reservations,
            &b,
            json!({ "event_id": event, "section": "Floor", "quantity": 1, "price_cents": 1 }),
            "unknown field",
        ),
        case(
            reservations,
            &b,
            json!({ "event_id": event, "section": megabyte.clone(), "quantity": 1 }),
            "1 MB section",
        ),
        case(&pay_held, &b, card("4242 4242 4242 4242; DROP"), "SQL in a card number"),
        case(&pay_held, &b, card("abcd"), "letters as a card number"),
        case(
            &pay_held,
            &b,
            json!({ "payment_method": { "type": "card", "card_number": "4242424242424242", "expiry": "13/99", "cvc": "123" } }),
            "bad expiry",
        ),
        case(
            &pay_held,
            &b,
            json!({ "payment_method": { "type": "card", "card_number": "4242424242424242", "expiry": "12/30", "cvc": "12345" } }),
            "bad CVC",
        ),
        case(&pay_held, &b, json!({ "payment_method": { "type": "bitcoin" } }), "other payment type"),
        case(
            &pay_held,
            &b,
            json!({ "payment_method": card_json("4242424242424242"), "amount_cents": 1 }),
            "unknown field (a price)",
        ),
        case("/api/reservations/%27%20OR%201=1/payment", &b, card("4242424242424242"), "SQL in path"),
        case(
            "/api/payments",
            &b,
            json!({ "reservation_id": 12, "payment_method": card_json("4242424242424242") }),
            "id as a number",
        ),
        case(&refund, &a, json!({ "amount_cents": -1, "reason": "x" }), "negative refund"),
        case(&refund, &a, json!({ "amount_cents": 1e20, "reason": "x" }), "huge refund"),
        case(&refund, &a, json!({ "amount_cents": 100, "reason": "x", "to": "me" }), "unknown field"),
        case(&transfer, &b, json!({ "to_email": "x@y.com'); DELETE FROM tickets; --" }), "SQL in an email"),
        case(&transfer, &b, json!({ "to_email": ["a@b.com"] }), "wrong type"),
        case("/api/tickets/not-a-uuid/transfer", &b, json!({ "to_email": "a@b.com" }), "bad UUID in path"),
    ];

    let before = counts(&app).await;
    // Every case as an API client (bearer) and as the web app (its cookie, from its own page).
    for via_cookie in [false, true] {
        for case in &cases {
            let mut request = app.client.post(format!("{}{}", app.address, case.path));
            if let Some(token) = &case.token {
                request = if via_cookie {
                    request
                        .header("cookie", format!("ticketing_session={token}"))
                        .header("origin", "http://localhost:8080")
                } else {
                    request.bearer_auth(token)
                };
            }
            request = match &case.body {
                Body::Json(value) => request.json(value),
                Body::Raw(text) => request.header("content-type", "application/json").body(text.clone()),
            };
            assert_hostile_refused(request.send().await.unwrap(), &case.path, case.why).await;
        }
    }
    // Routes without a body: hostile paths and queries.
    let buyer_get = |path: &str| app.client.get(format!("{}{path}", app.address)).bearer_auth(&buyer);
    let buyer_delete = |path: &str| app.client.delete(format!("{}{path}", app.address)).bearer_auth(&buyer);
    for (request, path, why) in [
        (buyer_delete("/api/auth/passkeys/not-a-uuid"), "/api/auth/passkeys/not-a-uuid", "bad UUID in path"),
        (buyer_delete("/api/auth/passkeys/%27%20OR%201=1"), "/api/auth/passkeys/' OR 1=1", "SQL in path"),
        (buyer_get("/api/tickets?page=-1"), "/api/tickets?page=-1", "negative page"),
        (buyer_get("/api/tickets?per_page=1000000000"), "/api/tickets?per_page=1e9", "huge page"),
        (buyer_get("/api/reservations?page=%27%20OR%201=1"), "/api/reservations?page=' OR 1=1", "SQL as a page"),
        (buyer_get("/api/reservations?page=1&evil=1"), "/api/reservations?evil=1", "unknown parameter"),
    ] {
        assert_hostile_refused(request.send().await.unwrap(), path, why).await;
    }
    assert_eq!(counts(&app).await, before, "a hostile request changed something");

    // Free text is stored as text: SQL and HTML in an event name come back verbatim, inert.
    let name = "Robert'); DROP TABLE events;-- <script>alert(1)</script>";
    let created = app
        .post_json(
            events,
            Some(&admin),
            &json!({ "name": name, "date": date, "venue": { "name": "H" }, "sections": [good_section] }),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["name"], name);
    assert!(counts(&app).await.0 > before.0, "and the log still works");
}
