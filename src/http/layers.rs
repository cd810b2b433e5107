//! The layers every request passes, written as plain tower services.
//!
//! `axum::middleware::from_fn` clones the whole service beneath it for every request (its `Next`
//! must own it): a boxed copy of the route's stack per layer, which a profile of `/health` under
//! load put at a sixth of the server's time. These services call the inner service in place and
//! only wrap its future; the stack is cloned only for requests with an `Idempotency-Key`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::Route;
use futures::future::Either;
use tower::{Layer, Service};

use super::AppState;

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// Outermost of ours: the security headers, then the request deadline, around everything else.
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

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, request: Request) -> Answer {
        let answer = self.inner.call(request);
        let (limit, https) = (self.limit, self.https);
        Box::pin(async move {
            // No answer within `REQUEST_TIMEOUT_SECONDS`: 503 in our format. The outcome of a
            // write is then unknown to the client; with an `Idempotency-Key` its retry gets the
            // real outcome (the work goes on in its own task, see `idempotency`).
            let mut response = match tokio::time::timeout(limit, answer).await {
                Ok(Ok(response)) => response,
                Err(_) => {
                    let cause = format!("no answer within {} s", limit.as_secs());
                    super::error::ApiError::unavailable("request_deadline", cause).into_response()
                }
            };
            security_headers(response.headers_mut(), https);
            Ok(response)
        })
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
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, request: Request) -> Answer {
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
            Either::Left(async move { Ok(super::idempotency::middleware(state, request, inner).await) })
        } else {
            Either::Right(self.inner.call(request))
        };
        Box::pin(async move {
            let response = answer.await?;
            let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
            super::metrics::record(&method, route, response.status().as_u16(), started.elapsed());
            Ok(response)
        })
    }
}
