//! The `ticketing` binary itself.

use std::process::Command;

use uuid::Uuid;

use crate::support::server_url;

#[tokio::test]
async fn migrate_creates_the_databases_and_is_idempotent() {
    let suffix = Uuid::new_v4().simple().to_string();
    let names: Vec<String> = ["events", "projections", "analytics", "auth"]
        .iter()
        .map(|k| format!("ticketing_test_cli_{k}_{suffix}"))
        .collect();
    let url = |name: &str| format!("{}/{name}", server_url());
    for _ in 0..2 {
        let output = Command::new(env!("CARGO_BIN_EXE_ticketing"))
            .arg("migrate")
            .env("DATABASE_URL_EVENTS", url(&names[0]))
            .env("DATABASE_URL_PROJECTIONS", url(&names[1]))
            .env("DATABASE_URL_ANALYTICS", url(&names[2]))
            .env("DATABASE_URL_AUTH", url(&names[3]))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    for (name, expected) in names.iter().zip([
        &["effects", "events", "snapshots"][..],
        &["events_catalogue", "reservations", "section_availability"][..],
        &["dim_calendar", "dim_events", "fact_ticket_sales"][..],
        &["users"][..],
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

#[tokio::test]
async fn rebuild_projections_replays_the_log_into_the_named_read_model() {
    use ticketing::domain::event::{EventCommand, NewEvent};
    use ticketing::domain::ids::EventId;
    let (events, projections, analytics) = (
        crate::support::TestDb::new().await,
        crate::support::TestDb::projections().await,
        crate::support::TestDb::analytics().await,
    );
    let rt = crate::support::runtime_on(events.pool.clone(), crate::support::fast_config());
    let event_id = EventId::from_uuid(Uuid::new_v4());
    let new = NewEvent {
        name: ticketing::domain::values::EventName::parse("Replayed").unwrap(),
        date: chrono::Utc::now() + chrono::Duration::days(10),
        category: ticketing::domain::values::Category::Theatre,
        venue: ticketing::domain::values::Venue::parse("Hall", None, None).unwrap(),
        sections: vec![ticketing::domain::seating::SectionSpec {
            name: ticketing::domain::values::SectionName::parse("Stalls").unwrap(),
            layout: ticketing::domain::seating::SectionLayout::parse("general", 5, None, None).unwrap(),
            base_price: ticketing::domain::money::Money::from_cents(1_000),
        }],
    };
    let cause = ticketing::runtime::Cause::new(None);
    rt.create_event(&cause, event_id, new).await.unwrap();
    rt.change_event(&cause, event_id, EventCommand::Publish).await.unwrap();
    // A stale row that the rebuild must replace.
    sqlx::query("INSERT INTO events_catalogue (event_id, name, starts_at, category, venue_name, status, sections, created_at, updated_at)
                 VALUES (gen_random_uuid(), 'stale', now(), 'other', 'x', 'draft', '[]', now(), now())")
        .execute(&projections.pool)
        .await
        .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ticketing"))
        .args(["rebuild-projections", "--only", "catalogue"])
        .env("DATABASE_URL_EVENTS", &events.url)
        .env("DATABASE_URL_PROJECTIONS", &projections.url)
        .env("DATABASE_URL_ANALYTICS", &analytics.url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("catalogue: rebuilt"), "{stderr}");
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT name, status FROM events_catalogue").fetch_all(&projections.pool).await.unwrap();
    assert_eq!(rows, [("Replayed".to_owned(), "published".to_owned())]);
    let other: i64 =
        sqlx::query_scalar("SELECT count(*) FROM reservations").fetch_one(&projections.pool).await.unwrap();
    assert_eq!(other, 0, "--only leaves the other read models alone");

    let unknown = Command::new(env!("CARGO_BIN_EXE_ticketing"))
        .args(["rebuild-projections", "--only", "nope"])
        .env("DATABASE_URL_EVENTS", &events.url)
        .env("DATABASE_URL_PROJECTIONS", &projections.url)
        .env("DATABASE_URL_ANALYTICS", &analytics.url)
        .output()
        .unwrap();
    assert!(!unknown.status.success());
}

#[tokio::test]
async fn serve_answers_health_and_stops_cleanly_on_sigterm() {
    let (events, projections, analytics, auth) = (
        crate::support::TestDb::new().await,
        crate::support::TestDb::projections().await,
        crate::support::TestDb::analytics().await,
        crate::support::TestDb::auth().await,
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_ticketing"))
        .arg("serve")
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("METRICS_ADDR", "127.0.0.1:0")
        .env("DATABASE_MAX_CONNECTIONS", "5")
        .env("DATABASE_URL_EVENTS", &events.url)
        .env("DATABASE_URL_PROJECTIONS", &projections.url)
        .env("DATABASE_URL_ANALYTICS", &analytics.url)
        .env("DATABASE_URL_AUTH", &auth.url)
        .env("REDIS_PREFIX", format!("ticketing_test_{}:", Uuid::new_v4().simple()))
        .env("MAIL_OUTBOX_DIR", std::env::temp_dir().join(format!("ticketing-mail-{}", Uuid::new_v4().simple())))
        .env_remove("KAFKA_BROKERS")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Ok(response) = client.get(format!("http://127.0.0.1:{port}/health/ready")).send().await {
            assert_eq!(response.status(), reqwest::StatusCode::OK);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "server never came up");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The container image's HEALTHCHECK: the port comes from HTTP_ADDR.
    let healthcheck = || {
        Command::new(env!("CARGO_BIN_EXE_ticketing"))
            .arg("healthcheck")
            .env("HTTP_ADDR", format!("0.0.0.0:{port}"))
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
    };
    assert!(healthcheck().success());
    let killed = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    assert!(!healthcheck().success(), "a stopped server is unhealthy");
}

#[tokio::test]
async fn seed_demo_is_idempotent_and_bootstrap_admin_prints_a_sign_in_link() {
    let (events, projections, analytics, auth) = (
        crate::support::TestDb::new().await,
        crate::support::TestDb::projections().await,
        crate::support::TestDb::analytics().await,
        crate::support::TestDb::auth().await,
    );
    let prefix = format!("ticketing_test_{}:", Uuid::new_v4().simple());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ticketing"))
            .args(args)
            .env("DATABASE_URL_EVENTS", &events.url)
            .env("DATABASE_URL_PROJECTIONS", &projections.url)
            .env("DATABASE_URL_ANALYTICS", &analytics.url)
            .env("DATABASE_URL_AUTH", &auth.url)
            .env("REDIS_PREFIX", &prefix)
            .output()
            .unwrap()
    };
    for expected in ["demo event created", "demo event already there"] {
        let output = run(&["seed-demo"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success() && stderr.contains(expected), "{stderr}");
    }
    let rt = crate::support::runtime_on(events.pool.clone(), crate::support::fast_config());
    let demo = rt.event(ticketing::domain::ids::EventId::from_uuid(ticketing::demo::DEMO_EVENT_ID)).await.unwrap();
    assert_eq!(demo.status, ticketing::domain::event::EventStatus::SalesOpen);
    assert_eq!(demo.sections.len(), 2);

    let output = run(&["bootstrap-admin", "--email", "Boss@Example.com"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let link = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let token = link.strip_prefix("http://localhost:8080/auth/verify#token=").expect("a sign-in link");
    assert_eq!(token.len(), 64);
    let role: String = sqlx::query_scalar("SELECT role FROM users WHERE email = 'boss@example.com'")
        .fetch_one(&auth.pool)
        .await
        .unwrap();
    assert_eq!(role, "admin");
    let bad = run(&["bootstrap-admin", "--email", "not-an-address"]);
    assert!(!bad.status.success());
}
