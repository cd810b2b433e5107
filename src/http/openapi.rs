//! `GET /api/openapi.json`: the contract, generated from the handlers' annotations and the
//! request/response types, so it cannot drift from the code (a test also checks that every
//! registered route is described and that real answers match their schemas).
//!
//! Errors every route shares are added here from what the layers really do, instead of being
//! repeated on 41 handlers: 400 and 503 everywhere, 401 where a session is required, 429 on
//! `/api/auth/*`, and the idempotency answers (plus the `Idempotency-Key` header) on every POST.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, Required, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi};

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn openapi_json() -> impl IntoResponse {
    static DOCUMENT: LazyLock<String> =
        LazyLock::new(|| document().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")));
    ([(CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}

/// Types that only describe JSON built elsewhere (`json!` bodies of the handlers); the response
/// test validates real answers against them.
pub mod schema {
    use std::collections::BTreeMap;

    use serde::Serialize;
    use utoipa::ToSchema;
    use uuid::Uuid;

    use chrono::{DateTime, Utc};

    /// Every error, from every layer.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct ErrorBody {
        /// `UPPER_SNAKE` code, e.g. `INSUFFICIENT_INVENTORY`.
        pub code: String,
        pub message: String,
        /// Code-specific facts, e.g. `requested`, `available`, `section`.
        pub details: Option<serde_json::Map<String, serde_json::Value>>,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct Message {
        pub message: String,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct LinkSent {
        pub message: String,
        pub expires_in_seconds: i64,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct Venue {
        pub name: String,
        pub city: Option<String>,
        pub country: Option<String>,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct EventSection {
        pub name: String,
        /// `general` or `numbered`.
        pub seating: String,
        pub capacity: u32,
        pub rows: Option<u32>,
        pub seats_per_row: Option<u32>,
        pub base_price_cents: u64,
        /// `early_bird`, `regular` or `last_minute`.
        pub current_tier: String,
        pub current_price_cents: u64,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct Event {
        pub event_id: Uuid,
        pub name: String,
        pub date: DateTime<Utc>,
        pub category: String,
        pub venue: Venue,
        /// `draft`, `published`, `sales_open`, `sales_closed`, `cancelled`, `completed`.
        pub status: String,
        pub sections: Vec<EventSection>,
        pub created_at: DateTime<Utc>,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct EventPage {
        pub events: Vec<Event>,
        pub page: i64,
        pub per_page: i64,
        pub total: i64,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct SectionCounts {
        pub total_capacity: i32,
        pub available: i32,
        pub reserved: i32,
        pub sold: i32,
        pub last_updated: DateTime<Utc>,
    }

    /// Read model: may lag the write side by a moment.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct Availability {
        pub event_id: Uuid,
        pub sections: BTreeMap<String, SectionCounts>,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct SeatState {
        pub seat_number: String,
        /// `available`, `reserved` or `sold`.
        pub status: String,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct SectionDetail {
        pub event_id: Uuid,
        pub section: String,
        pub seating: String,
        pub total_capacity: i32,
        pub available: i32,
        pub reserved: i32,
        pub sold: i32,
        pub last_updated: DateTime<Utc>,
        /// Numbered sections only.
        pub seats: Option<Vec<SeatState>>,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct ReservedSeat {
        pub seat_id: Uuid,
        pub seat_number: Option<String>,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct Ticket {
        pub ticket_id: Uuid,
        pub seat_number: Option<String>,
        pub owner_id: Uuid,
        /// `valid`, `transferred` or `refunded`.
        pub status: String,
    }

    /// The write side's view: exact.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct Reservation {
        pub reservation_id: Uuid,
        pub event_id: Uuid,
        pub customer_id: Uuid,
        pub section: String,
        pub quantity: u8,
        pub seats: Vec<ReservedSeat>,
        pub total_amount_cents: u64,
        /// `pending`, `seats_held`, `payment_processing`, `completed`, `cancelled`, `expired`, ...
        pub status: String,
        pub expires_at: DateTime<Utc>,
        pub created_at: DateTime<Utc>,
        pub payment_id: Option<Uuid>,
        pub tickets: Option<Vec<Ticket>>,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct ReservationList {
        pub reservations: Vec<crate::projections::reservations::ReservationRow>,
        pub page: i64,
        pub per_page: i64,
        pub total: i64,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct HistoryEntry {
        pub sequence: i64,
        pub event_type: String,
        pub occurred_at: DateTime<Utc>,
        pub data: serde_json::Value,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct Payment {
        pub payment_id: Uuid,
        pub reservation_id: Uuid,
        pub amount_cents: u64,
        pub refunded_cents: u64,
        pub status: String,
        pub card_last4: Option<String>,
        pub created_at: DateTime<Utc>,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct TicketList {
        pub tickets: Vec<crate::projections::reservations::TicketRow>,
        pub page: i64,
        pub per_page: i64,
        pub total: i64,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct TransferredTicket {
        pub ticket_id: Uuid,
        pub owner_id: Uuid,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct Transfer {
        pub ticket: TransferredTicket,
        pub to_email: String,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct PurchaseHistory {
        pub purchases: Vec<crate::projections::reservations::Purchase>,
        pub page: i64,
        pub per_page: i64,
        pub total: i64,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct LifetimeValue {
        pub customer_id: Uuid,
        pub purchases: i32,
        pub tickets: i32,
        pub spent_cents: i64,
        pub refunded_cents: i64,
        pub net_cents: i64,
        pub favourite_section: Option<String>,
        pub first_purchase_at: Option<DateTime<Utc>>,
        pub last_purchase_at: Option<DateTime<Utc>>,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct SalesLine {
        pub tickets_sold: i64,
        pub revenue_cents: i64,
        pub refunds_cents: i64,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct EventSales {
        pub event_id: Uuid,
        pub tickets_sold: i64,
        pub revenue_cents: i64,
        pub gross_revenue_cents: i64,
        pub refunds_cents: i64,
        pub average_price_cents: i64,
        pub by_section: BTreeMap<String, SalesLine>,
        pub by_tier: BTreeMap<String, SalesLine>,
    }

    /// A dashboard: one array of rows under a key named by the route (`days`, `events`,
    /// `segments`, `sections`).
    #[derive(Debug, Serialize, ToSchema)]
    pub struct Dashboard(BTreeMap<String, Vec<serde_json::Value>>);

    #[derive(Debug, Serialize, ToSchema)]
    pub struct CheckResult {
        pub ok: bool,
        pub latency_ms: u64,
        pub error: Option<String>,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct Readiness {
        /// `ready` or `degraded`.
        pub status: String,
        pub checks: BTreeMap<String, CheckResult>,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct Health {
        pub status: String,
    }

    /// WebAuthn options or credentials exactly as the browser API takes or gives them
    /// (`navigator.credentials.create/get`); see the WebAuthn Level 3 specification.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct WebAuthnJson(BTreeMap<String, serde_json::Value>);
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ticketing API",
        description = "Events, seats held for minutes, payments, tickets and refunds. Money is integer cents; times are RFC 3339 UTC. Errors: `{code, message, details?}`.",
        version = env!("CARGO_PKG_VERSION")
    ),
    paths(openapi_json),
    components(schemas(schema::ErrorBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Magic link, OpenID Connect, passkeys, sessions"),
        (name = "events", description = "Catalogue and live availability"),
        (name = "reservations", description = "Holding seats, paying, cancelling"),
        (name = "payments", description = "Payments and refunds"),
        (name = "tickets", description = "Tickets and transfers"),
        (name = "analytics", description = "Customer history and dashboards"),
        (name = "operations", description = "Health, metrics, this document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("API clients: `Authorization: Bearer <session_token>` from any sign-in"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "ticketing_session",
                "The web app: the HttpOnly session cookie every sign-in sets (`__Host-ticketing_session` on https). \
                 Unsafe requests authenticated by it must carry `Origin` equal to PUBLIC_URL, else 403.",
            ))),
        );
    }
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build()
}

fn add_error(operation: &mut Operation, status: &str, description: &str) {
    operation.responses.responses.entry(status.to_owned()).or_insert_with(|| error_response(description).into());
}

/// The whole document: every module's paths plus the errors the shared layers produce.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for part in [
        super::auth::Doc::openapi(),
        super::passkeys::Doc::openapi(),
        super::oauth::Doc::openapi(),
        super::events::Doc::openapi(),
        super::reservations::Doc::openapi(),
        super::tickets::Doc::openapi(),
        super::analytics::Doc::openapi(),
        super::health::Doc::openapi(),
        super::metrics::Doc::openapi(),
        super::live::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    let idempotency_key = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some("1–255 characters; the first answer is replayed for 24 h per (user, key)"))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(255))))
        .build();
    let cookie = SecurityRequirement::new::<_, _, &str>("cookie", []);
    for (path, item) in &mut doc.paths.paths {
        let is_post = item.post.is_some();
        for operation in [&mut item.get, &mut item.post, &mut item.delete].into_iter().flatten() {
            add_error(operation, "400", "INVALID_REQUEST or VALIDATION_FAILED: malformed or invalid input");
            add_error(operation, "503", "DEPENDENCY_UNAVAILABLE: a store is down; nothing was changed, retry");
            add_error(operation, "500", "INTERNAL: a bug (logged with the request id)");
            if let Some(security) = operation.security.as_mut() {
                // Either credential: a bearer token, or the web app's cookie.
                security.push(cookie.clone());
                add_error(operation, "401", "UNAUTHENTICATED: missing, invalid, expired or logged-out session");
                add_error(
                    operation,
                    "403",
                    "FORBIDDEN: wrong role, or a cookie-authenticated request from another origin",
                );
            }
            if path.starts_with("/api/auth/") {
                add_error(operation, "429", "RATE_LIMITED: too many auth requests from this address (Retry-After)");
            }
        }
        // Idempotency keys are for signed-in callers' writes; never for sign-in itself.
        if is_post
            && !path.starts_with("/api/auth/")
            && let Some(post) = item.post.as_mut()
        {
            post.parameters.get_or_insert_with(Vec::new).push(idempotency_key.clone());
            add_error(post, "409", "IDEMPOTENCY_IN_FLIGHT (or a conflict listed by the route)");
            add_error(post, "422", "IDEMPOTENCY_KEY_REUSED (or a refusal listed by the route)");
        }
    }
    doc
}
