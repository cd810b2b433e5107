//! Mail buyers expect: an order confirmation with each ticket's QR code, and notices of a
//! declined payment, an ended hold, a refund, a ticket received, a cancelled event.
//!
//! Two halves, so a purchase never waits for mail and no mail is lost or sent twice:
//! - [`Notifications`] is a projector fed from the event log like any read model (checkpointed,
//!   one runner across instances): each event that calls for mail adds a row to `mail_outbox`,
//!   keyed by (stream, version, recipient) so a replay or a redelivery adds nothing.
//! - [`run_sender`] (one runner across instances) sends due rows and marks them sent; while SMTP is
//!   down a row waits (1 s, 2 s, ... at most a minute apart) and goes out once it is back.

mod mails;
mod qr;

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;
use uuid::Uuid;

use crate::auth::mail::Mailer;
use crate::bus::{BusEvent, DomainEvent};
use crate::domain::reservation::{CancelledBy, ReservationEvent};
use crate::projections::{Projector, holds};
use crate::store::EventStore;
use crate::ticket_codes::TicketSigner;
pub use mails::Kind;

/// The projector that turns events into mail to send.
///
/// It keeps no row per hold: whose reservation it is (the buyer, the event) is read from the
/// stream's first event when a mail is due (see [`holds::Hold`]). Releases before 1a97d2a kept
/// it in `mail_reservations`, which migration `20261207000001` drops.
#[derive(Debug, Clone)]
pub struct Notifications {
    store: EventStore,
}

impl Notifications {
    pub fn new(store: EventStore) -> Self {
        Self { store }
    }
}

impl Projector for Notifications {
    fn name(&self) -> &'static str {
        "notifications"
    }

    /// Nothing is emptied by a rebuild: the outbox remembers what was sent, so a replay sends
    /// nothing again.
    fn tables(&self) -> &'static [&'static str] {
        &[]
    }

    fn wants(&self, event: &DomainEvent) -> bool {
        matches!(
            event,
            DomainEvent::Reservation(
                _,
                ReservationEvent::Completed { .. }
                    | ReservationEvent::PaymentFailed { .. }
                    | ReservationEvent::Expired { .. }
                    | ReservationEvent::RefundRecorded { .. }
                    | ReservationEvent::TicketTransferred { .. }
                    | ReservationEvent::Cancelled { by: CancelledBy::Organiser, .. }
                    | ReservationEvent::Refunded { by: CancelledBy::Organiser, .. }
            )
        )
    }

    fn apply<'a>(&'a self, tx: &'a mut PgConnection, event: &'a BusEvent) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let DomainEvent::Reservation(rid, change) = &event.event else { return Ok(()) };
            let id = rid.as_uuid();
            let Some(holds::Hold { customer_id: buyer, event_id, .. }) =
                holds::Hold::read(&self.store, &event.stream_id, 1).await?
            else {
                tracing::warn!(stream = %event.stream_id, "a reservation's mail without its start in the log: not sent");
                return Ok(());
            };
            let (kind, recipient, data) = match change {
                ReservationEvent::Completed { tickets, captured, .. } => {
                    let tickets: Vec<Value> = tickets
                        .iter()
                        .map(|t| json!({ "ticket_id": t.ticket_id, "seat": t.seat.label.map(|l| l.to_string()) }))
                        .collect();
                    (Kind::Confirmation, buyer, json!({ "tickets": tickets, "amount_cents": captured.cents() }))
                }
                ReservationEvent::PaymentFailed { reason, .. } => (Kind::Declined, buyer, json!({ "reason": reason })),
                ReservationEvent::Expired { .. } => (Kind::Expired, buyer, json!({})),
                ReservationEvent::RefundRecorded { amount, .. } => {
                    (Kind::Refund, buyer, json!({ "amount_cents": amount.cents() }))
                }
                ReservationEvent::TicketTransferred { ticket_id, from, to, .. } => {
                    (Kind::TicketReceived, to.as_uuid(), json!({ "ticket_id": ticket_id, "from": from }))
                }
                ReservationEvent::Cancelled { .. } => (Kind::EventCancelled, buyer, json!({ "paid": false })),
                ReservationEvent::Refunded { .. } => (Kind::EventCancelled, buyer, json!({ "paid": true })),
                _ => return Ok(()),
            };
            sqlx::query(
                "INSERT INTO mail_outbox (dedupe_key, kind, recipient_id, reservation_id, event_id, data)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedupe_key) DO NOTHING",
            )
            .bind(format!("{}:{}:{recipient}", event.stream_id, event.version))
            .bind(kind.as_str())
            .bind(recipient)
            .bind(id)
            .bind(event_id)
            .bind(data)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
    }
}

/// What the sender needs.
#[derive(Debug, Clone)]
pub struct Sender {
    pub projections: PgPool,
    pub users: PgPool,
    pub mailer: Mailer,
    pub tickets: TicketSigner,
    pub public_url: String,
}

/// A mail waiting in the outbox.
#[derive(Debug, sqlx::FromRow)]
struct Pending {
    id: i64,
    kind: String,
    recipient_id: Uuid,
    reservation_id: Uuid,
    event_id: Option<Uuid>,
    data: Value,
}

/// Mails sent per round, at most.
const BATCH: i64 = 50;

impl Sender {
    /// Sends what is due until `stop`.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!("mail sender started");
        while !*stop.borrow() {
            let sent = match self.send_due().await {
                Ok(n) => n,
                Err(error) => {
                    tracing::warn!(%error, "mail outbox unavailable; retrying");
                    0
                }
            };
            if sent == 0 {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        tracing::info!("mail sender stopped");
    }

    /// Sends the due mails once; returns how many went out.
    ///
    /// # Errors
    /// The projections database.
    pub async fn send_due(&self) -> Result<usize, sqlx::Error> {
        let due: Vec<Pending> = sqlx::query_as(
            "SELECT id, kind, recipient_id, reservation_id, event_id, data FROM mail_outbox
             WHERE sent_at IS NULL AND next_attempt_at <= now() ORDER BY id LIMIT $1",
        )
        .bind(BATCH)
        .fetch_all(&self.projections)
        .await?;
        let mut sent = 0;
        for mail in due {
            match self.send(&mail).await {
                Ok(()) => {
                    sqlx::query("UPDATE mail_outbox SET sent_at = now(), last_error = NULL WHERE id = $1")
                        .bind(mail.id)
                        .execute(&self.projections)
                        .await?;
                    metrics::counter!("mail_sent_total", "kind" => mail.kind.clone()).increment(1);
                    sent += 1;
                }
                Err(error) => {
                    // SMTP down, or a recipient gone: try again later (the next rows likely fail
                    // the same way, so this round ends here).
                    tracing::warn!(mail = mail.id, kind = mail.kind, %error, "mail not sent; will retry");
                    sqlx::query(
                        "UPDATE mail_outbox SET attempts = attempts + 1, last_error = left($2, 1000),
                                next_attempt_at = now() + make_interval(secs => LEAST(60, power(2, LEAST(attempts, 6))))
                         WHERE id = $1",
                    )
                    .bind(mail.id)
                    .bind(&error)
                    .execute(&self.projections)
                    .await?;
                    metrics::counter!("mail_failures_total", "kind" => mail.kind.clone()).increment(1);
                    break;
                }
            }
        }
        Ok(sent)
    }

    async fn send(&self, pending: &Pending) -> Result<(), String> {
        let Some(kind) = Kind::parse(&pending.kind) else {
            return Err(format!("unknown mail kind {}", pending.kind));
        };
        let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE user_id = $1")
            .bind(pending.recipient_id)
            .fetch_optional(&self.users)
            .await
            .map_err(|e| format!("auth database: {e}"))?;
        let Some(email) = email else {
            return Err("the recipient's account is gone".into());
        };
        let event = match pending.event_id {
            Some(id) => crate::projections::catalogue::get(&self.projections, id).await.map_err(|e| e.to_string())?,
            None => None,
        };
        let context = mails::Context {
            kind,
            to: email,
            recipient: pending.recipient_id,
            reservation_id: pending.reservation_id,
            event,
            data: &pending.data,
            public_url: &self.public_url,
            tickets: &self.tickets,
        };
        let mail = mails::render(&context).map_err(|e| format!("rendering: {e}"))?;
        self.mailer.send(&mail).await.map_err(|e| e.to_string())
    }
}
