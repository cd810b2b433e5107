//! Check-in at the door: signed ticket codes, admitted once, refused when refunded, transferred
//! away, forged or for another event; concurrent scans admit exactly once; offline scans sync.

use base64::Engine;
use ed25519_dalek::Verifier;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_EMAIL, TestApp, spawn_app_with};

const STAFF_EMAIL: &str = "door@example.com";

async fn staffed_app() -> TestApp {
    spawn_app_with(|c| c.staff_emails = vec![STAFF_EMAIL.into()]).await
}

/// A paid order of `quantity` floor seats for `buyer`: its reservation id.
async fn buy(app: &TestApp, buyer: &str, event: &str, quantity: u32) -> String {
    let body = json!({ "event_id": event, "section": "Floor", "quantity": quantity });
    let held: Value = app.post_json("/api/reservations", Some(buyer), &body).await.json().await.unwrap();
    let id = held["reservation_id"].as_str().unwrap().to_owned();
    assert_eq!(app.pay(buyer, &id, "4242424242424242").await.status(), StatusCode::OK);
    id
}

/// The codes of `owner`'s tickets of a reservation.
async fn codes(app: &TestApp, owner: &str, reservation: &str) -> Vec<(String, String)> {
    let tickets: Value = app.get_as(owner, "/api/tickets").await.json().await.unwrap();
    tickets["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["reservation_id"] == reservation && t["status"] == "valid")
        .map(|t| (t["ticket_id"].as_str().unwrap().to_owned(), t["code"].as_str().unwrap().to_owned()))
        .collect()
}

async fn scan(app: &TestApp, staff: &str, event: &str, code: &str) -> Value {
    let response = app.post_json("/api/checkin", Some(staff), &json!({ "event_id": event, "code": code })).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_ticket_is_let_in_once_and_only_while_it_is_its_holders() {
    let app = staffed_app().await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let staff = app.sign_in(STAFF_EMAIL).await;
    let event = app.open_event(&admin, 20).await;
    let other_event = app.open_event(&admin, 20).await;
    let buyer = app.sign_in("fan@example.com").await;
    let order = buy(&app, &buyer, &event, 3).await;
    let tickets = codes(&app, &buyer, &order).await;
    assert_eq!(tickets.len(), 3);

    // The first scan admits; the second says when the first was.
    let first = scan(&app, &staff, &event, &tickets[0].1).await;
    assert_eq!(first["result"], "admitted", "{first}");
    assert_eq!(first["ticket_id"], tickets[0].0.as_str());
    let again = scan(&app, &staff, &event, &tickets[0].1).await;
    assert_eq!(again["result"], "already_admitted");
    assert_eq!(again["first_admitted_at"], first["first_admitted_at"]);

    // At another event's door.
    let elsewhere = scan(&app, &staff, &other_event, &tickets[1].1).await;
    assert_eq!((elsewhere["result"].as_str(), elsewhere["reason"].as_str()), (Some("invalid"), Some("another_event")));

    // Forged: a made-up code, and a real one altered.
    let forged = scan(&app, &staff, &event, "bm90LWEtdGlja2V0").await;
    assert_eq!(forged["result"], "invalid");
    let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&tickets[1].1).unwrap();
    bytes[12] ^= 0x40;
    let altered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let altered = scan(&app, &staff, &event, &altered).await;
    assert_eq!((altered["result"].as_str(), altered["reason"].as_str()), (Some("invalid"), Some("bad_signature")));

    // Given to someone else: the old code stops working, the new owner's works.
    let friend_email = "friend@example.com";
    let given = app
        .post_json(
            &format!("/api/tickets/{}/transfer", tickets[1].0),
            Some(&buyer),
            &json!({ "to_email": friend_email }),
        )
        .await;
    assert_eq!(given.status(), StatusCode::OK);
    let old = scan(&app, &staff, &event, &tickets[1].1).await;
    assert_eq!((old["result"].as_str(), old["reason"].as_str()), (Some("invalid"), Some("transferred")));
    let friend = app.sign_in(friend_email).await;
    let theirs = codes(&app, &friend, &order).await;
    assert_eq!(theirs.len(), 1);
    assert_ne!(theirs[0].1, tickets[1].1, "a new code for the new owner");
    assert_eq!(scan(&app, &staff, &event, &theirs[0].1).await["result"], "admitted");

    // Refunded: the buyer cancels another order (more than 7 days out: a full refund).
    let refunded = buy(&app, &buyer, &event, 1).await;
    let refunded_codes = codes(&app, &buyer, &refunded).await;
    let cancelled = app.post_json(&format!("/api/reservations/{refunded}/cancel"), Some(&buyer), &json!({})).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let void = scan(&app, &staff, &event, &refunded_codes[0].1).await;
    assert_eq!((void["result"].as_str(), void["reason"].as_str()), (Some("invalid"), Some("refunded")));

    // Customers do not run the door.
    let refused =
        app.post_json("/api/checkin", Some(&buyer), &json!({ "event_id": event, "code": tickets[2].1 })).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // The dashboard counts who came in.
    let sales: Value =
        app.get_until_as(&admin, &format!("/api/events/{event}/analytics"), |b| b["tickets_admitted"] == 2).await;
    assert_eq!(sales["tickets_admitted"], 2);
}

/// An admin's partial refund is a gesture (the tickets still admit); refunding the rest undoes the
/// order: the codes stop working and the seats go back on sale.
#[tokio::test]
async fn an_admin_refund_of_every_cent_voids_the_tickets_and_frees_the_seats() {
    let app = staffed_app().await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let staff = app.sign_in(STAFF_EMAIL).await;
    let event = app.open_event(&admin, 20).await;
    let buyer = app.sign_in("fan@example.com").await;
    let order = buy(&app, &buyer, &event, 2).await;
    let tickets = codes(&app, &buyer, &order).await;
    let reservation: Value = app.get_as(&buyer, &format!("/api/reservations/{order}")).await.json().await.unwrap();
    let (payment, total) =
        (reservation["payment_id"].as_str().unwrap().to_owned(), reservation["total_amount_cents"].as_u64().unwrap());
    let refund = |amount: u64| {
        let body = json!({ "amount_cents": amount, "reason": "goodwill" });
        let (app, admin, path) = (&app, &admin, format!("/api/payments/{payment}/refund"));
        async move { app.post_json(&path, Some(admin), &body).await }
    };
    assert_eq!(refund(total / 2).await.status(), StatusCode::OK);
    // The organiser's order list shows it at once (read-your-writes, no polling).
    let orders: Value = app
        .get_as(&admin, &format!("/api/events/{event}/reservations?email=fan@example.com"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(orders["orders"][0]["refunded_cents"].as_u64(), Some(total / 2), "{orders}");
    assert_eq!(orders["orders"][0]["payment_status"], "partially_refunded", "{orders}");
    assert_eq!(scan(&app, &staff, &event, &tickets[0].1).await["result"], "admitted", "half back: still a ticket");

    assert_eq!(refund(total - total / 2).await.status(), StatusCode::OK);
    let after: Value = app.get_as(&buyer, &format!("/api/reservations/{order}")).await.json().await.unwrap();
    assert_eq!((after["status"].as_str(), after["refunded_cents"].as_u64()), (Some("refunded"), Some(total)));
    let void = scan(&app, &staff, &event, &tickets[1].1).await;
    assert_eq!((void["result"].as_str(), void["reason"].as_str()), (Some("invalid"), Some("refunded")));
    let seats =
        app.get_until(&format!("/api/events/{event}/availability"), |b| b["sections"]["Floor"]["sold"] == 0).await;
    assert_eq!(seats["sections"]["Floor"]["available"], 20, "{seats}");
}

#[tokio::test]
async fn fifty_scans_of_one_code_at_once_on_two_instances_admit_exactly_once() {
    let app = staffed_app().await;
    let peer = app.peer(|_| {}).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let staff = app.sign_in(STAFF_EMAIL).await;
    let event = app.open_event(&admin, 10).await;
    let buyer = app.sign_in("fan@example.com").await;
    let order = buy(&app, &buyer, &event, 1).await;
    let code = codes(&app, &buyer, &order).await.remove(0).1;
    let scans = (0..50).map(|i| {
        let base = if i % 2 == 0 { app.address.clone() } else { peer.address.clone() };
        let (client, staff, event, code) = (app.client.clone(), staff.clone(), event.clone(), code.clone());
        async move {
            let response = client
                .post(format!("{base}/api/checkin"))
                .bearer_auth(staff)
                .json(&json!({ "event_id": event, "code": code }))
                .send()
                .await
                .unwrap();
            response.json::<Value>().await.unwrap()["result"].as_str().unwrap().to_owned()
        }
    });
    let results = futures::future::join_all(scans).await;
    let admitted = results.iter().filter(|r| *r == "admitted").count();
    let already = results.iter().filter(|r| *r == "already_admitted").count();
    assert_eq!((admitted, already), (1, 49), "{results:?}");
}

#[tokio::test]
async fn the_public_key_verifies_codes_offline_and_offline_scans_sync_with_their_time() {
    let app = staffed_app().await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let staff = app.sign_in(STAFF_EMAIL).await;
    let event = app.open_event(&admin, 10).await;
    let buyer = app.sign_in("fan@example.com").await;
    let order = buy(&app, &buyer, &event, 2).await;
    let tickets = codes(&app, &buyer, &order).await;

    // What a door page does offline: verify the signature with the published key.
    let keys: Value = app.get("/api/checkin/key").await.json().await.unwrap();
    assert_eq!(keys["algorithm"], "Ed25519");
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(keys["keys"][0]["public_key"].as_str().unwrap())
        .unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key.try_into().unwrap()).unwrap();
    let code = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&tickets[0].1).unwrap();
    let (payload, signature) = code.split_at(code.len() - 64);
    let signature = ed25519_dalek::Signature::from_slice(signature).unwrap();
    assert!(key.verify(payload, &signature).is_ok(), "the door can check a code without the server");
    let event_bytes = uuid::Uuid::parse_str(&event).unwrap();
    assert_eq!(&payload[21..37], event_bytes.as_bytes(), "and see which event it is for");

    // Two doors scanned the same ticket while offline; they sync afterwards.
    let earlier = chrono::Utc::now() - chrono::Duration::minutes(20);
    let later = chrono::Utc::now() - chrono::Duration::minutes(5);
    let sync = |at: chrono::DateTime<chrono::Utc>| {
        let body = json!({ "event_id": event, "code": tickets[0].1, "scanned_at": at });
        let (app, staff) = (&app, &staff);
        async move { app.post_json("/api/checkin", Some(staff), &body).await.json::<Value>().await.unwrap() }
    };
    let first = sync(earlier).await;
    assert_eq!(first["result"], "admitted");
    let first_at: chrono::DateTime<chrono::Utc> = first["first_admitted_at"].as_str().unwrap().parse().unwrap();
    assert!((first_at - earlier).num_seconds().abs() <= 1, "the scan's own time is kept");
    let duplicate = sync(later).await;
    assert_eq!(duplicate["result"], "already_admitted", "reported as a duplicate at sync");
}
