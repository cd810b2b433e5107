//! One error type for every handler, answered as API.md's envelope:
//! `{"code": "UPPER_SNAKE", "message": "...", "details": {...}}`. Causes of 5xx answers are
//! logged (inside the request's span, so with its request id) and never sent.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::domain::DomainError;
use crate::runtime::RuntimeError;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A business rule refused the request.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The request itself is malformed (bad JSON, bad UUID, missing field, unknown parameter).
    #[error("{0}")]
    InvalidRequest(String),
    /// Something that does not exist, or that the caller may not see (the same answer).
    #[error("{1}")]
    NotFound(&'static str, &'static str),
    #[error("sign in first")]
    Unauthenticated,
    /// A sign-in ceremony (passkey, OAuth) that did not prove who the caller is; says why.
    #[error("sign-in refused: {0}")]
    SignInRefused(String),
    #[error("not allowed")]
    Forbidden,
    /// A cookie-authenticated unsafe request that did not come from our own pages (CSRF).
    #[error("refused: this request did not come from the app's own pages (Origin)")]
    ForeignOrigin,
    /// Some actions (adding a passkey) need a fresh proof of who the caller is.
    #[error("sign in again first: this needs a sign-in less than 10 minutes old")]
    RecentSignInRequired,
    /// Slow down; the number is the seconds until the caller may try again.
    #[error("too many requests, try again in {0} s")]
    RateLimited(u64),
    #[error("the resource was changed concurrently, try again")]
    Conflict,
    /// An `Idempotency-Key` already used for a different request.
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    /// The card was declined; the reason is the gateway's.
    #[error("the payment was declined: {0}")]
    PaymentFailed(String),
    /// A dependency failed: nothing was lost; the caller may retry.
    #[error("{dependency} unavailable")]
    Unavailable { dependency: &'static str, cause: String },
    /// A bug.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn unavailable(dependency: &'static str, cause: impl std::fmt::Display) -> Self {
        Self::Unavailable { dependency, cause: cause.to_string() }
    }

    fn status_code_details(&self) -> (StatusCode, &'static str, Option<Value>) {
        match self {
            Self::Domain(e) => domain_status(e),
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "INVALID_REQUEST", None),
            Self::NotFound(code, _) => (StatusCode::NOT_FOUND, code, None),
            Self::Unauthenticated | Self::SignInRefused(_) => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", None),
            Self::Forbidden => (StatusCode::FORBIDDEN, "FORBIDDEN", None),
            Self::RecentSignInRequired => {
                (StatusCode::FORBIDDEN, "FORBIDDEN", Some(json!({ "reason": "recent_sign_in_required" })))
            }
            Self::ForeignOrigin => (StatusCode::FORBIDDEN, "FORBIDDEN", Some(json!({ "reason": "foreign_origin" }))),
            Self::RateLimited(seconds) => {
                (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", Some(json!({ "retry_after_seconds": seconds })))
            }
            Self::Conflict => (StatusCode::CONFLICT, "CONFLICT", None),
            Self::IdempotencyKeyReused => (StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED", None),
            Self::PaymentFailed(reason) => {
                (StatusCode::PAYMENT_REQUIRED, "PAYMENT_FAILED", Some(json!({ "decline_reason": reason })))
            }
            Self::Unavailable { dependency, .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "DEPENDENCY_UNAVAILABLE", Some(json!({ "dependency": dependency })))
            }
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", None),
        }
    }
}

/// API.md's status for each domain refusal, with the details it documents.
fn domain_status(error: &DomainError) -> (StatusCode, &'static str, Option<Value>) {
    use DomainError as D;
    let status = match error {
        D::Validation { .. } | D::InvalidQuantity { .. } | D::RefundExceedsCaptured { .. } => StatusCode::BAD_REQUEST,
        D::EventNotFound
        | D::ReservationNotFound
        | D::PaymentNotFound
        | D::TicketNotFound
        | D::SectionNotFound { .. } => StatusCode::NOT_FOUND,
        D::ReservationExpired => StatusCode::REQUEST_TIMEOUT,
        D::InsufficientInventory { .. }
        | D::SeatUnavailable { .. }
        | D::HoldLimitReached { .. }
        | D::AlreadyExists(_)
        | D::AlreadyCheckedIn { .. } => StatusCode::CONFLICT,
        D::EventCancelled => StatusCode::GONE,
        D::InvalidStateTransition { .. }
        | D::SalesNotOpen
        | D::TransferWindowClosed
        | D::CancellationWindowClosed(_)
        | D::NotAdmissible(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let details = match error {
        D::Validation { field, .. } => Some(json!({ "field": field })),
        D::InvalidQuantity { requested } => Some(json!({ "requested": requested, "min": 1, "max": 8 })),
        D::RefundExceedsCaptured { requested, refundable } => {
            Some(json!({ "requested_cents": requested, "refundable_cents": refundable }))
        }
        D::InvalidStateTransition { from, action } => Some(json!({ "from": from, "action": action })),
        D::InsufficientInventory { section, requested, available } => {
            Some(json!({ "section": section, "requested": requested, "available": available }))
        }
        D::SeatUnavailable { seats } => Some(json!({ "seats": seats })),
        D::HoldLimitReached { limit, held } => Some(json!({ "limit": limit, "held": held })),
        D::NotAdmissible(reason) => Some(json!({ "reason": reason })),
        D::AlreadyCheckedIn { at } => Some(json!({ "first_admitted_at": at })),
        D::SectionNotFound { section } => Some(json!({ "section": section })),
        _ => None,
    };
    (status, error.code(), details)
}

/// Every error, from every layer (API.md's envelope).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// `UPPER_SNAKE` code, e.g. `INSUFFICIENT_INVENTORY`.
    pub code: String,
    /// For people; may change without notice.
    pub message: String,
    /// Code-specific facts, e.g. `requested`, `available`, `section`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// A plain acknowledgement.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Message {
    pub message: String,
}

impl Message {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, details) = self.status_code_details();
        match &self {
            Self::Unavailable { dependency, cause } => tracing::error!(dependency, cause, "dependency unavailable"),
            Self::Internal(cause) => tracing::error!(cause, "internal error"),
            _ => {}
        }
        let message = self.to_string();
        let body = ErrorBody { code: code.to_owned(), message, details };
        let mut response = (status, axum::Json(body)).into_response();
        if let Self::RateLimited(seconds) = self {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        response
    }
}

impl From<RuntimeError> for ApiError {
    fn from(error: RuntimeError) -> Self {
        match error {
            RuntimeError::Domain(e) => Self::Domain(e),
            RuntimeError::Conflict => Self::Conflict,
            RuntimeError::Unavailable(cause) => Self::unavailable("events_db", cause),
        }
    }
}

/// A read model query failed.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::unavailable("projections_db", error)
    }
}

/// `axum::Json` whose rejections answer in our envelope (400 `INVALID_REQUEST`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::InvalidRequest("request body too large".into());
    }
    ApiError::InvalidRequest(rejection.body_text())
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` answering bad ids in our envelope.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Self(v))
            .map_err(|e: PathRejection| ApiError::InvalidRequest(e.body_text()))
    }
}

/// `axum::extract::Query` answering bad parameters in our envelope.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Self(v))
            .map_err(|e: QueryRejection| ApiError::InvalidRequest(e.body_text()))
    }
}

/// Answers unknown routes in our envelope.
pub fn not_found() -> ApiError {
    ApiError::NotFound("NOT_FOUND", "no such resource")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(error: ApiError) -> (StatusCode, Value) {
        let response = error.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// API.md's status table, for every refusal the domain and runtime can give (the ones no
    /// well-formed request can provoke on demand, like CONFLICT after lost races, included).
    #[tokio::test]
    async fn every_refusal_has_its_documented_status_and_code() {
        use DomainError as D;
        let transition = D::InvalidStateTransition { from: "published", action: "publish" };
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (D::validation("name", "empty").into(), 400, "VALIDATION_FAILED"),
            (D::InvalidQuantity { requested: 9 }.into(), 400, "INVALID_QUANTITY"),
            (D::RefundExceedsCaptured { requested: 2, refundable: 1 }.into(), 400, "VALIDATION_FAILED"),
            (ApiError::InvalidRequest("x".into()), 400, "INVALID_REQUEST"),
            (ApiError::Unauthenticated, 401, "UNAUTHENTICATED"),
            (ApiError::SignInRefused("x".into()), 401, "UNAUTHENTICATED"),
            (ApiError::PaymentFailed("card_declined".into()), 402, "PAYMENT_FAILED"),
            (ApiError::Forbidden, 403, "FORBIDDEN"),
            (ApiError::ForeignOrigin, 403, "FORBIDDEN"),
            (ApiError::RecentSignInRequired, 403, "FORBIDDEN"),
            (ApiError::RateLimited(3), 429, "RATE_LIMITED"),
            (D::EventNotFound.into(), 404, "EVENT_NOT_FOUND"),
            (D::ReservationNotFound.into(), 404, "RESERVATION_NOT_FOUND"),
            (D::PaymentNotFound.into(), 404, "PAYMENT_NOT_FOUND"),
            (D::TicketNotFound.into(), 404, "TICKET_NOT_FOUND"),
            (D::SectionNotFound { section: "A".into() }.into(), 404, "SECTION_NOT_FOUND"),
            (ApiError::NotFound("NOT_FOUND", "x"), 404, "NOT_FOUND"),
            (D::ReservationExpired.into(), 408, "RESERVATION_EXPIRED"),
            (
                D::InsufficientInventory { section: "A".into(), requested: 3, available: 1 }.into(),
                409,
                "INSUFFICIENT_INVENTORY",
            ),
            (D::SeatUnavailable { seats: vec!["A-1".into()] }.into(), 409, "SEAT_UNAVAILABLE"),
            (D::HoldLimitReached { limit: 8, held: 7 }.into(), 409, "HOLD_LIMIT_REACHED"),
            (D::AlreadyCheckedIn { at: chrono::Utc::now() }.into(), 409, "ALREADY_CHECKED_IN"),
            (D::NotAdmissible("refunded").into(), 422, "NOT_ADMISSIBLE"),
            (D::AlreadyExists("event").into(), 409, "CONFLICT"),
            (RuntimeError::Conflict.into(), 409, "CONFLICT"),
            (ApiError::IdempotencyKeyReused, 422, "IDEMPOTENCY_KEY_REUSED"),
            (D::EventCancelled.into(), 410, "EVENT_CANCELLED"),
            (transition.into(), 422, "INVALID_STATE_TRANSITION"),
            (D::SalesNotOpen.into(), 422, "SALES_NOT_OPEN"),
            (D::TransferWindowClosed.into(), 422, "TRANSFER_WINDOW_CLOSED"),
            (D::CancellationWindowClosed("x").into(), 422, "CANCELLATION_WINDOW_CLOSED"),
            (RuntimeError::Unavailable("db".into()).into(), 503, "DEPENDENCY_UNAVAILABLE"),
            (ApiError::Internal("secret cause".into()), 500, "INTERNAL"),
        ];
        for (error, status, code) in cases {
            let (actual, body) = answer(error).await;
            assert_eq!((actual.as_u16(), body["code"].as_str().unwrap()), (status, code), "{body}");
            assert!(body["message"].is_string());
        }
        let (_, internal) = answer(ApiError::Internal("secret cause".into())).await;
        assert!(!internal.to_string().contains("secret"), "causes are logged, never sent");
        let (_, insufficient) =
            answer(D::InsufficientInventory { section: "A".into(), requested: 3, available: 1 }.into()).await;
        assert_eq!(insufficient["details"], json!({ "section": "A", "requested": 3, "available": 1 }));
    }
}
