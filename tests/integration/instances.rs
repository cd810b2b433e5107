//! Several instances on the same databases (two runtimes with pools of their own): what one
//! instance does must never make the other turn buyers away, hold seats twice for one request,
//! lose a payment, or lose track of money it owes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use ticketing::domain::DomainError;
use ticketing::domain::event::EventCommand;
use ticketing::domain::ids::{PaymentId, RefundId};
use ticketing::domain::money::Money;
use ticketing::domain::payment::{GatewayOutcome, PaymentStatus};
use ticketing::domain::reducer::Command;
use ticketing::domain::reservation::{ReservationCommand, ReservationStatus};
use ticketing::runtime::gateway::{Card, GatewayError, PaymentGateway, SimulatedGateway};
use ticketing::runtime::{Cause, Runtime, RuntimeConfig, RuntimeError};
use ticketing::store::EventStore;
use ticketing::store::effects::{self, RetryPolicy};

use crate::runtime::{buyer, event_on_sale, record_first_attempt, start_worker};
use crate::support::{TestDb, card, fast_config, request, runtime_on};

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Item 1: A cached the event as `published`; sales opened through B; A must sell at once.
#[tokio::test]
async fn an_instance_that_saw_the_event_before_sales_opened_sells_once_they_open_elsewhere() {
    let db = TestDb::new().await;
    let a = runtime_on(db.pool.clone(), fast_config());
    let b = runtime_on(db.second_pool(), fast_config());
    let event_id = event_on_sale(&a, 10).await;
    let cause = Cause::new(None);
    b.change_event(&cause, event_id, EventCommand::CloseSales).await.unwrap();
    // A's stream writer has the event cached (it created it) and still thinks sales are open; a
    // hold it attempts is refused by the inventory, which B told sales had closed.
    let closed = a.reserve(&cause, buyer(), request(event_id, "Floor", 1, None)).await.unwrap_err();
    assert!(matches!(closed, RuntimeError::Domain(DomainError::SalesNotOpen)), "{closed:?}");
    // Now the other way round: A refreshes its view while closed...
    let _ = a.event(event_id).await.unwrap();
    // ...B opens sales again...
    b.change_event(&cause, event_id, EventCommand::OpenSales).await.unwrap();
    // ...and A's very next reservation succeeds.
    let held = a.reserve(&cause, buyer(), request(event_id, "Floor", 2, None)).await.unwrap();
    assert_eq!(held.status, ReservationStatus::SeatsReserved);
}

/// Item 1, from a cold start: A loads the event while `published`, B opens sales.
#[tokio::test]
async fn an_instance_that_loaded_a_published_event_sells_when_another_opens_sales() {
    let db = TestDb::new().await;
    let a = runtime_on(db.pool.clone(), fast_config());
    let b = runtime_on(db.second_pool(), fast_config());
    let event_id = event_on_sale(&b, 10).await;
    let cause = Cause::new(None);
    b.change_event(&cause, event_id, EventCommand::CloseSales).await.unwrap();
    // A loads it now (sales closed) and is right to refuse.
    let refused = a.reserve(&cause, buyer(), request(event_id, "Floor", 1, None)).await.unwrap_err();
    assert!(matches!(refused, RuntimeError::Domain(DomainError::SalesNotOpen)), "{refused:?}");
    b.change_event(&cause, event_id, EventCommand::OpenSales).await.unwrap();
    let held = a.reserve(&cause, buyer(), request(event_id, "Floor", 1, None)).await.unwrap();
    assert_eq!(held.status, ReservationStatus::SeatsReserved);
}

/// Item 2: A's cached inventory shows seats held that B has since released: A must decide again,
/// not answer "sold out" (general) or "seat taken" (numbered).
#[tokio::test]
async fn a_refusal_decided_on_a_stale_inventory_is_decided_again() {
    let db = TestDb::new().await;
    let a = runtime_on(db.pool.clone(), fast_config());
    let b = runtime_on(db.second_pool(), fast_config());
    let event_id = event_on_sale(&a, 2).await;
    let cause = Cause::new(None);
    // A holds the whole floor and the seat B-2: its cache is now full there.
    let floor = a.reserve(&cause, buyer(), request(event_id, "Floor", 2, None)).await.unwrap();
    let seat = a.reserve(&cause, buyer(), request(event_id, "Balcony", 1, Some(&["B-2"]))).await.unwrap();
    // Both holds end through B (the buyers cancel; it could as well be B's worker expiring them).
    b.cancel_reservation(&cause, floor.reservation_id).await.unwrap();
    b.cancel_reservation(&cause, seat.reservation_id).await.unwrap();
    // A, whose cache still shows them held, is asked for the same seats.
    let again = a.reserve(&cause, buyer(), request(event_id, "Floor", 2, None)).await.unwrap();
    assert_eq!(again.status, ReservationStatus::SeatsReserved);
    let numbered = a.reserve(&cause, buyer(), request(event_id, "Balcony", 1, Some(&["B-2"]))).await.unwrap();
    assert_eq!(numbered.seats[0].label.unwrap().to_string(), "B-2");
    // And a refusal that is right stays a refusal.
    let full = a.reserve(&cause, buyer(), request(event_id, "Floor", 1, None)).await.unwrap_err();
    assert!(matches!(full, RuntimeError::Domain(DomainError::InsufficientInventory { .. })), "{full:?}");
}

/// Item 3: the first attempt of a request got as far as recording its reservation, then the
/// request failed (a 503); B's worker finished it in the background. The retry with the same
/// idempotency key, on either instance, is that reservation: nothing is held twice.
#[tokio::test]
async fn a_retried_reservation_is_the_first_attempt_not_a_second_hold() {
    let db = TestDb::new().await;
    let a = runtime_on(db.pool.clone(), fast_config());
    let b = runtime_on(db.second_pool(), fast_config());
    let event_id = event_on_sale(&a, 10).await;
    let stop = start_worker(&b);
    let customer = buyer();
    // The first attempt: its reservation is recorded, then its process gives up (as a request
    // answered 503 does); the inline allocation never runs.
    let cause = Cause::new(Some(customer.as_uuid()));
    let reservation_id = record_first_attempt(&a, event_id, customer, "order-1", 3, &cause).await;
    // B's worker allocates the seats once the inline lease runs out.
    wait_for("the background allocation", async || {
        b.reservation(reservation_id).await.unwrap().status == ReservationStatus::SeatsReserved
    })
    .await;
    // The client retries with the same key, on B.
    let mut retry = request(event_id, "Floor", 3, None);
    retry.reservation_id = Some(reservation_id);
    let answer = b.reserve(&Cause::new(None), customer, retry.clone()).await.unwrap();
    assert_eq!((answer.reservation_id, answer.status), (reservation_id, ReservationStatus::SeatsReserved));
    // And again on A: still the same one.
    let answer = a.reserve(&Cause::new(None), customer, retry).await.unwrap();
    assert_eq!(answer.reservation_id, reservation_id);
    let floor = b.inventory(event_id).await.unwrap();
    assert_eq!(floor.section("Floor").unwrap().reserved(), 3, "one hold, not two");
    // The same key with a different request is not mistaken for a retry.
    let mut other = request(event_id, "Floor", 1, None);
    other.reservation_id = Some(reservation_id);
    let reused = a.reserve(&Cause::new(None), customer, other).await.unwrap_err();
    assert!(matches!(reused, RuntimeError::Domain(DomainError::AlreadyExists(_))), "{reused:?}");
    stop.send(true).unwrap();
}

/// Item 5: the step after "request payment" failed (a database hiccup, a lost process); the
/// worker has since started the payment without the card. The buyer's retry, on another
/// instance, still pays: the hold is not compensated for the platform's failure.
#[tokio::test]
async fn a_payment_interrupted_between_request_and_start_can_still_be_paid() {
    let db = TestDb::new().await;
    let a = runtime_on(db.pool.clone(), fast_config());
    let b =
        runtime_on(db.second_pool(), RuntimeConfig { charge_grace: chrono::Duration::seconds(20), ..fast_config() });
    let event_id = event_on_sale(&a, 10).await;
    let cause = Cause::new(None);
    for worker_first in [false, true] {
        let held = a.reserve(&cause, buyer(), request(event_id, "Floor", 2, None)).await.unwrap();
        let payment_id = Runtime::payment_of(held.reservation_id);
        // "Request payment" is recorded; its inline continuation (start the payment) never runs.
        let requested = ReservationCommand::RequestPayment { payment_id };
        a.execute(Command::Reservation(held.reservation_id, requested), None, &cause).await.unwrap();
        let stop = if worker_first {
            // The worker takes the orphaned start (without the card) once its lease runs out.
            let stop = start_worker(&b);
            wait_for("the worker's start", async || b.payment(payment_id).await.is_ok()).await;
            Some(stop)
        } else {
            None
        };
        let paid = b.pay(&cause, held.reservation_id, &card("4242424242424242")).await.unwrap();
        assert_eq!(paid.status, ReservationStatus::Completed, "worker first: {worker_first}");
        assert_eq!(paid.payment_id, Some(payment_id));
        let payment = a.payment(payment_id).await.unwrap();
        assert_eq!((payment.status, payment.captured), (PaymentStatus::Captured, held.total));
        if let Some(stop) = stop {
            stop.send(true).unwrap();
        }
    }
    let charges: i64 = sqlx::query_scalar("SELECT count(*) FROM gateway_simulator_charges WHERE status = 'captured'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(charges, 2, "each card charged once");
}

/// The simulator, but refusing refunds while `refuse` is set: a processor that will not pay out
/// (a closed card, an outage of its refund service) until someone sorts it out.
#[derive(Debug)]
struct RefundsRefused {
    inner: SimulatedGateway,
    refuse: Arc<AtomicBool>,
}

impl PaymentGateway for RefundsRefused {
    fn charge<'a>(
        &'a self,
        payment: PaymentId,
        amount: Money,
        card: &'a Card,
    ) -> BoxFuture<'a, Result<GatewayOutcome, GatewayError>> {
        self.inner.charge(payment, amount, card)
    }

    fn reconcile(&self, payment: PaymentId, amount: Money) -> BoxFuture<'_, Result<GatewayOutcome, GatewayError>> {
        self.inner.reconcile(payment, amount)
    }

    fn refund(&self, payment: PaymentId, refund: RefundId, amount: Money) -> BoxFuture<'_, Result<(), GatewayError>> {
        if self.refuse.load(Ordering::SeqCst) {
            return Box::pin(async { Err(GatewayError("refund refused: expired_or_canceled_card".into())) });
        }
        self.inner.refund(payment, refund, amount)
    }
}

/// Item 4: a refund the gateway keeps refusing is retried with backoff, then parked with its
/// error where operators look (the RUNBOOK's query, `ticketing effects parked`, the metric), and
/// the documented retry pays it once the cause is fixed.
#[tokio::test]
async fn a_refund_the_gateway_refuses_is_parked_visibly_and_paid_by_the_documented_retry() {
    let db = TestDb::new().await;
    ticketing::http::metrics::handle();
    let refuse = Arc::new(AtomicBool::new(true));
    let gateway = Arc::new(RefundsRefused { inner: SimulatedGateway::new(db.pool.clone()), refuse: refuse.clone() });
    let config = RuntimeConfig {
        retry: RetryPolicy {
            first_delay: chrono::Duration::milliseconds(100),
            max_delay: chrono::Duration::milliseconds(400),
            max_attempts: 3,
        },
        ..fast_config()
    };
    let rt = Runtime::new(EventStore::new(db.pool.clone()), Arc::new(ticketing::clock::SystemClock), gateway, config);
    let event_id = event_on_sale(&rt, 10).await;
    let cause = Cause::new(None);
    let held = rt.reserve(&cause, buyer(), request(event_id, "Floor", 2, None)).await.unwrap();
    let paid = rt.pay(&cause, held.reservation_id, &card("4242424242424242")).await.unwrap();
    let parked_before = parked_metric();
    // The buyer cancels 60 days out: a full refund, which the gateway refuses.
    let cancelled = rt.cancel_reservation(&cause, held.reservation_id).await.unwrap();
    assert_eq!(cancelled.status, ReservationStatus::Refunded);
    let stop = start_worker(&rt);
    wait_for("the refund to be parked", async || !effects::parked(&db.pool).await.unwrap().is_empty()).await;
    let parked = effects::parked(&db.pool).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].kind, "refund");
    assert_eq!(parked[0].attempts, 3);
    assert!(parked[0].last_error.as_deref().unwrap().contains("expired_or_canceled_card"), "{:?}", parked[0]);
    assert!(parked_metric() > parked_before, "effects_parked_total{{kind=\"refund\"}} counted it");
    // The RUNBOOK's query finds it too.
    let runbook: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, kind FROM effects WHERE failed_at IS NOT NULL ORDER BY failed_at")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(runbook, [(parked[0].id, "refund".to_owned())]);
    // Nothing was paid out, and parked rows are not retried on their own.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(refunded_at_gateway(&db.pool).await, 0);

    // The operator fixes the cause and runs the documented command.
    refuse.store(false, Ordering::SeqCst);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ticketing"))
        .args(["effects", "retry", "--kind", "refund"])
        .env("DATABASE_URL_EVENTS", &db.url)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    wait_for("the retried refund", async || refunded_at_gateway(&db.pool).await > 0).await;
    assert_eq!(refunded_at_gateway(&db.pool).await, i64::try_from(paid.total.cents()).unwrap());
    assert!(effects::parked(&db.pool).await.unwrap().is_empty());
    let payment = rt.payment(paid.payment_id.unwrap()).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Refunded);
    stop.send(true).unwrap();
}

fn parked_metric() -> u64 {
    let text = ticketing::http::metrics::handle().render();
    text.lines()
        .find(|l| l.starts_with("effects_parked_total{kind=\"refund\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

async fn refunded_at_gateway(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT COALESCE(sum(amount_cents), 0)::bigint FROM gateway_simulator_refunds")
        .fetch_one(pool)
        .await
        .unwrap()
}
