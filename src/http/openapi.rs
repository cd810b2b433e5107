//! `GET /api/openapi.json`: the contract, generated from the handlers' annotations and the
//! request/response types (each answer is one typed struct that is both what is serialized and
//! what is described), so it cannot drift from the code. A test also checks that every registered
//! route is described and that real answers match their schemas.
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

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ticketing API",
        description = "Events, seats held for minutes, payments, tickets and refunds. Money is integer cents; times are RFC 3339 UTC. Errors: `{code, message, details?}`.",
        version = env!("CARGO_PKG_VERSION")
    ),
    paths(openapi_json),
    components(schemas(super::error::ErrorBody, super::error::Message)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Magic link, OpenID Connect, passkeys, sessions"),
        (name = "events", description = "Catalogue and live availability"),
        (name = "reservations", description = "Holding seats, paying, cancelling"),
        (name = "payments", description = "Payments and refunds"),
        (name = "tickets", description = "Tickets and transfers"),
        (name = "checkin", description = "Letting people in at the door"),
        (name = "analytics", description = "Customer history and dashboards"),
        (name = "operations", description = "Health and this document (metrics are on the operators' listener)"),
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
        super::checkin::Doc::openapi(),
        super::orders::Doc::openapi(),
        super::meta::Doc::openapi(),
        super::analytics::Doc::openapi(),
        super::health::Doc::openapi(),
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
        // Unique operation ids (the handlers' names repeat across modules: `list`, `one`, ...),
        // which generated clients need: `get_api_events_id`, `post_api_reservations`, ...
        let name: String = path.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect::<String>();
        let name = name.split('_').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("_");
        for (method, operation) in
            [("get", &mut item.get), ("post", &mut item.post), ("put", &mut item.put), ("delete", &mut item.delete)]
        {
            if let Some(operation) = operation {
                operation.operation_id = Some(format!("{method}_{name}"));
            }
        }
        let is_post = item.post.is_some();
        for operation in [&mut item.get, &mut item.post, &mut item.put, &mut item.delete].into_iter().flatten() {
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

/// An email address as the server accepts it ([`crate::auth::parse_email`]): the document
/// states the same pattern, so forms and generated clients can check before sending.
pub(super) fn email() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(crate::auth::EMAIL_PATTERN))
        .max_length(Some(254))
        .examples(["ada@example.com"])
        .build()
}

/// [`email`], or null.
pub(super) fn optional_email() -> utoipa::openapi::Object {
    let mut schema = email();
    schema.schema_type = utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]);
    schema
}
