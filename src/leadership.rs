//! One runner per job across every instance: a PostgreSQL advisory lock per job.
//!
//! Each projector and the outbox relay must run once in the whole deployment: two copies of a
//! projector race to apply the same events (correct, thanks to the locked checkpoint or the
//! per-stream versions, but wasteful and noisy), and two relays publish everything twice.
//! Every instance starts every job under [`run_exclusively`]: the one that takes the lock runs
//! it; the others stand by, trying again every `retry` interval. The lock lives on a connection
//! of its own, so it is released the moment its holder dies (the server sees the socket close)
//! and a standby takes over within one interval. A holder that loses its lock connection stops
//! its job before trying to take the lock again, so two never run at once for long.

use std::future::Future;
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::watch;

/// How often a standby tries for the lock, and a holder checks that it still has it.
pub const RETRY: Duration = Duration::from_secs(1);

/// The advisory lock key of a job name: stable across processes and releases.
pub fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("ticketing:{name}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

fn set_gauge(job: &'static str, leading: bool) {
    metrics::gauge!("job_leader", "job" => job).set(if leading { 1.0 } else { 0.0 });
}

/// Runs `job` (given a stop signal) while this process holds the lock `name` in `pool`'s
/// database; stands by otherwise; returns when `shutdown` turns true.
pub async fn run_exclusively<F, Fut>(
    pool: PgPool,
    name: &'static str,
    retry: Duration,
    mut shutdown: watch::Receiver<bool>,
    job: F,
) where
    F: Fn(watch::Receiver<bool>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let key = lock_key(name);
    set_gauge(name, false);
    while !*shutdown.borrow() {
        let Some(mut lock) = try_lock(&pool, key).await else {
            tokio::select! {
                () = tokio::time::sleep(retry) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        };
        tracing::info!(job = name, "took the lead");
        set_gauge(name, true);
        let (stop, stopped) = watch::channel(false);
        let running = tokio::spawn(job(stopped));
        // Hold the lead until shutdown, or until the lock's connection fails (then another
        // instance may already have taken over: stop at once).
        loop {
            tokio::select! {
                () = tokio::time::sleep(retry) => {
                    if sqlx::query("SELECT 1").execute(&mut lock).await.is_err() {
                        tracing::warn!(job = name, "lost the lock connection; standing down");
                        break;
                    }
                }
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        let _ = stop.send(true);
        let _ = running.await;
        set_gauge(name, false);
        // Closing the connection releases the lock for the others.
        let _ = lock.close().await;
    }
}

/// A fresh connection holding the lock, or `None` if someone else holds it (or the database is
/// unreachable: then nobody can run the job anyway).
async fn try_lock(pool: &PgPool, key: i64) -> Option<PgConnection> {
    let options = pool.connect_options();
    let mut connection = match PgConnection::connect_with(&options).await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::debug!(%error, "cannot connect to take a job lock");
            return None;
        }
    };
    let taken: Result<bool, _> =
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(key).fetch_one(&mut connection).await;
    if let Ok(true) = taken {
        Some(connection)
    } else {
        let _ = connection.close().await;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(lock_key("projector:catalogue"), lock_key("projector:catalogue"));
        assert_ne!(lock_key("projector:catalogue"), lock_key("projector:availability"));
    }
}
