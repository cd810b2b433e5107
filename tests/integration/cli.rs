//! The `ticketing` binary itself.

use std::process::Command;

use uuid::Uuid;

use crate::support::server_url;

#[tokio::test]
async fn migrate_creates_the_databases_and_is_idempotent() {
    let suffix = Uuid::new_v4().simple().to_string();
    let names: Vec<String> =
        ["events", "projections", "analytics"].iter().map(|k| format!("ticketing_test_cli_{k}_{suffix}")).collect();
    let url = |name: &str| format!("{}/{name}", server_url());
    for _ in 0..2 {
        let output = Command::new(env!("CARGO_BIN_EXE_ticketing"))
            .arg("migrate")
            .env("DATABASE_URL_EVENTS", url(&names[0]))
            .env("DATABASE_URL_PROJECTIONS", url(&names[1]))
            .env("DATABASE_URL_ANALYTICS", url(&names[2]))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    for (name, expected) in names.iter().zip([
        &["effects", "events", "snapshots"][..],
        &["events_catalogue", "reservations", "section_availability"][..],
        &["dim_calendar", "dim_events", "fact_ticket_sales"][..],
    ]) {
        let pool = ticketing::store::database::pool(&url(name), 1).unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(expected.iter().all(|t| tables.iter().any(|x| x == t)), "{name}: {tables:?}");
        pool.close().await;
    }
    let admin = ticketing::store::database::pool(&format!("{}/postgres", server_url()), 1).unwrap();
    for name in &names {
        sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)")).execute(&admin).await.unwrap();
    }
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
