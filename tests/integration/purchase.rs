//! A whole purchase through HTTP only, as the people involved would do it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_EMAIL, TestApp, card_json, spawn_app};

async fn body(response: reqwest::Response, expected: StatusCode) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, expected, "{body}");
    body
}

async fn event_on_sale(app: &TestApp, admin: &str) -> String {
    let create = json!({
        "name": "Harbour Lights Festival",
        "date": (chrono::Utc::now() + chrono::Duration::days(40)).to_rfc3339(),
        "category": "festival",
        "venue": { "name": "Harbour", "city": "Hamburg", "country": "DE" },
        "sections": [
            { "name": "Field", "capacity": 500, "seating": "general", "base_price_cents": 4_500 },
            { "name": "Balcony", "capacity": 8, "seating": "numbered", "rows": 2, "seats_per_row": 4, "base_price_cents": 9_000 }
        ]
    });
    let created = body(app.post_json("/api/events", Some(admin), &create).await, StatusCode::CREATED).await;
    assert_eq!(created["status"], "draft");
    let id = created["event_id"].as_str().unwrap().to_owned();
    body(app.post_json(&format!("/api/events/{id}/publish"), Some(admin), &json!({})).await, StatusCode::OK).await;
    let open =
        body(app.post_json(&format!("/api/events/{id}/sales/open"), Some(admin), &json!({})).await, StatusCode::OK)
            .await;
    assert_eq!(open["status"], "sales_open");
    id
}

#[tokio::test]
async fn an_admin_opens_sales_and_a_customer_buys_two_seats_over_http() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let event = event_on_sale(&app, &admin).await;

    let alice = app.sign_in("alice@example.com").await;
    let held = app
        .post_json(
            "/api/reservations",
            Some(&alice),
            &json!({ "event_id": event, "section": "Balcony", "quantity": 2, "specific_seats": ["A-1", "A-2"] }),
        )
        .await;
    let held = body(held, StatusCode::CREATED).await;
    assert_eq!(held["status"], "seats_reserved");
    // 40 days out: early bird, 90.00 − 20 % = 72.00 each.
    assert_eq!(held["total_amount_cents"], 14_400);
    let seats: Vec<&str> =
        held["seats"].as_array().unwrap().iter().map(|s| s["seat_number"].as_str().unwrap()).collect();
    assert_eq!(seats, ["A-1", "A-2"]);
    let reservation = held["reservation_id"].as_str().unwrap().to_owned();

    let paid = app
        .post_json(
            &format!("/api/reservations/{reservation}/payment"),
            Some(&alice),
            &json!({ "payment_method": card_json("4242 4242 4242 4242") }),
        )
        .await;
    let paid = body(paid, StatusCode::OK).await;
    assert_eq!(paid["status"], "completed");
    assert_eq!(paid["tickets"].as_array().unwrap().len(), 2);
    let payment_id = paid["payment_id"].as_str().unwrap().to_owned();
    let payment = body(app.get_as(&alice, &format!("/api/payments/{payment_id}")).await, StatusCode::OK).await;
    assert_eq!(
        (payment["status"].as_str(), payment["card_last4"].as_str(), payment["amount_cents"].as_u64()),
        (Some("captured"), Some("4242"), Some(14_400))
    );

    // The read side shows it.
    let availability =
        app.get_until(&format!("/api/events/{event}/availability"), |b| b["sections"]["Balcony"]["sold"] == 2).await;
    assert_eq!(availability["sections"]["Balcony"]["available"], 6);
    let section = body(app.get(&format!("/api/events/{event}/sections/Balcony")).await, StatusCode::OK).await;
    assert_eq!(section["seats"][0], json!({ "seat_number": "A-1", "status": "sold" }));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let tickets = body(app.get_as(&alice, "/api/tickets").await, StatusCode::OK).await;
        if tickets["tickets"].as_array().unwrap().len() == 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "tickets never showed up");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mine = body(app.get_as(&alice, "/api/reservations").await, StatusCode::OK).await;
    assert_eq!(mine["reservations"][0]["reservation_id"], reservation);
    let history =
        body(app.get_as(&alice, &format!("/api/reservations/{reservation}/history")).await, StatusCode::OK).await;
    let steps: Vec<&str> = history.as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(
        steps,
        ["ReservationInitiated", "ReservationSeatsAllocated", "ReservationPaymentRequested", "ReservationCompleted"]
    );

    // Someone else's reservation does not exist for them; the admin sees it.
    let bob = app.sign_in("bob@example.com").await;
    for path in [format!("/api/reservations/{reservation}"), format!("/api/reservations/{reservation}/history")] {
        let (status, code) = error(app.get_as(&bob, &path).await).await;
        assert_eq!((status, code.as_str()), (StatusCode::NOT_FOUND, "RESERVATION_NOT_FOUND"), "{path}");
    }
    let (status, code) =
        error(app.post_json(&format!("/api/reservations/{reservation}/cancel"), Some(&bob), &json!({})).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::NOT_FOUND, "RESERVATION_NOT_FOUND"));
    let (status, code) = error(app.get_as(&bob, &format!("/api/payments/{payment_id}")).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::NOT_FOUND, "PAYMENT_NOT_FOUND"));
    body(app.get_as(&admin, &format!("/api/reservations/{reservation}")).await, StatusCode::OK).await;

    // Her history, lifetime value and the event's analytics show the purchase.
    let me: Value = body(app.get_as(&alice, "/api/auth/session").await, StatusCode::OK).await;
    let alice_id = me["user"]["id"].as_str().unwrap().to_owned();
    let history = body(app.get_as(&alice, &format!("/api/customers/{alice_id}/history")).await, StatusCode::OK).await;
    assert_eq!(
        (history["total"].as_i64(), history["purchases"][0]["event_name"].as_str()),
        (Some(1), Some("Harbour Lights Festival"))
    );
    let value =
        body(app.get_as(&alice, &format!("/api/customers/{alice_id}/lifetime-value")).await, StatusCode::OK).await;
    assert_eq!((value["net_cents"].as_i64(), value["favourite_section"].as_str()), (Some(14_400), Some("Balcony")));
    assert_eq!(
        error(app.get_as(&bob, &format!("/api/customers/{alice_id}/history")).await).await.0,
        StatusCode::NOT_FOUND
    );
    // The sales and analytics read models are fed by consumers of their own: wait for them.
    let analytics =
        eventually(&app, &admin, &format!("/api/events/{event}/analytics"), |b| b["tickets_sold"] == 2).await;
    assert_eq!(analytics["revenue_cents"].as_i64(), Some(14_400));
    assert_eq!(analytics["by_tier"]["early_bird"]["tickets_sold"], 2);
    assert_eq!(
        error(app.get_as(&alice, &format!("/api/events/{event}/analytics")).await).await.0,
        StatusCode::FORBIDDEN
    );
    eventually(&app, &admin, "/api/analytics/events/top-sellers", |b| b["events"][0]["event_id"] == json!(event)).await;

    // Operators see it in /metrics: requests by matched route, domain events, lag.
    let metrics = app.client.get(format!("{}/metrics", app.operations)).send().await.unwrap().text().await.unwrap();
    assert_eq!(app.get("/metrics").await.status(), StatusCode::NOT_FOUND, "not on the public port");
    for needle in [
        r#"http_requests_total{method="POST",route="/api/reservations",status="201"}"#,
        r#"route="/api/reservations/{id}/payment""#,
        r#"domain_events_total{type="ReservationCompleted"}"#,
        r#"projection_lag_events{projector="reservations"}"#,
        "db_pool_connections",
    ] {
        assert!(metrics.contains(needle), "/metrics lacks {needle}");
    }

    // Alice gives a ticket to Bob: it is his alone now.
    let ticket = paid["tickets"][0]["ticket_id"].as_str().unwrap().to_owned();
    body(
        app.post_json(
            &format!("/api/tickets/{ticket}/transfer"),
            Some(&alice),
            &json!({ "to_email": "bob@example.com" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let (status, _) = error(
        app.post_json(
            &format!("/api/tickets/{ticket}/transfer"),
            Some(&alice),
            &json!({ "to_email": "carol@example.com" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// GETs `path` as `token` until `ready` accepts the body.
async fn eventually(app: &TestApp, token: &str, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let response = app.get_as(token, path).await;
        if response.status() == StatusCode::OK {
            let body: Value = response.json().await.unwrap();
            if ready(&body) {
                return body;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "{path} never became ready");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn error(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn declined_cards_sold_out_sections_and_roles_answer_with_their_codes() {
    let app = spawn_app().await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let event = event_on_sale(&app, &admin).await;
    let carol = app.sign_in("carol@example.com").await;

    let held = body(
        app.post_json(
            "/api/reservations",
            Some(&carol),
            &json!({ "event_id": event, "section": "Field", "quantity": 3 }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = held["reservation_id"].as_str().unwrap();
    let declined = app
        .post_json(
            &format!("/api/reservations/{id}/payment"),
            Some(&carol),
            &json!({ "payment_method": card_json("4000000000009995") }),
        )
        .await;
    let declined = body(declined, StatusCode::PAYMENT_REQUIRED).await;
    assert_eq!(
        (declined["code"].as_str(), declined["details"]["decline_reason"].as_str()),
        (Some("PAYMENT_FAILED"), Some("insufficient_funds"))
    );
    let after = body(app.get_as(&carol, &format!("/api/reservations/{id}")).await, StatusCode::OK).await;
    assert_eq!(after["status"], "compensated");

    let cases: [(Value, StatusCode, &str); 6] = [
        (
            json!({ "event_id": event, "section": "Balcony", "quantity": 9 }),
            StatusCode::BAD_REQUEST,
            "INVALID_QUANTITY",
        ),
        (
            json!({ "event_id": event, "section": "Balcony", "quantity": -1 }),
            StatusCode::BAD_REQUEST,
            "INVALID_QUANTITY",
        ),
        (json!({ "event_id": event, "section": "Pit", "quantity": 1 }), StatusCode::NOT_FOUND, "SECTION_NOT_FOUND"),
        (
            json!({ "event_id": event, "section": "Balcony", "quantity": 1, "specific_seats": ["Z-9"] }),
            StatusCode::CONFLICT,
            "SEAT_UNAVAILABLE",
        ),
        (
            json!({ "event_id": "not-a-uuid", "section": "Balcony", "quantity": 1 }),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            json!({ "event_id": event, "section": "Balcony", "quantity": 1, "admin": true }),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
    ];
    for (request, status, code) in cases {
        let response = app.post_json("/api/reservations", Some(&carol), &request).await;
        let got = error(response).await;
        assert_eq!((got.0, got.1.as_str()), (status, code), "{request}");
    }
    // The balcony has 8 seats: 9 is invalid, 8 fit, then nothing is left.
    body(
        app.post_json(
            "/api/reservations",
            Some(&carol),
            &json!({ "event_id": event, "section": "Balcony", "quantity": 8 }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    // Carol holds 8 unpaid seats: her ninth is refused whatever is left...
    let ninth = app
        .post_json("/api/reservations", Some(&carol), &json!({ "event_id": event, "section": "Field", "quantity": 1 }))
        .await;
    let ninth = body(ninth, StatusCode::CONFLICT).await;
    assert_eq!(ninth["code"], "HOLD_LIMIT_REACHED");
    assert_eq!(ninth["details"], json!({ "limit": 8, "held": 8 }));
    // ...and for anyone else the balcony is sold out.
    let dan = app.sign_in("dan@example.com").await;
    let sold_out = app
        .post_json("/api/reservations", Some(&dan), &json!({ "event_id": event, "section": "Balcony", "quantity": 1 }))
        .await;
    let sold_out = body(sold_out, StatusCode::CONFLICT).await;
    assert_eq!(sold_out["code"], "INSUFFICIENT_INVENTORY");
    assert_eq!(sold_out["details"], json!({ "section": "Balcony", "requested": 1, "available": 0 }));

    // Roles: customers cannot run events; anonymous callers cannot buy.
    let (status, code) =
        error(app.post_json(&format!("/api/events/{event}/sales/close"), Some(&carol), &json!({})).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let (status, code) = error(
        app.post_json("/api/reservations", None, &json!({ "event_id": event, "section": "Field", "quantity": 1 }))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"));
    // An invalid transition names the state and the action.
    let again = body(
        app.post_json(&format!("/api/events/{event}/publish"), Some(&admin), &json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(again["details"], json!({ "from": "sales_open", "action": "publish" }));
    // Cancelling the event: 410 for new buyers afterwards.
    body(
        app.post_json(&format!("/api/events/{event}/cancel"), Some(&admin), &json!({ "reason": "storm warning" }))
            .await,
        StatusCode::OK,
    )
    .await;
    let gone = app
        .post_json("/api/reservations", Some(&carol), &json!({ "event_id": event, "section": "Field", "quantity": 1 }))
        .await;
    assert_eq!(error(gone).await, (StatusCode::GONE, "EVENT_CANCELLED".to_owned()));
}
