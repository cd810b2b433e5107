//! Dashboard queries over the star schema.

use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DailySales {
    #[schema(value_type = String, format = Date)]
    pub date: chrono::NaiveDate,
    pub day_name: String,
    pub tickets_sold: i64,
    pub revenue_cents: i64,
    pub unique_customers: i64,
}

/// Tickets and revenue (net of refunds) per day, oldest first, optionally for one event.
///
/// # Errors
/// The database.
pub async fn sales_time_series(pool: &PgPool, event: Option<Uuid>, days: i32) -> Result<Vec<DailySales>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.date, c.day_name, sum(m.tickets_sold)::bigint AS tickets_sold, sum(m.revenue_cents)::bigint AS revenue_cents,
                sum(m.unique_customers)::bigint AS unique_customers
         FROM mv_daily_sales m JOIN dim_calendar c USING (date_id)
         WHERE ($1::uuid IS NULL OR m.event_id = $1) AND c.date >= current_date - $2
         GROUP BY c.date, c.day_name ORDER BY c.date",
    )
    .bind(event)
    .bind(days)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TopEvent {
    pub event_id: Uuid,
    pub event_name: String,
    pub venue_name: String,
    pub tickets_sold: i64,
    pub revenue_cents: i64,
    pub total_capacity: i32,
}

/// Events by net revenue, best first.
///
/// # Errors
/// The database.
pub async fn top_sellers(pool: &PgPool, limit: i64) -> Result<Vec<TopEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.event_id, e.event_name, e.venue_name, sum(f.quantity)::bigint AS tickets_sold,
                sum(f.total_amount_cents - f.refunded_cents)::bigint AS revenue_cents, e.total_capacity
         FROM fact_ticket_sales f JOIN dim_events e USING (event_id)
         GROUP BY e.event_id ORDER BY revenue_cents DESC, e.event_id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Segment {
    pub segment: String,
    pub customers: i64,
    pub lifetime_value_cents: i64,
}

/// Customers by segment: `vip` (5+ purchases or 1,000.00+ spent), `regular` (2+), `new`.
///
/// # Errors
/// The database.
pub async fn customer_segments(pool: &PgPool) -> Result<Vec<Segment>, sqlx::Error> {
    sqlx::query_as(
        "SELECT segment, count(*)::bigint AS customers, sum(lifetime_value_cents)::bigint AS lifetime_value_cents
         FROM (SELECT lifetime_value_cents,
                      CASE WHEN purchases >= 5 OR lifetime_value_cents >= 100000 THEN 'vip'
                           WHEN purchases >= 2 THEN 'regular' ELSE 'new' END AS segment
               FROM dim_customers) c
         GROUP BY segment ORDER BY segment",
    )
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SectionPopularity {
    pub event_id: Uuid,
    pub section: String,
    pub tickets_sold: i64,
    pub revenue_cents: i64,
}

/// Sections by tickets sold, optionally for one event.
///
/// # Errors
/// The database.
pub async fn section_popularity(pool: &PgPool, event: Option<Uuid>) -> Result<Vec<SectionPopularity>, sqlx::Error> {
    sqlx::query_as(
        "SELECT event_id, section, sum(quantity)::bigint AS tickets_sold, sum(total_amount_cents - refunded_cents)::bigint AS revenue_cents
         FROM fact_ticket_sales WHERE ($1::uuid IS NULL OR event_id = $1)
         GROUP BY event_id, section ORDER BY tickets_sold DESC, section",
    )
    .bind(event)
    .fetch_all(pool)
    .await
}
