//! `/api/openapi.json` describes every registered route, and real answers match its schemas.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_EMAIL, TestApp, spawn_app};

/// (method, path) of every route registered in `src/http`, read from the source.
fn registered_operations() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut operations = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for piece in text.split(".route(\"").skip(1) {
            let (path, rest) = piece.split_once('"').unwrap();
            let handlers = rest.split(".route(").next().unwrap().split(")\n").next().unwrap();
            for method in ["get", "post", "put", "patch", "delete"] {
                if handlers.contains(&format!("{method}(")) {
                    operations.insert((method.to_owned(), path.to_owned()));
                }
            }
        }
    }
    operations
}

async fn document(app: &TestApp) -> Value {
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn every_route_is_described_with_its_errors() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let described: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .filter(|(method, _)| ["get", "post", "put", "patch", "delete"].contains(&method.as_str()))
        .collect();
    let mut registered = registered_operations();
    // Served on the operators' listener (METRICS_ADDR), never on the public port.
    assert!(registered.remove(&("get".to_owned(), "/metrics".to_owned())));
    assert!(registered.len() > 40, "{registered:?}");
    assert_eq!(described, registered, "routes and the document differ");

    for (method, path) in &registered {
        let operation = &doc["paths"][path][method];
        let responses = operation["responses"].as_object().unwrap();
        for status in ["400", "500", "503"] {
            assert!(responses.contains_key(status), "{method} {path} lacks {status}");
        }
        if operation["security"].is_array() {
            assert!(responses.contains_key("401"), "{method} {path} lacks 401");
        }
        if method == "post" && !path.starts_with("/api/auth/") {
            let parameters = operation["parameters"].as_array().unwrap();
            assert!(parameters.iter().any(|p| p["name"] == "Idempotency-Key"), "{method} {path}");
            assert!(responses.contains_key("422") && responses.contains_key("409"), "{method} {path}");
        }
        assert!(
            responses.keys().any(|s| s.starts_with('2') || s.starts_with('1') || s.starts_with('3')),
            "{method} {path} has no success answer"
        );
    }
    // Bodies are described by their types (the JSON extractor's types), not left free-form.
    let create = &doc["paths"]["/api/events"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(create["$ref"], "#/components/schemas/CreateEvent");
    let schema = &doc["components"]["schemas"]["ReserveBody"];
    let required: Vec<&str> = schema["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(required.contains(&"event_id") && required.contains(&"quantity"), "{schema}");
}

/// Validates `body` against the schema the document gives for (`method`, `route`, `status`).
fn conforms(doc: &Value, method: &str, route: &str, status: u16, body: &Value) {
    let response = &doc["paths"][route][method]["responses"][status.to_string()];
    let schema = &response["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "no schema for {method} {route} {status}");
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::validator_for(&root).unwrap();
    let errors: Vec<String> = validator.iter_errors(body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{method} {route} {status} does not match its schema: {errors:?}\n{body}");
}

#[tokio::test]
async fn real_answers_match_the_documented_schemas() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let buyer = app.sign_in("schema@example.com").await;

    let body = json!({
        "name": "Schema Night", "date": (chrono::Utc::now() + chrono::Duration::days(40)).to_rfc3339(),
        "venue": { "name": "Hall", "city": "Lyon" },
        "sections": [
            { "name": "Floor", "capacity": 20, "seating": "general", "base_price_cents": 3_000 },
            { "name": "Balcony", "capacity": 4, "seating": "numbered", "rows": 2, "seats_per_row": 2, "base_price_cents": 5_000 }
        ]
    });
    let created = app.post_json("/api/events", Some(&admin), &body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let event: Value = created.json().await.unwrap();
    conforms(&doc, "post", "/api/events", 201, &event);
    let id = event["event_id"].as_str().unwrap().to_owned();
    for step in ["publish", "sales/open"] {
        let changed: Value =
            app.post_json(&format!("/api/events/{id}/{step}"), Some(&admin), &json!({})).await.json().await.unwrap();
        conforms(&doc, "post", &format!("/api/events/{{id}}/{step}"), 200, &changed);
    }
    let session: Value = app.get_as(&buyer, "/api/auth/session").await.json().await.unwrap();
    conforms(&doc, "get", "/api/auth/session", 200, &session);
    let customer = session["user"]["id"].as_str().unwrap().to_owned();

    let reserve = json!({ "event_id": id, "section": "Balcony", "quantity": 2, "specific_seats": ["A-1", "A-2"] });
    let reservation: Value = app.post_json("/api/reservations", Some(&buyer), &reserve).await.json().await.unwrap();
    conforms(&doc, "post", "/api/reservations", 201, &reservation);
    let rid = reservation["reservation_id"].as_str().unwrap().to_owned();
    let paid: Value = app.pay(&buyer, &rid, "4242424242424242").await.json().await.unwrap();
    conforms(&doc, "post", "/api/reservations/{id}/payment", 200, &paid);
    let payment_id = paid["payment_id"].as_str().unwrap().to_owned();
    app.get_until(&format!("/api/events/{id}/availability"), |b| b["sections"]["Balcony"]["sold"] == 2).await;
    for _ in 0..100 {
        let tickets: Value = app.get_as(&buyer, "/api/tickets").await.json().await.unwrap();
        if tickets["tickets"].as_array().is_some_and(|t| t.len() == 2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let declined = app
        .post_json("/api/reservations", Some(&buyer), &json!({ "event_id": id, "section": "Floor", "quantity": 1 }))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let refused = app.pay(&buyer, declined["reservation_id"].as_str().unwrap(), "4000000000000002").await;
    assert_eq!(refused.status(), StatusCode::PAYMENT_REQUIRED);
    conforms(&doc, "post", "/api/reservations/{id}/payment", 402, &refused.json().await.unwrap());

    let reads: Vec<(&str, String, String)> = vec![
        ("/api/events", "/api/events".into(), buyer.clone()),
        ("/api/events/{id}", format!("/api/events/{id}"), buyer.clone()),
        ("/api/events/{id}/availability", format!("/api/events/{id}/availability"), buyer.clone()),
        ("/api/events/{id}/sections/{section}", format!("/api/events/{id}/sections/Balcony"), buyer.clone()),
        ("/api/reservations", "/api/reservations".into(), buyer.clone()),
        ("/api/reservations/{id}", format!("/api/reservations/{rid}"), buyer.clone()),
        ("/api/reservations/{id}/history", format!("/api/reservations/{rid}/history"), buyer.clone()),
        ("/api/payments/{id}", format!("/api/payments/{payment_id}"), buyer.clone()),
        ("/api/tickets", "/api/tickets".into(), buyer.clone()),
        ("/api/customers/{id}/history", format!("/api/customers/{customer}/history"), buyer.clone()),
        ("/api/customers/{id}/lifetime-value", format!("/api/customers/{customer}/lifetime-value"), buyer.clone()),
        ("/api/events/{id}/analytics", format!("/api/events/{id}/analytics"), admin.clone()),
        ("/api/analytics/events/top-sellers", "/api/analytics/events/top-sellers".into(), admin.clone()),
        ("/health", "/health".into(), buyer.clone()),
        ("/health/ready", "/health/ready".into(), buyer.clone()),
    ];
    for (route, path, token) in reads {
        let response = app.get_as(&token, &path).await;
        let status = response.status().as_u16();
        assert_eq!(status, 200, "{path}");
        conforms(&doc, "get", route, status, &response.json().await.unwrap());
    }

    let ticket: Value = app.get_as(&buyer, "/api/tickets").await.json().await.unwrap();
    let ticket_id = ticket["tickets"][0]["ticket_id"].as_str().unwrap().to_owned();
    let transfer = app
        .post_json(
            &format!("/api/tickets/{ticket_id}/transfer"),
            Some(&buyer),
            &json!({ "to_email": "friend@example.com" }),
        )
        .await;
    assert_eq!(transfer.status(), StatusCode::OK);
    conforms(&doc, "post", "/api/tickets/{id}/transfer", 200, &transfer.json().await.unwrap());
    let refund = app
        .post_json(
            &format!("/api/payments/{payment_id}/refund"),
            Some(&admin),
            &json!({ "amount_cents": 1_000, "reason": "goodwill" }),
        )
        .await;
    assert_eq!(refund.status(), StatusCode::OK);
    conforms(&doc, "post", "/api/payments/{id}/refund", 200, &refund.json().await.unwrap());

    // Errors from the layers, too.
    let unknown = app.get(&format!("/api/events/{}", uuid::Uuid::new_v4())).await;
    conforms(&doc, "get", "/api/events/{id}", 404, &unknown.json().await.unwrap());
    let anonymous = app.get("/api/reservations").await;
    conforms(&doc, "get", "/api/reservations", 401, &anonymous.json().await.unwrap());
}
