//! The events catalogue: every event with its status and sections, for listing and lookup.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::Projector;
use crate::bus::{BusEvent, DomainEvent};
use crate::domain::event::EventChanged;
use crate::domain::seating::{SectionLayout, SectionSpec};

#[derive(Debug)]
pub struct Catalogue;

/// A section as the catalogue stores it (a JSON array column) and the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueSection {
    pub name: String,
    pub capacity: u32,
    /// `general` or `numbered`.
    pub seating: String,
    pub rows: Option<u32>,
    pub seats_per_row: Option<u32>,
    pub base_price_cents: u64,
}

impl CatalogueSection {
    pub fn of(spec: &SectionSpec) -> Self {
        let (rows, seats_per_row) = match spec.layout {
            SectionLayout::Numbered { rows, seats_per_row } => (Some(u32::from(rows)), Some(u32::from(seats_per_row))),
            SectionLayout::General { .. } => (None, None),
        };
        Self {
            name: spec.name.as_str().to_owned(),
            capacity: spec.layout.capacity(),
            seating: spec.layout.seating().to_owned(),
            rows,
            seats_per_row,
            base_price_cents: spec.base_price.cents(),
        }
    }
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
                    let sections: Vec<CatalogueSection> = sections.iter().map(CatalogueSection::of).collect();
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
                    .bind(sqlx::types::Json(sections))
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                EventChanged::Revised { name, date, category, venue, sections, at } => {
                    let sections: Vec<CatalogueSection> = sections.iter().map(CatalogueSection::of).collect();
                    sqlx::query(
                        "UPDATE events_catalogue SET name = $2, starts_at = $3, category = $4, venue_name = $5,
                                venue_city = $6, venue_country = $7, sections = $8, updated_at = $9
                         WHERE event_id = $1",
                    )
                    .bind(id)
                    .bind(name.as_str())
                    .bind(date.starts_at())
                    .bind(category.as_str())
                    .bind(&venue.name)
                    .bind(&venue.city)
                    .bind(&venue.country)
                    .bind(sqlx::types::Json(sections))
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
    pub sections: sqlx::types::Json<Vec<CatalogueSection>>,
    pub created_at: crate::domain::values::Timestamp,
    /// Seats still available in all sections (unknown until the availability model has it).
    pub seats_available: Option<i32>,
    pub seats_total: Option<i32>,
    /// Tickets sold and kept, and revenue net of refunds (none until something sold).
    pub tickets_sold: Option<i64>,
    pub revenue_cents: Option<i64>,
}

const COLUMNS: &str = "c.event_id, c.name, c.starts_at, c.category, c.venue_name, c.venue_city, c.venue_country, \
     c.status, c.published, c.sections, c.created_at, a.available AS seats_available, a.total AS seats_total, \
     s.tickets_sold, s.revenue_cents";

/// The seats left of every section together (the availability read model), and what sold
/// (the sales read model: tickets, and revenue net of refunds).
const WITH_AVAILABILITY: &str = "events_catalogue c LEFT JOIN LATERAL (
         SELECT sum(available)::int AS available, sum(total_capacity)::int AS total
         FROM section_availability sa WHERE sa.event_id = c.event_id) a ON true
     LEFT JOIN LATERAL (
         SELECT sum(tickets_sold - tickets_refunded)::bigint AS tickets_sold,
                sum(revenue_cents - refunds_cents)::bigint AS revenue_cents
         FROM sales_by_tier st WHERE st.event_id = c.event_id) s ON true";

/// Which events a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    pub status: Option<&'a str>,
    /// Words that must all appear in the name, venue, city or category (case-insensitive).
    pub words: Vec<String>,
    pub category: Option<&'a str>,
    /// The venue's city, case-insensitive.
    pub city: Option<&'a str>,
    /// Starting at or after.
    pub from: Option<crate::domain::values::Timestamp>,
    /// Starting before.
    pub to: Option<crate::domain::values::Timestamp>,
    /// Drafts too (admins).
    pub include_drafts: bool,
}

/// `text` for ILIKE: its wildcards taken literally.
fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A page of events, soonest first, with how many match.
///
/// # Errors
/// The database.
pub async fn list(
    pool: &sqlx::PgPool,
    filter: &Filter<'_>,
    page: crate::http::paging::Page,
) -> Result<(Vec<CatalogueEntry>, i64), sqlx::Error> {
    let condition = "($1::text IS NULL OR c.status = $1) AND ($2 OR c.published)
         AND COALESCE((SELECT bool_and(concat_ws(' ', c.name, c.venue_name, c.venue_city, c.category) ILIKE '%' || w || '%')
                       FROM unnest($3::text[]) w), true)
         AND ($4::text IS NULL OR c.category = $4)
         AND ($5::text IS NULL OR lower(c.venue_city) = lower($5))
         AND ($6::timestamptz IS NULL OR c.starts_at >= $6)
         AND ($7::timestamptz IS NULL OR c.starts_at < $7)";
    let words: Vec<String> = filter.words.iter().map(|w| like_literal(w)).collect();
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM events_catalogue c WHERE {condition}"))
        .bind(filter.status)
        .bind(filter.include_drafts)
        .bind(&words)
        .bind(filter.category)
        .bind(filter.city)
        .bind(filter.from)
        .bind(filter.to)
        .fetch_one(pool)
        .await?;
    let rows = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {WITH_AVAILABILITY} WHERE {condition} ORDER BY c.starts_at, c.event_id LIMIT $8 OFFSET $9"
    ))
    .bind(filter.status)
    .bind(filter.include_drafts)
    .bind(&words)
    .bind(filter.category)
    .bind(filter.city)
    .bind(filter.from)
    .bind(filter.to)
    .bind(page.per_page)
    .bind(page.offset())
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// # Errors
/// The database.
pub async fn get(pool: &sqlx::PgPool, event_id: uuid::Uuid) -> Result<Option<CatalogueEntry>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM {WITH_AVAILABILITY} WHERE c.event_id = $1"))
        .bind(event_id)
        .fetch_optional(pool)
        .await
}
