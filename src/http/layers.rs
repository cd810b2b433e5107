//! The layers every request passes, written as plain tower services.
//!
//! `axum::middleware::from_fn` clones the whole service beneath it for every request (its `Next`
//! must own it): a boxed copy of the route's stack per layer, which a profile of `/health` under
//! load put at a sixth of the server's time. These services call the inner service in place and
//! only wrap its future in a named type (no box per request); the stack is cloned only for
//! requests with an `Idempotency-Key`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::Route;
use axum::routing::future::RouteFuture;
use futures::future::Either;
use tower::{Layer, Service};

use super::AppState;

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// Outermost: the request id, the request's span, the deadline and the security headers, in
/// one service whose future is a named type. tower-http's request-id and trace layers, with the
/// boxes around their futures and answer bodies, were 9 of the 36 allocations of a `/health`
/// request (PERFORMANCE.md).
#[derive(Debug, Clone)]
pub struct EdgeLayer {
    pub state: AppState,
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            limit: Duration::from_secs(self.state.config.request_timeout_seconds),
            https: self.state.config.is_https(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Edge<S> {
    inner: S,
    limit: Duration,
    https: bool,
}

/// Every request's id: the client's or proxy's `x-request-id` when it sent one, else a new
/// UUID. Answers repeat it and every log line of the request carries it.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A new request id: a UUID v4, written in one allocation shared by the request's header and the
/// answer's.
fn new_request_id() -> HeaderValue {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text)).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let request_id = if let Some(given) = request.headers().get(&REQUEST_ID) {
            given.clone()
        } else {
            let made = new_request_id();
            request.headers_mut().insert(REQUEST_ID, made.clone());
            made
        };
        // The path only: query strings may carry secrets (OAuth codes and states).
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            request_id = %request_id.to_str().unwrap_or("-"),
        );
        let answer = span.in_scope(|| tokio::time::timeout(self.limit, self.inner.call(request)));
        EdgeFuture { answer, span, request_id, https: self.https, limit: self.limit, started: Instant::now() }
    }
}

pin_project_lite::pin_project! {
    /// [`Edge`]'s answer: the route's, or a 503 once the deadline passed, with the headers every
    /// answer carries.
    pub struct EdgeFuture<F> {
        #[pin]
        answer: tokio::time::Timeout<F>,
        span: tracing::Span,
        request_id: HeaderValue,
        https: bool,
        limit: Duration,
        started: Instant,
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        // No answer within `REQUEST_TIMEOUT_SECONDS`: 503 in our format. The outcome of a write
        // is then unknown to the client; with an `Idempotency-Key` its retry gets the real
        // outcome (the work goes on in its own task, see `idempotency`).
        let mut response = match std::task::ready!(this.answer.poll(cx)) {
            Ok(Ok(response)) => response,
            Err(_) => {
                let cause = format!("no answer within {} s", this.limit.as_secs());
                super::error::ApiError::unavailable("request_deadline", cause).into_response()
            }
        };
        // Fields are evaluated only when the line is logged: no clock read otherwise.
        let status = response.status();
        if status.is_server_error() {
            tracing::error!(
                status = status.as_u16(),
                latency_ms = this.started.elapsed().as_millis(),
                "response failed"
            );
        } else {
            tracing::debug!(
                status = status.as_u16(),
                latency_ms = this.started.elapsed().as_millis(),
                "finished processing request"
            );
        }
        let headers = response.headers_mut();
        security_headers(headers, *this.https);
        headers.insert(REQUEST_ID, this.request_id.clone());
        Poll::Ready(Ok(response))
    }
}

/// Headers every answer carries: no MIME sniffing, no referrer to other sites, never framed,
/// HSTS on https. HTML gets the app's own policy (set by `web`); other answers a closed one.
fn security_headers(headers: &mut axum::http::HeaderMap, https: bool) {
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
        );
    }
    if https {
        headers
            .insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    }
}

/// What every request that matched a route passes: `Idempotency-Key` handling (see
/// `idempotency`) for the requests it concerns, a POST with the header outside `/api/auth/`,
/// and its count and time by route (see `metrics::record`) for all.
#[derive(Debug, Clone)]
pub struct MatchedLayer {
    pub state: AppState,
}

impl Layer<Route> for MatchedLayer {
    type Service = Matched;

    fn layer(&self, inner: Route) -> Matched {
        Matched { inner, state: self.state.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct Matched {
    inner: Route,
    state: AppState,
}

impl Service<Request> for Matched {
    type Response = Response;
    type Error = Infallible;
    type Future = MatchedFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, request: Request) -> MatchedFuture {
        let started = Instant::now();
        let method = request.method().clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        let keyed = method == Method::POST
            && !request.uri().path().starts_with("/api/auth/")
            && request.headers().contains_key(super::idempotency::HEADER);
        let answer = if keyed {
            // The work may outlive this call (it runs in its own task): it takes a ready copy.
            let ready = self.inner.clone();
            let inner = std::mem::replace(&mut self.inner, ready);
            let state = self.state.clone();
            let keyed: Answer =
                Box::pin(async move { Ok(super::idempotency::middleware(state, request, inner).await) });
            Either::Left(keyed)
        } else {
            Either::Right(self.inner.call(request))
        };
        MatchedFuture { answer, started, method, route }
    }
}

pin_project_lite::pin_project! {
    /// [`Matched`]'s answer, counted and timed by route when it is ready.
    pub struct MatchedFuture {
        #[pin]
        answer: Either<Answer, RouteFuture<Infallible>>,
        started: Instant,
        method: Method,
        route: Option<MatchedPath>,
    }
}

impl Future for MatchedFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.answer.poll(cx))?;
        let route = this.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        super::metrics::record(this.method, route, response.status().as_u16(), this.started.elapsed());
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    /// The answer of an [`Edge`] around a route that answers with the request id it was given,
    /// and that id.
    async fn answer_to(request: Request) -> (Response, String) {
        let inner = tower::service_fn(|request: Request| {
            let id = request.headers().get(&REQUEST_ID).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            std::future::ready(Ok::<_, Infallible>(Response::new(Body::from(id))))
        });
        let mut edge = Edge { inner, limit: Duration::from_secs(5), https: false };
        let (parts, body) = edge.call(request).await.unwrap().into_parts();
        let seen = axum::body::to_bytes(body, 1024).await.unwrap();
        (Response::from_parts(parts, Body::empty()), String::from_utf8(seen.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_request_without_an_id_gets_a_new_uuid_which_its_answer_repeats() {
        let (first, seen) = answer_to(Request::new(Body::empty())).await;
        let id = first.headers()[&REQUEST_ID].to_str().unwrap().to_owned();
        assert_eq!(id, seen, "the route and the answer see the same id");
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
        assert_eq!(first.headers()[header::X_FRAME_OPTIONS], "DENY");
        let (second, _) = answer_to(Request::new(Body::empty())).await;
        assert_ne!(second.headers()[&REQUEST_ID], first.headers()[&REQUEST_ID]);
    }

    #[tokio::test]
    async fn a_request_id_given_by_the_client_is_kept() {
        let request = Request::builder().header("x-request-id", "trace-me-42").body(Body::empty()).unwrap();
        let (answer, seen) = answer_to(request).await;
        assert_eq!((answer.headers()[&REQUEST_ID].to_str().unwrap(), seen.as_str()), ("trace-me-42", "trace-me-42"));
    }
}
