//! The analytics star schema (`ticketing_analytics`): `fact_ticket_sales` with `dim_events`,
//! `dim_customers` and `dim_calendar`, and the `mv_daily_sales` view; fed by its own ETL
//! consumer (a [`Projector`] on the analytics database) and queried for dashboards.

pub mod queries;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use chrono::{Datelike, Timelike};
use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};

use crate::bus::{BusEvent, DomainEvent};
use crate::domain::event::EventChanged;
use crate::domain::reservation::ReservationEvent;
use crate::domain::values::Timestamp;
use crate::projections::{Projector, holds};
use crate::store::EventStore;

/// The ETL consumer. Refreshes the daily-sales view at most once a second, and once more at the
/// end of that second if sales arrived meanwhile (the last sale of a burst must show too).
///
/// It keeps no row per hold: a sale's fact takes its event, buyer, section, tier and price from
/// the reservation's stream when the sale completes (see [`holds::Hold`]). Releases before
/// 1a97d2a staged every hold in `stg_reservations`, which migration `20261207000001` drops.
#[derive(Debug)]
pub struct AnalyticsEtl {
    store: EventStore,
    last_refresh_ms: Arc<AtomicI64>,
    trailing_refresh_due: Arc<AtomicBool>,
}

impl AnalyticsEtl {
    /// `store`: the log, which a sale's hold is read from.
    pub fn new(store: EventStore) -> Self {
        Self { store, last_refresh_ms: Arc::default(), trailing_refresh_due: Arc::default() }
    }
}

/// The minimum time between two refreshes of `mv_daily_sales`.
const REFRESH_EVERY_MS: i64 = 1_000;

/// `YYYYMMDD` and `HHMMSS` keys of an instant (UTC).
pub fn date_time_ids(at: Timestamp) -> (i32, i32) {
    let date = at.year() * 10_000 + i32::try_from(at.month() * 100 + at.day()).unwrap_or(0);
    let time = i32::try_from(at.hour() * 10_000 + at.minute() * 100 + at.second()).unwrap_or(0);
    (date, time)
}

async fn ensure_calendar_day(tx: &mut PgConnection, at: Timestamp) -> Result<i32, sqlx::Error> {
    let (date_id, _) = date_time_ids(at);
    let day = at.date_naive();
    sqlx::query(
        "INSERT INTO dim_calendar (date_id, date, year, quarter, month, week, day_of_week, day_name, is_weekend)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (date_id) DO NOTHING",
    )
    .bind(date_id)
    .bind(day)
    .bind(day.year())
    .bind(i32::try_from((day.month() - 1) / 3 + 1).unwrap_or(1))
    .bind(i32::try_from(day.month()).unwrap_or(1))
    .bind(i32::try_from(day.iso_week().week()).unwrap_or(1))
    .bind(i32::try_from(day.weekday().number_from_monday()).unwrap_or(1))
    .bind(day.format("%A").to_string())
    .bind(day.weekday().number_from_monday() >= 6)
    .execute(tx)
    .await?;
    Ok(date_id)
}

impl Projector for AnalyticsEtl {
    fn name(&self) -> &'static str {
        "analytics"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["fact_ticket_sales", "dim_customers", "dim_events", "dim_calendar"]
    }

    fn wants(&self, event: &DomainEvent) -> bool {
        matches!(
            event,
            DomainEvent::Event(..)
                | DomainEvent::Reservation(
                    _,
                    ReservationEvent::Completed { .. }
                        | ReservationEvent::Refunded { .. }
                        | ReservationEvent::RefundRecorded { .. }
                )
        )
    }

    #[allow(clippy::too_many_lines)] // one arm per event
    fn apply<'a>(&'a self, tx: &'a mut PgConnection, event: &'a BusEvent) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            match &event.event {
                DomainEvent::Event(id, change) => {
                    let id = id.as_uuid();
                    if let EventChanged::Created { name, date, category, venue, sections, .. }
                    | EventChanged::Revised { name, date, category, venue, sections, .. } = change
                    {
                        let capacity: u32 = sections.iter().map(|s| s.layout.capacity()).sum();
                        sqlx::query(
                            "INSERT INTO dim_events (event_id, event_name, venue_name, venue_city, venue_country, event_date,
                                                     event_category, total_capacity, status, updated_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'draft', $9)
                             ON CONFLICT (event_id) DO UPDATE SET event_name = $2, venue_name = $3, venue_city = $4,
                                 venue_country = $5, event_date = $6, event_category = $7, total_capacity = $8, updated_at = $9",
                        )
                        .bind(id)
                        .bind(name.as_str())
                        .bind(&venue.name)
                        .bind(&venue.city)
                        .bind(&venue.country)
                        .bind(date.starts_at().date_naive())
                        .bind(category.as_str())
                        .bind(i32::try_from(capacity).unwrap_or(i32::MAX))
                        .bind(event.recorded_at)
                        .execute(&mut *tx)
                        .await?;
                    } else {
                        let status = match change {
                            EventChanged::Published { .. } => "published",
                            EventChanged::SalesOpened { .. } => "sales_open",
                            EventChanged::SalesClosed { .. } => "sales_closed",
                            EventChanged::Cancelled { .. } => "cancelled",
                            EventChanged::Completed { .. } => "completed",
                            EventChanged::Created { .. } | EventChanged::Revised { .. } => "draft",
                        };
                        sqlx::query("UPDATE dim_events SET status = $2, updated_at = $3 WHERE event_id = $1")
                            .bind(id)
                            .bind(status)
                            .bind(event.recorded_at)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                DomainEvent::Reservation(rid, change) => {
                    let id = rid.as_uuid();
                    match change {
                        ReservationEvent::Completed { payment_id, captured, at, tickets } => {
                            let date_id = ensure_calendar_day(tx, *at).await?;
                            let (_, time_id) = date_time_ids(*at);
                            let count = i32::try_from(tickets.len()).unwrap_or(i32::MAX);
                            let Some(hold) =
                                holds::Hold::read(&self.store, &event.stream_id, event.version - 1).await?
                            else {
                                tracing::warn!(stream = %event.stream_id, "a completed sale without its hold in the log: not counted");
                                return Ok(());
                            };
                            // A placeholder until the event's own facts arrive (topics are not
                            // ordered with each other).
                            sqlx::query(
                                "INSERT INTO dim_events (event_id, event_name, venue_name, event_date, event_category, total_capacity, status, updated_at)
                                 VALUES ($1, '(unknown)', '(unknown)', $2, 'other', 0, 'unknown', $3) ON CONFLICT (event_id) DO NOTHING",
                            )
                            .bind(hold.event_id)
                            .bind(at.date_naive())
                            .bind(at)
                            .execute(&mut *tx)
                            .await?;
                            sqlx::query(
                                "INSERT INTO dim_customers (customer_id, first_purchase_at, last_purchase_at, purchases, total_tickets_purchased, lifetime_value_cents)
                                 VALUES ($1, $2, $2, 1, $3, $4)
                                 ON CONFLICT (customer_id) DO UPDATE SET
                                     first_purchase_at = LEAST(dim_customers.first_purchase_at, $2),
                                     last_purchase_at = GREATEST(dim_customers.last_purchase_at, $2),
                                     purchases = dim_customers.purchases + 1,
                                     total_tickets_purchased = dim_customers.total_tickets_purchased + $3,
                                     lifetime_value_cents = dim_customers.lifetime_value_cents + $4",
                            )
                            .bind(hold.customer_id)
                            .bind(at)
                            .bind(count)
                            .bind(captured.cents_i64())
                            .execute(&mut *tx)
                            .await?;
                            let (tier, unit_price) =
                                hold.seats.as_ref().map_or(("regular", 0), |s| (s.tier.as_str(), s.unit_price_cents));
                            sqlx::query(
                                "INSERT INTO fact_ticket_sales (reservation_id, event_id, customer_id, date_id, time_id, payment_id, section,
                                     pricing_tier, quantity, unit_price_cents, total_amount_cents, reserved_at, confirmed_at)
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                            )
                            .bind(id)
                            .bind(hold.event_id)
                            .bind(hold.customer_id)
                            .bind(date_id)
                            .bind(time_id)
                            .bind(payment_id.as_uuid())
                            .bind(&hold.section)
                            .bind(tier)
                            .bind(count)
                            .bind(unit_price)
                            .bind(captured.cents_i64())
                            .bind(hold.reserved_at)
                            .bind(at)
                            .execute(&mut *tx)
                            .await?;
                        }
                        ReservationEvent::Refunded { .. } => {
                            sqlx::query("UPDATE fact_ticket_sales SET is_refunded = true WHERE reservation_id = $1")
                                .bind(id)
                                .execute(&mut *tx)
                                .await?;
                        }
                        ReservationEvent::RefundRecorded { amount, payment_id, .. } => {
                            let customer: Option<uuid::Uuid> = sqlx::query_scalar(
                                "UPDATE fact_ticket_sales SET refunded_cents = refunded_cents + $2
                                 WHERE reservation_id = $1 AND payment_id = $3 RETURNING customer_id",
                            )
                            .bind(id)
                            .bind(amount.cents_i64())
                            .bind(payment_id.as_uuid())
                            .fetch_optional(&mut *tx)
                            .await?;
                            if let Some(customer) = customer {
                                sqlx::query("UPDATE dim_customers SET lifetime_value_cents = lifetime_value_cents - $2 WHERE customer_id = $1")
                                    .bind(customer)
                                    .bind(amount.cents_i64())
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
            Ok(())
        })
    }

    fn after_batch<'a>(&'a self, pool: &'a PgPool) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let now = chrono::Utc::now().timestamp_millis();
            let last = self.last_refresh_ms.load(Ordering::Relaxed);
            if now - last >= REFRESH_EVERY_MS
                && self.last_refresh_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
            {
                return refresh(pool).await;
            }
            // Refreshed moments ago, before this batch: once more when the second is up.
            if !self.trailing_refresh_due.swap(true, Ordering::AcqRel) {
                let wait = u64::try_from(REFRESH_EVERY_MS - (now - last)).unwrap_or(0);
                let (pool, last_refresh, due) =
                    (pool.clone(), self.last_refresh_ms.clone(), self.trailing_refresh_due.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                    due.store(false, Ordering::Release);
                    last_refresh.store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
                    if let Err(e) = refresh(&pool).await {
                        tracing::warn!(error = %e, "daily sales view not refreshed");
                    }
                });
            }
            Ok(())
        })
    }
}

/// Brings `mv_daily_sales` up to date (without blocking readers).
///
/// # Errors
/// The database.
pub async fn refresh(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("REFRESH MATERIALIZED VIEW CONCURRENTLY mv_daily_sales").execute(pool).await?;
    Ok(())
}
