//! The people of the run: buyers signed in through the real magic-link sign-in (each from its own
//! address, so the per-address limits stay on and are not what is measured), and an organiser
//! who creates the events.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::{BoxError, Conn};

/// A distinct client address per buyer: 10.x.y.z.
pub fn address_of(i: usize) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

/// Session tokens of `count` buyers (`buyer{i}@bench.test`), signed in `CONNECTIONS` at a time.
pub async fn sign_in_buyers(addr: SocketAddr, outbox: &Path, count: usize) -> Result<Vec<String>, BoxError> {
    let emails: Vec<String> = (0..count).map(|i| format!("buyer{i}@bench.test")).collect();
    let emails = Arc::new(emails);
    let started = Instant::now();
    run_parallel(
        count,
        64,
        {
            let emails = emails.clone();
            move |mut conn: Conn, i| {
                let email = emails[i].clone();
                async move {
                    let xff = address_of(i);
                    let result = async {
                        let body = json!({ "email": email });
                        let sent =
                            conn.post("/api/auth/magic-link/send", None, &body, &[("x-forwarded-for", &xff)]).await?;
                        if sent.status.as_u16() != 202 {
                            return Err(format!("magic link for {email}: {}", sent.label()).into());
                        }
                        Ok(())
                    }
                    .await;
                    (conn, result)
                }
            }
        },
        addr,
    )
    .await?;
    let tokens = Arc::new(mailed_tokens(outbox, &emails, Duration::from_secs(60)).await?);
    let sessions = Arc::new(std::sync::Mutex::new(vec![String::new(); count]));
    run_parallel(
        count,
        64,
        {
            let (tokens, sessions, emails) = (tokens.clone(), sessions.clone(), emails.clone());
            move |mut conn: Conn, i| {
                let token = tokens.get(&emails[i]).cloned().unwrap_or_default();
                let sessions = sessions.clone();
                async move {
                    let xff = address_of(i);
                    let result = async {
                        let body = json!({ "token": token });
                        let verified =
                            conn.post("/api/auth/magic-link/verify", None, &body, &[("x-forwarded-for", &xff)]).await?;
                        let session = verified.json()["session_token"].as_str().map(str::to_owned);
                        let Some(session) = session else { return Err(format!("verify: {}", verified.label()).into()) };
                        if let Ok(mut all) = sessions.lock() {
                            all[i] = session;
                        }
                        Ok(())
                    }
                    .await;
                    (conn, result)
                }
            }
        },
        addr,
    )
    .await?;
    let sessions = sessions.lock().map_err(|_| "poisoned")?.clone();
    eprintln!("signed in {count} buyers in {:.1} s", started.elapsed().as_secs_f64());
    Ok(sessions)
}

/// The newest sign-in token mailed to each address (the outbox holds one file per mail).
pub async fn mailed_tokens(
    outbox: &Path,
    emails: &[String],
    wait: Duration,
) -> Result<HashMap<String, String>, BoxError> {
    let deadline = Instant::now() + wait;
    let mut tokens = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    loop {
        for entry in std::fs::read_dir(outbox)?.filter_map(Result::ok) {
            let path = entry.path();
            if !seen.insert(path.clone()) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let to = text.lines().find_map(|l| l.strip_prefix("To: ")).map(str::to_owned);
            let token = text.lines().find_map(|l| l.trim_end().strip_prefix("Token: ")).map(str::to_owned);
            if let (Some(to), Some(token)) = (to, token) {
                tokens.insert(to, token);
            }
        }
        if emails.iter().all(|e| tokens.contains_key(e)) {
            return Ok(tokens);
        }
        if Instant::now() > deadline {
            return Err(format!("{} of {} sign-in mails arrived", tokens.len(), emails.len()).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `job(conn, i)` for i in 0..count on `parallel` connections (each job hands its
/// connection back for the next); the first error stops it.
pub async fn run_parallel<F, Fut>(count: usize, parallel: usize, job: F, addr: SocketAddr) -> Result<(), BoxError>
where
    F: Fn(Conn, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = (Conn, Result<(), BoxError>)> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..parallel {
        let (next, job) = (next.clone(), job.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, BoxError>(());
                }
                let (back, result) = job(conn, i).await;
                result?;
                conn = back;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// The organiser: signed in, creates events and puts them on sale.
#[derive(Debug)]
pub struct Organiser {
    conn: Conn,
    token: String,
}

impl Organiser {
    pub async fn sign_in(addr: SocketAddr, outbox: &Path) -> Result<Self, BoxError> {
        let mut conn = Conn::new(addr);
        let email = crate::server::ADMIN_EMAIL.to_owned();
        let sent = conn.post("/api/auth/magic-link/send", None, &json!({ "email": email }), &[]).await?;
        if sent.status.as_u16() != 202 {
            return Err(format!("organiser magic link: {}", sent.label()).into());
        }
        let tokens = mailed_tokens(outbox, std::slice::from_ref(&email), Duration::from_secs(30)).await?;
        let verified = conn.post("/api/auth/magic-link/verify", None, &json!({ "token": tokens[&email] }), &[]).await?;
        let token = verified.json()["session_token"].as_str().ok_or("organiser sign-in failed")?.to_owned();
        Ok(Self { conn, token })
    }

    /// A new event, 60 days ahead, on sale, with `sections` (API `CreateEvent` sections).
    pub async fn event_on_sale(&mut self, name: &str, sections: Value) -> Result<String, BoxError> {
        let date = (chrono::Utc::now() + chrono::Duration::days(60)).to_rfc3339();
        let body = json!({ "name": name, "date": date, "category": "concert",
            "venue": { "name": "Bench Arena", "city": "Lyon" }, "sections": sections });
        let created = self.conn.post("/api/events", Some(&self.token), &body, &[]).await?;
        let id =
            created.json()["event_id"].as_str().ok_or_else(|| format!("create event: {}", created.label()))?.to_owned();
        for step in ["publish", "sales/open"] {
            let answer =
                self.conn.post(&format!("/api/events/{id}/{step}"), Some(&self.token), &json!({}), &[]).await?;
            if !answer.status.is_success() {
                return Err(format!("{step}: {}", answer.label()).into());
            }
        }
        Ok(id)
    }
}

/// One general-admission section.
pub fn general(name: &str, capacity: u32) -> Value {
    json!([{ "name": name, "capacity": capacity, "seating": "general", "base_price_cents": 5000 }])
}

/// One numbered section of `rows` × `per_row`.
pub fn numbered(name: &str, rows: u32, per_row: u32) -> Value {
    json!([{ "name": name, "capacity": rows * per_row, "seating": "numbered", "rows": rows,
        "seats_per_row": per_row, "base_price_cents": 9000 }])
}
