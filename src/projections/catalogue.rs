//! The events catalogue: every event with its status and sections, for listing and lookup.

use futures::future::BoxFuture;
use serde_json::json;
use sqlx::PgConnection;

use super::Projector;
use crate::bus::{BusEvent, DomainEvent};
use crate::domain::event::EventChanged;
use crate::domain::seating::{SectionLayout, SectionSpec};

#[derive(Debug)]
pub struct Catalogue;

/// A section as the catalogue stores it (and the API shows it).
pub fn section_json(spec: &SectionSpec) -> serde_json::Value {
    let (rows, per_row) = match spec.layout {
        SectionLayout::Numbered { rows, seats_per_row } => (Some(rows), Some(seats_per_row)),
        SectionLayout::General { .. } => (None, None),
    };
    json!({
        "name": spec.name.as_str(),
        "capacity": spec.layout.capacity(),
        "seating": spec.layout.seating(),
        "rows": rows,
        "seats_per_row": per_row,
        "base_price_cents": spec.base_price.cents(),
    })
}

impl Projector for Catalogue {
    fn name(&self) -> &'static str {
        "catalogue"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["events_catalogue"]
    }

    fn wants(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::Event(..))
    }

    fn apply<'a>(&'a self, tx: &'a mut PgConnection, event: &'a BusEvent) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let DomainEvent::Event(id, change) = &event.event else { return Ok(()) };
            let id = id.as_uuid();
            let status = |status: &str, at| {
                sqlx::query("UPDATE events_catalogue SET status = $2, updated_at = $3 WHERE event_id = $1")
                    .bind(id)
                    .bind(status.to_owned())
                    .bind(at)
            };
            match change {
                EventChanged::Created { name, date, category, venue, sections, at, .. } => {
                    let sections: Vec<_> = sections.iter().map(section_json).collect();
                    sqlx::query(
                        "INSERT INTO events_catalogue (event_id, name, starts_at, category, venue_name, venue_city, venue_country,
                                                       status, sections, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', $8, $9, $9)",
                    )
                    .bind(id)
                    .bind(name.as_str())
                    .bind(date.starts_at())
                    .bind(category.as_str())
                    .bind(&venue.name)
                    .bind(&venue.city)
                    .bind(&venue.country)
                    .bind(serde_json::Value::Array(sections))
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                EventChanged::Published { at } => {
                    sqlx::query("UPDATE events_catalogue SET status = 'published', published = true, updated_at = $2 WHERE event_id = $1")
                        .bind(id)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                EventChanged::SalesOpened { at } => {
                    status("sales_open", at).execute(&mut *tx).await?;
                }
                EventChanged::SalesClosed { at } => {
                    status("sales_closed", at).execute(&mut *tx).await?;
                }
                EventChanged::Completed { at } => {
                    status("completed", at).execute(&mut *tx).await?;
                }
                EventChanged::Cancelled { reason, at } => {
                    sqlx::query(
                        "UPDATE events_catalogue SET status = 'cancelled', cancellation_reason = $2, updated_at = $3 WHERE event_id = $1",
                    )
                    .bind(id)
                    .bind(reason)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            Ok(())
        })
    }
}

/// One catalogue entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct CatalogueEntry {
    pub event_id: uuid::Uuid,
    pub name: String,
    pub starts_at: crate::domain::values::Timestamp,
    pub category: String,
    pub venue_name: String,
    pub venue_city: Option<String>,
    pub venue_country: Option<String>,
    pub status: String,
    /// Whether the public may see it (it was published at some point).
    pub published: bool,
    pub sections: serde_json::Value,
    pub created_at: crate::domain::values::Timestamp,
}

const COLUMNS: &str = "event_id, name, starts_at, category, venue_name, venue_city, venue_country, status, published, sections, created_at";

/// A page of events, soonest first; events never published (drafts, cancelled drafts) only when
/// `include_drafts`.
///
/// # Errors
/// The database.
pub async fn list(
    pool: &sqlx::PgPool,
    status: Option<&str>,
    include_drafts: bool,
    page: i64,
    per_page: i64,
) -> Result<(Vec<CatalogueEntry>, i64), sqlx::Error> {
    let filter = "($1::text IS NULL OR status = $1) AND ($2 OR published)";
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM events_catalogue WHERE {filter}"))
        .bind(status)
        .bind(include_drafts)
        .fetch_one(pool)
        .await?;
    let rows = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events_catalogue WHERE {filter} ORDER BY starts_at, event_id LIMIT $3 OFFSET $4"
    ))
    .bind(status)
    .bind(include_drafts)
    .bind(per_page)
    .bind((page - 1).max(0) * per_page)
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// # Errors
/// The database.
pub async fn get(pool: &sqlx::PgPool, event_id: uuid::Uuid) -> Result<Option<CatalogueEntry>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM events_catalogue WHERE event_id = $1"))
        .bind(event_id)
        .fetch_optional(pool)
        .await
}
