//! The `ticketing` binary itself.

use std::process::Command;

use uuid::Uuid;

use crate::support::server_url;

#[tokio::test]
async fn migrate_creates_the_database_and_is_idempotent() {
    let name = format!("ticketing_test_cli_{}", Uuid::new_v4().simple());
    let url = format!("{}/{name}", server_url());
    for _ in 0..2 {
        let output = Command::new(env!("CARGO_BIN_EXE_ticketing"))
            .arg("migrate")
            .env("DATABASE_URL_EVENTS", &url)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let pool = ticketing::store::database::pool(&url, 1).unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(["effects", "events", "snapshots"].iter().all(|t| tables.iter().any(|x| x == t)), "{tables:?}");
    pool.close().await;
    let admin = ticketing::store::database::pool(&format!("{}/postgres", server_url()), 1).unwrap();
    sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)")).execute(&admin).await.unwrap();
}

#[test]
fn a_malformed_setting_is_reported_and_fails() {
    let output = Command::new(env!("CARGO_BIN_EXE_ticketing"))
        .arg("migrate")
        .env("RESERVATION_TTL_SECONDS", "five minutes")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("RESERVATION_TTL_SECONDS"));
}
