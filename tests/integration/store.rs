//! The event store against the real PostgreSQL: append, load, conflicts, snapshots, upcasting and
//! the commit-safe global log.

use sqlx::Connection;
use ticketing::domain::event::{Event, EventChanged};
use ticketing::domain::reducer::Aggregate;
use ticketing::domain::reservation::{Reservation, ReservationEvent, ReservationStatus};
use ticketing::store::{EventStore, LogPosition, Metadata, StoreError, database, stream_id};
use uuid::Uuid;

use crate::support::TestDb;

fn meta() -> Metadata {
    let id = Uuid::new_v4();
    Metadata { correlation_id: id, causation_id: id, command_id: id, user_id: None }
}

fn published(n: i64) -> EventChanged {
    EventChanged::Published { at: chrono::DateTime::from_timestamp(1_800_000_000 + n, 0).unwrap() }
}

#[tokio::test]
async fn append_then_load_returns_the_events_in_order_with_versions() {
    let db = TestDb::new().await;
    let store = EventStore::new(db.pool.clone());
    let stream = stream_id::<Event>(Uuid::new_v4());
    let v = store.append::<Event>(&stream, 0, &[(published(1), meta()), (published(2), meta())]).await.unwrap();
    assert_eq!(v, 2);
    let third = Metadata { user_id: Some(Uuid::new_v4()), causation_id: Uuid::new_v4(), ..meta() };
    let v = store.append::<Event>(&stream, 2, &[(published(3), third)]).await.unwrap();
    assert_eq!(v, 3);
    let recorded = store.read_stream(&stream, 0).await.unwrap();
    assert_eq!(recorded.iter().map(|r| r.version).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(recorded[0].event_type, "EventPublished");
    assert_eq!(recorded[0].decode::<Event>().unwrap(), published(1));
    assert_eq!(recorded[2].metadata, Some(third), "who and what caused it, every field kept");
    assert_eq!(store.read_stream(&stream, 2).await.unwrap().len(), 1);
    let loaded = store.load::<Event>(&stream).await.unwrap();
    assert_eq!(loaded.version, 3);
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_and_writes_nothing() {
    let db = TestDb::new().await;
    let store = EventStore::new(db.pool.clone());
    let stream = stream_id::<Event>(Uuid::new_v4());
    store.append::<Event>(&stream, 0, &[(published(1), meta())]).await.unwrap();
    let err = store.append::<Event>(&stream, 0, &[(published(2), meta()), (published(3), meta())]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert_eq!(store.read_stream(&stream, 0).await.unwrap().len(), 1);
}

#[tokio::test]
async fn of_two_concurrent_appends_at_the_same_version_exactly_one_wins() {
    let db = TestDb::new().await;
    let stream = stream_id::<Event>(Uuid::new_v4());
    let a = EventStore::new(db.pool.clone());
    let b = EventStore::new(db.second_pool());
    let (first, second) = ([(published(1), meta())], [(published(2), meta())]);
    let (ra, rb) = tokio::join!(a.append::<Event>(&stream, 0, &first), b.append::<Event>(&stream, 0, &second));
    assert_eq!(usize::from(ra.is_ok()) + usize::from(rb.is_ok()), 1, "{ra:?} {rb:?}");
    assert!(matches!(ra.err().or(rb.err()), Some(StoreError::Conflict { .. })));
}

#[tokio::test]
async fn load_is_snapshot_plus_tail_and_ignores_other_snapshot_shapes() {
    let db = TestDb::new().await;
    let store = EventStore::new(db.pool.clone());
    let stream = stream_id::<Event>(Uuid::new_v4());
    store
        .append::<Event>(&stream, 0, &[(published(1), meta()), (published(2), meta()), (published(3), meta())])
        .await
        .unwrap();
    // A snapshot at version 2 whose state differs from the replay proves load starts from it.
    let marker = Event::replay(&[published(9)]);
    store.save_snapshot::<Event>(&stream, 2, &marker).await.unwrap();
    let loaded = store.load::<Event>(&stream).await.unwrap();
    assert_eq!(loaded.version, 3);
    let mut expected = marker.clone();
    expected.apply(&published(3));
    assert_eq!(loaded.state, expected);
    // An older snapshot never replaces a newer one.
    store.save_snapshot::<Event>(&stream, 1, &Event::default()).await.unwrap();
    assert_eq!(store.load::<Event>(&stream).await.unwrap().state, expected);
    // A snapshot of another shape is ignored: full replay.
    sqlx::query("UPDATE snapshots SET snapshot_version = 99").execute(&db.pool).await.unwrap();
    let replayed = store.load::<Event>(&stream).await.unwrap();
    assert_eq!(replayed.state, Event::replay(&[published(1), published(2), published(3)]));
}

/// The migration that copies the causes of rows written before the typed columns.
const METADATA_INTO_COLUMNS: i64 = 20_261_207_000_003;
/// The migration of the release after it, which drops the JSONB they were copied from.
const DROP_METADATA_JSON: i64 = 20_261_208_000_001;

#[tokio::test]
async fn the_causes_of_rows_written_before_the_typed_columns_are_copied_into_them_by_a_migration() {
    let db = TestDb::events_before(METADATA_INTO_COLUMNS).await;
    let store = EventStore::new(db.pool.clone());
    let typed = stream_id::<Event>(Uuid::new_v4());
    let new = meta();
    store.append::<Event>(&typed, 0, &[(published(1), new)]).await.unwrap();
    let payload: Vec<u8> = sqlx::query_scalar("SELECT payload FROM events").fetch_one(&db.pool).await.unwrap();
    let as_json = |stream: &str, json: serde_json::Value| {
        sqlx::query(
            "INSERT INTO events (stream_id, version, event_type, event_version, payload, metadata)
             VALUES ($1, 1, 'EventPublished', 1, $2, $3)",
        )
        .bind(stream.to_owned())
        .bind(payload.clone())
        .bind(json)
    };
    // As the releases before the typed columns wrote them: more than two of the migration's
    // batches, half of them with a buyer, in three transactions with rows of this release's
    // between them (the copy walks the log in its global order, transaction by transaction).
    let mut old = Vec::new();
    for n in 0..12_001 {
        let stream = stream_id::<Event>(Uuid::new_v4());
        let metadata = Metadata { user_id: (n % 2 == 0).then(Uuid::new_v4), ..meta() };
        old.push((stream, metadata));
    }
    let mut typed_between = Vec::new();
    for part in old.chunks(4_001) {
        let mut tx = db.pool.begin().await.unwrap();
        for (stream, metadata) in part {
            as_json(stream, serde_json::to_value(metadata).unwrap()).execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        let between = (stream_id::<Event>(Uuid::new_v4()), meta());
        store.append::<Event>(&between.0, 0, &[(published(1), between.1)]).await.unwrap();
        typed_between.push(between);
    }
    let mut tx = db.pool.begin().await.unwrap();
    // And rows whose JSON is not metadata, or only partly.
    let (empty, not_a_uuid, odd_user) =
        (stream_id::<Event>(Uuid::new_v4()), stream_id::<Event>(Uuid::new_v4()), stream_id::<Event>(Uuid::new_v4()));
    let odd = meta();
    as_json(&empty, serde_json::json!({})).execute(&mut *tx).await.unwrap();
    let mut broken = serde_json::to_value(meta()).unwrap();
    broken["command_id"] = "not a uuid".into();
    as_json(&not_a_uuid, broken).execute(&mut *tx).await.unwrap();
    let mut with_odd_user = serde_json::to_value(odd).unwrap();
    with_odd_user["user_id"] = "someone".into();
    as_json(&odd_user, with_odd_user).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();

    let this_release = crate::support::events_migrator_before(DROP_METADATA_JSON).await;
    database::migrate(&db.url, &this_release).await.unwrap();

    let first_of = |stream: String| {
        let store = store.clone();
        async move { store.read_stream(&stream, 0).await.unwrap().remove(0).metadata }
    };
    for (stream, metadata) in old.iter().step_by(1_000).chain(old.last()) {
        assert_eq!(first_of(stream.clone()).await, Some(*metadata), "{stream}");
    }
    let copied: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE correlation_id::text = metadata->>'correlation_id'
            AND causation_id::text = metadata->>'causation_id' AND command_id::text = metadata->>'command_id'
            AND user_id::text IS NOT DISTINCT FROM metadata->>'user_id'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(copied, 12_001, "every old row, each with its own causes");
    let copied_in: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT xmin::text) FROM events
          WHERE correlation_id IS NOT NULL AND metadata->>'correlation_id' IS NOT NULL",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(copied_in >= 3, "copied in batches, each committed alone: {copied_in} transaction(s)");
    assert_eq!(first_of(typed.clone()).await, Some(new), "a row with the columns is left as it was");
    for (stream, metadata) in &typed_between {
        assert_eq!(first_of(stream.clone()).await, Some(*metadata));
    }
    assert_eq!(first_of(empty).await, None);
    assert_eq!(first_of(not_a_uuid).await, None, "all three ids or none");
    assert_eq!(
        first_of(odd_user).await,
        Some(Metadata { user_id: None, ..odd }),
        "a buyer that is not a uuid is left out"
    );

    // A run that stopped half way (its last batches not copied) goes on when run again.
    let (done, left) = old.split_at(6_000);
    let left_streams: Vec<String> = left.iter().map(|(stream, _)| stream.clone()).collect();
    sqlx::query(
        "UPDATE events SET correlation_id = NULL, causation_id = NULL, command_id = NULL, user_id = NULL
          WHERE stream_id = ANY($1)",
    )
    .bind(&left_streams)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(METADATA_INTO_COLUMNS)
        .execute(&db.pool)
        .await
        .unwrap();
    database::migrate(&db.url, &this_release).await.unwrap();
    for (stream, metadata) in done.iter().step_by(1_000).chain(left.iter().step_by(1_000)).chain(old.last()) {
        assert_eq!(first_of(stream.clone()).await, Some(*metadata), "{stream}");
    }
    let unset: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE correlation_id IS NULL")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(unset, 2, "only the two rows whose JSON is not metadata");

    // The next release drops the JSONB; every cause is still read from the columns.
    database::migrate(&db.url, &database::EVENTS_MIGRATOR).await.unwrap();
    let json_left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'metadata'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(json_left, 0, "the JSONB column is gone");
    for (stream, metadata) in old.iter().step_by(1_000).chain(old.last()).chain(&typed_between) {
        assert_eq!(first_of(stream.clone()).await, Some(*metadata), "{stream}");
    }
    store.append::<Event>(&typed, 1, &[(published(2), new)]).await.unwrap();
    assert_eq!(store.read_stream(&typed, 1).await.unwrap()[0].metadata, Some(new), "and written to them");
}

/// A fresh database of each kind, with the migrator that made it.
async fn every_database() -> [(TestDb, &'static sqlx::migrate::Migrator); 4] {
    [
        (TestDb::new().await, &*database::EVENTS_MIGRATOR),
        (TestDb::projections().await, &*database::PROJECTIONS_MIGRATOR),
        (TestDb::analytics().await, &*database::ANALYTICS_MIGRATOR),
        (TestDb::auth().await, &*database::AUTH_MIGRATOR),
    ]
}

/// Records a migration as applied, as another release's binary would have.
async fn record_applied(db: &TestDb, version: i64, description: &str) {
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ($1, $2, true, '\\x00', 1)",
    )
    .bind(version)
    .bind(description)
    .execute(&db.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn an_instance_starts_on_databases_a_newer_release_has_migrated_further() {
    // A rollback, or an older instance restarting during a rolling deploy, meets migrations it
    // does not know; each database's migrator lets it start (the schema is expand/contract).
    for (db, migrator) in every_database().await {
        record_applied(&db, 29_991_231_000_001, "from a newer release").await;
        database::migrate(&db.url, migrator).await.unwrap();
    }
}

#[tokio::test]
async fn an_instance_refuses_a_database_that_ran_a_migration_its_release_lost() {
    // Releases add migrations with later versions; one older than the release's newest that the
    // release lacks was deleted or renamed from its files, so the schema is not what it expects.
    for (db, migrator) in every_database().await {
        let known = |version: i64| migrator.iter().any(|m| m.version == version);
        let first = migrator.iter().map(|m| m.version).min().unwrap();
        let newest = migrator.iter().map(|m| m.version).max().unwrap();
        // Older than the newest: a version between two of this release's own.
        let lost = (first..newest).find(|&version| !known(version)).unwrap();
        record_applied(&db, lost, "deleted from the files").await;
        let refused = database::migrate(&db.url, migrator).await.unwrap_err();
        assert!(
            matches!(&refused, sqlx::Error::Migrate(e) if matches!(**e, sqlx::migrate::MigrateError::VersionMissing(v) if v == lost)),
            "{refused}"
        );
    }
}

#[tokio::test]
async fn an_event_stored_as_version_1_still_loads_after_its_type_gained_a_field() {
    let db = TestDb::new().await;
    let hex = include_str!("../fixtures/reservation_initiated_v1.hex").trim();
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    let reservation: Uuid = "0d9a3e8e-9b1e-4a53-9a51-6f2f6f1d2a01".parse().unwrap();
    let stream = stream_id::<Reservation>(reservation);
    sqlx::query(
        "INSERT INTO events (stream_id, version, event_type, event_version, payload)
         VALUES ($1, 1, 'ReservationInitiated', 1, $2)",
    )
    .bind(&stream)
    .bind(&bytes)
    .execute(&db.pool)
    .await
    .unwrap();
    let store = EventStore::new(db.pool.clone());
    let recorded = store.read_stream(&stream, 0).await.unwrap();
    let ReservationEvent::Initiated { requested_seats, quantity, base_price, .. } =
        recorded[0].decode::<Reservation>().unwrap()
    else {
        panic!("not Initiated");
    };
    assert_eq!((requested_seats, quantity.get(), base_price.cents()), (None, 2, 5_000));
    let loaded = store.load::<Reservation>(&stream).await.unwrap();
    let details = loaded.state.details().unwrap();
    assert_eq!(details.status, ReservationStatus::Initiated);
    assert_eq!(details.section.as_str(), "Floor");

    // A version this release does not know yet is refused, not misread.
    sqlx::query("UPDATE events SET event_version = 3").execute(&db.pool).await.unwrap();
    assert!(store.load::<Reservation>(&stream).await.is_err());
    // So is a payload that decodes as another event type.
    sqlx::query("UPDATE events SET event_version = 2, event_type = 'ReservationExpired'")
        .execute(&db.pool)
        .await
        .unwrap();
    assert!(store.load::<Reservation>(&stream).await.is_err());
}

#[tokio::test]
async fn the_global_log_never_skips_a_transaction_that_commits_late() {
    let db = TestDb::new().await;
    let store = EventStore::new(db.pool.clone());
    let mut slow = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut fast = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let insert = "INSERT INTO events (stream_id, version, event_type, event_version, payload)
                  VALUES ($1, 1, 'EventPublished', 1, $2) RETURNING position";
    let payload = ticketing::store::codec::encode(&published(1)).unwrap();

    // The slow transaction takes its transaction id first, the fast one writes and commits first.
    sqlx::query("BEGIN").execute(&mut slow).await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()").execute(&mut slow).await.unwrap();
    sqlx::query("BEGIN").execute(&mut fast).await.unwrap();
    let fast_position: i64 =
        sqlx::query_scalar(insert).bind("event-fast").bind(&payload).fetch_one(&mut fast).await.unwrap();
    sqlx::query("COMMIT").execute(&mut fast).await.unwrap();
    let slow_position: i64 =
        sqlx::query_scalar(insert).bind("event-slow").bind(&payload).fetch_one(&mut slow).await.unwrap();
    assert!(slow_position > fast_position);

    // While the slow one is open, nothing after it may be handed out: a reader that took the
    // fast event and moved its checkpoint past it would never see the slow one.
    let visible = store.read_all(LogPosition::default(), 100).await.unwrap();
    assert!(visible.is_empty(), "{:?}", visible.iter().map(|e| &e.stream_id).collect::<Vec<_>>());

    sqlx::query("COMMIT").execute(&mut slow).await.unwrap();
    // Visible once every older transaction in the cluster has ended (other tests run beside
    // this one on the same server).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut all = store.read_all(LogPosition::default(), 100).await.unwrap();
    while all.len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        all = store.read_all(LogPosition::default(), 100).await.unwrap();
    }
    assert_eq!(all.iter().map(|e| e.stream_id.as_str()).collect::<Vec<_>>(), ["event-slow", "event-fast"]);
    // Reading on from a checkpoint gives the rest, once.
    let after_first = store.read_all(all[0].log_position(), 100).await.unwrap();
    assert_eq!(after_first.len(), 1);
    assert_eq!(after_first[0].stream_id, "event-fast");
    assert!(store.read_all(all[1].log_position(), 100).await.unwrap().is_empty());
}

/// Every projector and the relay read the log this way, many times a second: each call must walk
/// the `(transaction_id, position)` index from where the reader stopped, never read and sort the
/// whole unread tail (which made every call cost as much as the reader's backlog).
#[tokio::test]
async fn reading_the_log_after_a_position_walks_the_index_and_sorts_nothing() {
    let db = TestDb::new().await;
    let mut conn = db.pool.acquire().await.unwrap();
    // The planner's choice on a large table, without waiting to fill one.
    sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await.unwrap();
    sqlx::query("SET enable_bitmapscan = off").execute(&mut *conn).await.unwrap();
    let plan: serde_json::Value = sqlx::query_scalar(&format!(
        "EXPLAIN (FORMAT JSON) {}",
        ticketing::store::read_all_statement().replace("$1", "1").replace("$2", "0").replace("$3", "500")
    ))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let text = plan.to_string();
    assert!(text.contains("events_global_order"), "{text}");
    assert!(!text.contains("\"Sort\""), "the log is sorted instead of read in index order: {text}");
}

/// Pooled connections are not pinged on every use (a round trip before each group commit), but
/// one that sat idle long enough to have outlived its server process is: it is dropped and a
/// fresh one answers.
#[tokio::test]
async fn a_pooled_connection_whose_server_process_ended_while_idle_is_replaced_before_use() {
    let db = TestDb::new().await;
    let pool = ticketing::store::database::pool(&db.url, 1).unwrap();
    let first: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&pool).await.unwrap();
    // As a restart of PostgreSQL or an idle-session timeout would.
    let ended: bool =
        sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(first).fetch_one(&db.pool).await.unwrap();
    assert!(ended);
    // Idle for longer than the pool lets a connection go unchecked (the condition under test is
    // time itself: there is nothing to wait for instead).
    tokio::time::sleep(ticketing::store::database::PING_AFTER_IDLE + std::time::Duration::from_millis(100)).await;
    let second: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&pool).await.unwrap();
    assert_ne!(second, first);
}

#[tokio::test]
async fn a_turn_on_a_stream_is_waited_for_a_bounded_time_and_ends_when_its_holder_goes_quiet() {
    let db = TestDb::new().await;
    let stream = stream_id::<Event>(Uuid::new_v4());
    let take = |wait_ms: i32, idle_limit_ms: i32| {
        sqlx::query("SELECT take_stream_turn($1, $2, $3)").bind(stream.clone()).bind(wait_ms).bind(idle_limit_ms)
    };
    let settings = "SELECT current_setting('lock_timeout'), current_setting('idle_session_timeout')";
    let mut holder = db.pool.acquire().await.unwrap().detach();
    let mut waiter = db.second_pool().acquire().await.unwrap().detach();
    let mut impatient = db.second_pool().acquire().await.unwrap().detach();
    take(1_000, 1_000).execute(&mut holder).await.unwrap();

    // Someone who will not wait long gives up with "lock not available", and the failed call
    // leaves the session as it was: no lock, no timeout.
    let refused = take(100, 10_000).execute(&mut impatient).await.unwrap_err();
    let code = refused.as_database_error().and_then(sqlx::error::DatabaseError::code).map(std::borrow::Cow::into_owned);
    assert_eq!(code.as_deref(), Some("55P03"), "{refused}");
    let left: (String, String) = sqlx::query_as(settings).fetch_one(&mut impatient).await.unwrap();
    assert_eq!(left, ("0".to_owned(), "0".to_owned()));

    // The holder goes quiet (frozen, or cut off while its socket looks open): the database ends
    // its session after the idle limit, and the one waiting gets the turn well within its wait.
    take(5_000, 10_000).execute(&mut waiter).await.unwrap();
    assert!(sqlx::query("SELECT 1").execute(&mut holder).await.is_err(), "the quiet holder's session lives on");

    // Ending a turn hands it on at once and takes its idle limit with it.
    let ended: bool =
        sqlx::query_scalar("SELECT end_stream_turn($1)").bind(&stream).fetch_one(&mut waiter).await.unwrap();
    assert!(ended);
    let left: (String, String) = sqlx::query_as(settings).fetch_one(&mut waiter).await.unwrap();
    assert_eq!(left, ("0".to_owned(), "0".to_owned()));
    take(100, 10_000).execute(&mut impatient).await.unwrap();
}
