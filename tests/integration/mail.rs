//! Mail buyers expect, as the SMTP sink receives it: the order confirmation whose QR codes the door
//! admits, notices of a declined card, an ended hold, a refund, a ticket received and a cancelled
//! event; mail delayed (never lost, never doubled) while SMTP is down.

use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_EMAIL, TestApp, spawn_app_with};

/// Mails delivered to `to` whose subject contains `subject`.
fn mails(app: &TestApp, to: &str, subject: &str) -> Vec<String> {
    app.smtp
        .delivered()
        .into_iter()
        .filter(|m| m.recipients.iter().any(|r| r == to))
        .filter(|m| {
            MessageParser::default()
                .parse(m.data.as_bytes())
                .and_then(|p| p.subject().map(|s| s.contains(subject)))
                .unwrap_or(false)
        })
        .map(|m| m.data)
        .collect()
}

async fn wait_for_mail(app: &TestApp, to: &str, subject: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(mail) = mails(app, to, subject).pop() {
            return mail;
        }
        assert!(tokio::time::Instant::now() < deadline, "no mail \"{subject}\" to {to}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The QR codes of a mail's inline PNG images, read as a phone would.
fn qr_codes(raw: &str) -> Vec<String> {
    let message = MessageParser::default().parse(raw.as_bytes()).expect("a MIME message");
    let mut codes = Vec::new();
    for part in message.parts.iter().filter(|p| p.content_type().is_some_and(|c| c.ctype() == "image")) {
        assert!(part.content_id().is_some(), "an inline image, shown by the HTML");
        let decoder = png::Decoder::new(std::io::Cursor::new(part.contents().to_vec()));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap();
        let width = info.width as usize;
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(width, info.height as usize, |x, y| pixels[y * width + x]);
        for grid in image.detect_grids() {
            codes.push(grid.decode().unwrap().1);
        }
    }
    codes
}

#[tokio::test]
async fn a_purchase_mails_one_confirmation_whose_qr_codes_the_door_admits() {
    let app = spawn_app_with(|c| c.staff_emails = vec!["door@example.com".into()]).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let door = app.sign_in("door@example.com").await;
    let event = app.open_event(&admin, 10).await;
    let buyer = app.sign_in("mia@example.com").await;
    let held: Value = app
        .post_json("/api/reservations", Some(&buyer), &json!({ "event_id": event, "section": "Floor", "quantity": 2 }))
        .await
        .json()
        .await
        .unwrap();
    let reservation = held["reservation_id"].as_str().unwrap();
    assert_eq!(app.pay(&buyer, reservation, "4242424242424242").await.status(), StatusCode::OK);

    let mail = wait_for_mail(&app, "mia@example.com", "Your tickets for Live").await;
    let parsed = MessageParser::default().parse(mail.as_bytes()).unwrap();
    assert!(parsed.body_text(0).unwrap().contains("confirmed"));
    assert!(parsed.body_html(0).unwrap().contains("cid:"), "HTML with the QR codes inline");
    let codes = qr_codes(&mail);
    assert_eq!(codes.len(), 2, "one QR code per ticket");
    for code in &codes {
        let scanned: Value = app
            .post_json("/api/checkin", Some(&door), &json!({ "event_id": event, "code": code }))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(scanned["result"], "admitted", "{scanned}");
    }
    // Exactly one confirmation, however long we wait.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(mails(&app, "mia@example.com", "Your tickets").len(), 1);
}

#[tokio::test]
async fn mail_waits_while_smtp_is_down_and_goes_out_once_when_it_returns() {
    let app = spawn_app_with(|_| {}).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let event = app.open_event(&admin, 10).await;
    let buyer = app.sign_in("leo@example.com").await;
    app.smtp.pause();
    // The purchase does not wait for mail.
    let held: Value = app
        .post_json("/api/reservations", Some(&buyer), &json!({ "event_id": event, "section": "Floor", "quantity": 1 }))
        .await
        .json()
        .await
        .unwrap();
    let paid = app.pay(&buyer, held["reservation_id"].as_str().unwrap(), "4242424242424242").await;
    assert_eq!(paid.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(mails(&app, "leo@example.com", "Your tickets").is_empty());
    let waiting: (i64, Option<String>) = sqlx::query_as(
        "SELECT attempts::bigint, last_error FROM mail_outbox WHERE kind = 'confirmation' AND sent_at IS NULL",
    )
    .fetch_one(&app.databases.1.pool)
    .await
    .unwrap();
    assert!(waiting.0 >= 1 && waiting.1.is_some(), "tried and waiting: {waiting:?}");
    app.smtp.resume().await;
    wait_for_mail(&app, "leo@example.com", "Your tickets").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(mails(&app, "leo@example.com", "Your tickets").len(), 1, "sent once");
}

#[tokio::test]
async fn declines_ended_holds_refunds_transfers_and_cancellations_are_mailed() {
    let app = spawn_app_with(|c| c.reservation_ttl_seconds = 2).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let event = app.open_event(&admin, 20).await;
    let ann = app.sign_in("ann@example.com").await;
    let ben = app.sign_in("ben@example.com").await;
    let reserve = |token: String| {
        let app = &app;
        let event = event.clone();
        async move {
            let body = json!({ "event_id": event, "section": "Floor", "quantity": 1 });
            let held: Value = app.post_json("/api/reservations", Some(&token), &body).await.json().await.unwrap();
            held["reservation_id"].as_str().unwrap().to_owned()
        }
    };
    // A declined card.
    let declined = reserve(ann.clone()).await;
    assert_eq!(app.pay(&ann, &declined, "4000000000000002").await.status(), StatusCode::PAYMENT_REQUIRED);
    let mail = wait_for_mail(&app, "ann@example.com", "did not go through").await;
    assert!(mail.contains("declined the card"));
    // A hold left to run out.
    reserve(ann.clone()).await;
    wait_for_mail(&app, "ann@example.com", "has ended").await;
    // A paid order given to someone, then the event cancelled: the recipient hears of the ticket,
    // both buyers of the cancellation, and the payer of the refund.
    let paid = reserve(ann.clone()).await;
    let tickets: Value = app.pay(&ann, &paid, "4242424242424242").await.json().await.unwrap();
    let ticket = tickets["tickets"][0]["ticket_id"].as_str().unwrap();
    let given = app
        .post_json(&format!("/api/tickets/{ticket}/transfer"), Some(&ann), &json!({ "to_email": "cat@example.com" }))
        .await;
    assert_eq!(given.status(), StatusCode::OK);
    wait_for_mail(&app, "cat@example.com", "You received a ticket").await;
    let bens = reserve(ben.clone()).await;
    assert_eq!(app.pay(&ben, &bens, "4242424242424242").await.status(), StatusCode::OK);
    let cancelled =
        app.post_json(&format!("/api/events/{event}/cancel"), Some(&admin), &json!({ "reason": "storm" })).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    for buyer in ["ann@example.com", "ben@example.com"] {
        wait_for_mail(&app, buyer, "is cancelled").await;
        let refund = wait_for_mail(&app, buyer, "refunded for").await;
        let text = MessageParser::default().parse(refund.as_bytes()).unwrap().body_text(0).unwrap().into_owned();
        assert!(text.contains("€25.00"), "the amount: {text}");
    }
}
