//! A lean HTTP/1.1 client: one kept-alive connection per simulated user, as a browser or `wrk`
//! would hold it. Built on hyper's connection API so the load generator spends as little of the
//! machine's two cores as possible (the server shares them).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What came back: the status and the body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// `201`, or `409 INSUFFICIENT_INVENTORY`: how answers are tallied.
    pub fn label(&self) -> String {
        if self.status.is_success() {
            return self.status.as_u16().to_string();
        }
        match self.json().get("code").and_then(Value::as_str) {
            Some(code) => format!("{} {code}", self.status.as_u16()),
            None => self.status.as_u16().to_string(),
        }
    }
}

/// One connection to one server; reconnects after the server closes it.
#[derive(Debug)]
pub struct Conn {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub const fn new(addr: SocketAddr) -> Self {
        Self { addr, sender: None }
    }

    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Opens the connection now (the crowd scenario holds them open before anyone buys).
    pub async fn connect(&mut self) -> Result<(), BoxError> {
        let stream = tokio::net::TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends one request; a transport failure drops the connection (the next call reconnects).
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Answer, BoxError> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            self.connect().await?;
        }
        let Some(sender) = self.sender.as_mut() else { return Err("not connected".into()) };
        let result = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, BoxError>(Answer { status, body })
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    pub async fn get(&mut self, path: &str, token: Option<&str>) -> Result<Answer, BoxError> {
        self.send(request(Method::GET, self.addr, path, token, None, &[])?).await
    }

    pub async fn post(
        &mut self,
        path: &str,
        token: Option<&str>,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Result<Answer, BoxError> {
        self.send(request(Method::POST, self.addr, path, token, Some(body), headers)?).await
    }
}

pub fn request(
    method: Method,
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Result<Request<Full<Bytes>>, BoxError> {
    let mut builder = Request::builder().method(method).uri(path).header("host", addr.to_string());
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let body = match body {
        Some(json) => {
            builder = builder.header("content-type", "application/json");
            Full::new(Bytes::from(serde_json::to_vec(json)?))
        }
        None => Full::new(Bytes::new()),
    };
    Ok(builder.body(body)?)
}

/// Latencies and answers of one kind of request.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub latencies: Vec<Duration>,
    pub answers: BTreeMap<String, u64>,
}

impl Tally {
    pub fn record(&mut self, latency: Duration, label: String) {
        self.latencies.push(latency);
        *self.answers.entry(label).or_default() += 1;
    }

    pub fn merge(&mut self, other: Self) {
        self.latencies.extend(other.latencies);
        for (label, n) in other.answers {
            *self.answers.entry(label).or_default() += n;
        }
    }

    pub fn count(&self, label: &str) -> u64 {
        self.answers.get(label).copied().unwrap_or(0)
    }

    /// Answers with a 5xx status or no answer at all.
    pub fn failures(&self) -> u64 {
        self.answers.iter().filter(|(l, _)| l.starts_with('5') || l.starts_with("transport")).map(|(_, n)| n).sum()
    }

    pub fn total(&self) -> u64 {
        self.answers.values().sum()
    }

    /// `p50 … max` as one table row fragment.
    pub fn percentiles(&mut self) -> Percentiles {
        self.latencies.sort_unstable();
        let at = |per_mille: usize| {
            self.latencies.get(self.latencies.len().saturating_sub(1) * per_mille / 1000).copied().unwrap_or_default()
        };
        Percentiles {
            p50: at(500),
            p90: at(900),
            p99: at(990),
            p999: at(999),
            max: self.latencies.last().copied().unwrap_or_default(),
        }
    }

    pub fn answers_text(&self) -> String {
        self.answers.iter().map(|(l, n)| format!("{l}: {n}")).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {} · p90 {} · p99 {} · p99.9 {} · max {}",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.p999),
            ms(self.max)
        )
    }
}

pub fn ms(d: Duration) -> String {
    let millis = d.as_secs_f64() * 1000.0;
    if millis < 10.0 { format!("{millis:.2} ms") } else { format!("{millis:.0} ms") }
}
