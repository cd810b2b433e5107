//! The HTTP server itself, started on port 0 against fresh databases.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use ticketing::domain::event::{EventCommand, NewEvent};
use ticketing::domain::ids::EventId;
use ticketing::domain::money::Money;
use ticketing::domain::seating::{SectionLayout, SectionSpec};
use ticketing::domain::values::{Category, EventName, SectionName, Venue};
use ticketing::runtime::Cause;
use uuid::Uuid;

use crate::support::{TestApp, spawn_app};

async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body: Value = response.json().await.expect("every error is JSON");
    assert!(body["code"].is_string() && body["message"].is_string(), "{body}");
    (status, body)
}

async fn create_event(app: &TestApp, name: &str, publish: bool) -> EventId {
    let event_id = EventId::from_uuid(Uuid::new_v4());
    let new = NewEvent {
        name: EventName::parse(name).unwrap(),
        date: Utc::now() + chrono::Duration::days(45),
        category: Category::Sports,
        venue: Venue::parse("Stadium", Some("Lisbon"), Some("PT")).unwrap(),
        sections: vec![
            SectionSpec {
                name: SectionName::parse("Floor").unwrap(),
                layout: SectionLayout::parse("general", 100, None, None).unwrap(),
                base_price: Money::from_cents(5_000),
            },
            SectionSpec {
                name: SectionName::parse("Balcony").unwrap(),
                layout: SectionLayout::parse("numbered", 6, Some(2), Some(3)).unwrap(),
                base_price: Money::from_cents(7_999),
            },
        ],
    };
    let cause = Cause::new(None);
    app.runtime.create_event(&cause, event_id, new).await.unwrap();
    if publish {
        app.runtime.change_event(&cause, event_id, EventCommand::Publish).await.unwrap();
        app.runtime.change_event(&cause, event_id, EventCommand::OpenSales).await.unwrap();
    }
    event_id
}

#[tokio::test]
async fn health_answers_and_every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "status": "ok" }));

    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    for check in ["events_db", "projections_db", "analytics_db", "auth_db", "redis", "bus"] {
        assert_eq!(body["checks"][check]["ok"], true, "{check}: {body}");
        assert!(body["checks"][check]["latency_ms"].is_u64());
    }

    let traced =
        app.client.get(format!("{}/health", app.address)).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(traced.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn the_catalogue_shows_published_events_with_current_prices_and_live_availability() {
    let app = spawn_app().await;
    let event = create_event(&app, "Cup Final", true).await;
    let draft = create_event(&app, "Secret Gig", false).await;

    // Listed once published; wait until the catalogue has also seen sales open.
    let page = app.get_until("/api/events", |b| b["total"] == 1 && b["events"][0]["status"] == "sales_open").await;
    assert_eq!((page["page"].clone(), page["per_page"].clone()), (json!(1), json!(20)));
    let listed = &page["events"][0];
    assert_eq!(listed["event_id"], event.to_string());
    assert_eq!(listed["status"], "sales_open");
    assert_eq!(listed["venue"], json!({ "name": "Stadium", "city": "Lisbon", "country": "PT" }));
    // 45 days out: early bird, base −20 % (7999 → 6399.2 → 6399).
    let balcony = listed["sections"].as_array().unwrap().iter().find(|s| s["name"] == "Balcony").unwrap();
    assert_eq!(
        (balcony["current_tier"].clone(), balcony["current_price_cents"].clone()),
        (json!("early_bird"), json!(6_399))
    );
    assert_eq!((balcony["seating"].clone(), balcony["capacity"].clone()), (json!("numbered"), json!(6)));

    let one: Value = app.get(&format!("/api/events/{event}")).await.json().await.unwrap();
    assert_eq!(one["name"], "Cup Final");

    let availability =
        app.get_until(&format!("/api/events/{event}/availability"), |b| b["sections"]["Floor"].is_object()).await;
    assert_eq!(availability["sections"]["Floor"]["available"], 100);
    assert_eq!(availability["sections"]["Balcony"]["total_capacity"], 6);

    let section: Value = app.get(&format!("/api/events/{event}/sections/Balcony")).await.json().await.unwrap();
    let labels: Vec<&str> =
        section["seats"].as_array().unwrap().iter().map(|s| s["seat_number"].as_str().unwrap()).collect();
    assert_eq!(labels, ["A-1", "A-2", "A-3", "B-1", "B-2", "B-3"]);
    let floor: Value = app.get(&format!("/api/events/{event}/sections/Floor")).await.json().await.unwrap();
    assert!(floor.get("seats").is_none(), "general admission has no seat list");

    // A draft does not exist for the public.
    let (status, body) = error_of(app.get(&format!("/api/events/{draft}")).await).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("EVENT_NOT_FOUND")));
}

#[tokio::test]
async fn bad_requests_get_our_error_format_and_a_4xx() {
    let app = spawn_app().await;
    let event = create_event(&app, "Derby", true).await;
    app.get_until("/api/events", |b| b["total"] == 1).await;
    let cases: [(String, StatusCode, &str); 9] = [
        ("/api/events/not-a-uuid".into(), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        (format!("/api/events/{}", Uuid::new_v4()), StatusCode::NOT_FOUND, "EVENT_NOT_FOUND"),
        (format!("/api/events/{event}/sections/Pit"), StatusCode::NOT_FOUND, "SECTION_NOT_FOUND"),
        ("/api/events?per_page=0".into(), StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
        ("/api/events?per_page=1000000000000000000000".into(), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        ("/api/events?page=-1".into(), StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
        ("/api/events?status=sold_out".into(), StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
        ("/api/events?sort=name;DROP%20TABLE%20events".into(), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        ("/api/nothing/here".into(), StatusCode::NOT_FOUND, "NOT_FOUND"),
    ];
    for (path, expected_status, expected_code) in cases {
        let (status, body) = error_of(app.get(&path).await).await;
        assert_eq!((status, body["code"].as_str().unwrap()), (expected_status, expected_code), "{path}: {body}");
    }
    // Nothing was changed by any of it.
    // Listed once published; wait until the catalogue has also seen sales open.
    let page = app.get_until("/api/events", |b| b["total"] == 1 && b["events"][0]["status"] == "sales_open").await;
    assert_eq!(page["events"][0]["name"], "Derby");
}

/// An organiser edits a draft (sections included); once published it can no longer be edited.
#[tokio::test]
async fn a_draft_can_be_edited_until_it_is_published() {
    let app = spawn_app().await;
    let admin = app.sign_in(crate::support::ADMIN_EMAIL).await;
    let date = (Utc::now() + chrono::Duration::days(40)).to_rfc3339();
    let draft = json!({
        "name": "Draft Night", "date": date, "venue": { "name": "Hall" },
        "sections": [{ "name": "Floor", "capacity": 10, "seating": "general", "base_price_cents": 1_000 }]
    });
    let created: Value = app.post_json("/api/events", Some(&admin), &draft).await.json().await.unwrap();
    let id = created["event_id"].as_str().unwrap().to_owned();
    let put = |body: Value| {
        let (app, admin, id) = (&app, &admin, &id);
        async move {
            app.client
                .put(format!("{}/api/events/{id}", app.address))
                .bearer_auth(admin)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let edited = json!({
        "name": "Final Night", "date": date, "category": "theatre", "venue": { "name": "Big Hall", "city": "Ghent" },
        "sections": [
            { "name": "Stalls", "capacity": 40, "seating": "general", "base_price_cents": 3_000 },
            { "name": "Circle", "capacity": 6, "seating": "numbered", "rows": 2, "seats_per_row": 3, "base_price_cents": 5_000 }
        ]
    });
    let answer = put(edited.clone()).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!((answer["name"].as_str(), answer["sections"].as_array().unwrap().len()), (Some("Final Night"), 2));
    // Wrong input is refused on its field.
    let (status, error) =
        error_of(put(json!({ "name": "", "date": date, "venue": { "name": "H" }, "sections": [] })).await).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("VALIDATION_FAILED")));
    // The read models follow: the new sections, seats and all.
    for step in ["publish", "sales/open"] {
        assert_eq!(
            app.post_json(&format!("/api/events/{id}/{step}"), Some(&admin), &json!({})).await.status(),
            StatusCode::OK
        );
    }
    let availability =
        app.get_until(&format!("/api/events/{id}/availability"), |b| b["sections"]["Circle"].is_object()).await;
    assert!(availability["sections"].get("Floor").is_none(), "{availability}");
    assert_eq!(availability["sections"]["Stalls"]["total_capacity"], 40);
    let circle = app.get(&format!("/api/events/{id}/sections/Circle")).await.json::<Value>().await.unwrap();
    assert_eq!(circle["seats"].as_array().unwrap().len(), 6);
    let public: Value = app.get_until(&format!("/api/events/{id}"), |b| b["name"] == "Final Night").await;
    assert_eq!(public["venue"]["city"], "Ghent");
    // Published: no more edits.
    let (status, error) = error_of(put(edited).await).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("INVALID_STATE_TRANSITION")));
}
