//! A flash sale through the front door: the release server over HTTP, buyers signed in through
//! the real sign-in, the hold cap and rate limits on. Measures holds per second (closed loop),
//! latency at fixed arrival rates (open loop), 1,000 buyers on 50 numbered seats, a crowd of
//! 10,000 people for a minute, availability reads, and two instances on the same databases; next
//! to references measured in the same run (`pgbench -N`, a bare axum handler, the server's own
//! `/health`). After each run it checks the promise against the event log and the gateway. Each
//! closed loop also reports its CPU time per hold by process (server, PostgreSQL, Redis) and the
//! server's memory after it.
//!
//! `scripts/bench-flash-sale.sh` runs it; settings by environment (defaults in brackets):
//! `SCENARIOS` [refs,closed,open,seats,crowd,reads,two], `BUYERS` [10000], `HOLDS` [30000],
//! `CONNECTIONS` [256], `OPEN_RATES` [500,1000,1500,2000,2500], `OPEN_SECONDS` [30],
//! `CROWD` [10000: buyers in the crowd, at most `BUYERS`], `CROWD_SECONDS` [60], `READ_SECONDS` [10], `PGBENCH_SECONDS` [10]; `SCENARIOS=soak` (not in the
//! default set: `scripts/soak.sh`) with `SOAK_MINUTES` [10]; `SCENARIOS=sockets` (not in the default set) with `SOCKETS`
//! [2000]: the server's memory per live availability socket.

// Rates and ratios are floating point; seats and money never are.
#![allow(clippy::cast_precision_loss)]

mod checks;
mod client;
mod cpu;
mod crowd;
mod load;
mod people;
mod server;
mod soak;

use std::fmt::Write as _;
use std::sync::Arc;

use client::{BoxError, ms};
use load::{HoldRequest, HoldRun};

/// Process `pid`'s resident memory now against `before_kib`, per `unit` of the `count` opened
/// since, and its open files.
fn growth(pid: u32, before_kib: u64, count: u64, unit: &str) -> String {
    let (after_kib, fds) = server::Instance::footprint_of(pid);
    format!(
        "server {} → {} MiB resident ({:.0} KiB a {unit}), {fds} open files",
        before_kib / 1024,
        after_kib / 1024,
        after_kib.saturating_sub(before_kib) as f64 / count as f64
    )
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--bare-axum") {
        return server::serve_bare_axum(args.get(at + 1).map_or("0", String::as_str));
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run())
}

/// The report, printed as it grows (a long run shows its progress) and whole at the end.
#[derive(Debug, Default)]
struct Report(String);

impl Report {
    fn line(&mut self, text: impl AsRef<str>) {
        eprintln!("{}", text.as_ref());
        let _ = writeln!(self.0, "{}", text.as_ref());
    }
}

#[derive(Debug, Default)]
struct References {
    pgbench: Vec<(u32, f64)>,
    bare_axum: Option<f64>,
    health: Option<f64>,
}

fn hold_line(report: &mut Report, what: &str, run: &mut HoldRun) {
    let p = run.tally.percentiles();
    report.line(format!(
        "{what}: {} holds in {:.1} s = **{:.0} holds/s**; {p}; answers: {}",
        run.tally.count("201"),
        run.elapsed.as_secs_f64(),
        run.holds_per_second(),
        run.tally.answers_text()
    ));
}

/// Lets the read side apply everything the last scenario wrote before the next one starts (at
/// most two minutes), so each scenario measures itself and not the previous one's backlog; the
/// time it took is a figure of its own.
async fn settle(report: &mut Report, deployment: &server::Deployment) -> Result<(), BoxError> {
    let (took, behind) = deployment.read_side_caught_up(std::time::Duration::from_secs(120)).await?;
    if behind == 0 {
        report.line(format!("  read side caught up {} after the scenario", ms(took)));
    } else {
        report.line(format!("  read side still {behind} events behind after {}", ms(took)));
    }
    Ok(())
}

async fn check(report: &mut Report, events_url: &str, event_id: &str, run: &HoldRun) -> Result<(), BoxError> {
    let verdict = checks::seats(events_url, event_id, &run.wins).await?;
    report.line(format!("  check: {}", verdict.text()));
    if !verdict.violations.is_empty() {
        return Err("the promise was broken".into());
    }
    Ok(())
}

#[allow(clippy::too_many_lines)]
async fn run() -> Result<(), BoxError> {
    let pg = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let scenarios = std::env::var("SCENARIOS").unwrap_or_else(|_| "refs,closed,open,seats,crowd,reads,two".into());
    let wants = |s: &str| scenarios.split(',').any(|x| x.trim() == s);
    let buyers: usize = env_or("BUYERS", 10_000);
    let holds: usize = env_or("HOLDS", 30_000);
    let connections: usize = env_or("CONNECTIONS", 256);
    let open_seconds: u32 = env_or("OPEN_SECONDS", 30);
    let read_seconds: u64 = env_or("READ_SECONDS", 10);
    let rates: Vec<u32> = std::env::var("OPEN_RATES")
        .unwrap_or_else(|_| "500,1000,1500,2000,2500".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let mut report = Report::default();
    let mut refs = References::default();
    report.line(format!(
        "# Flash sale over HTTP ({} cores, commit {})",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        std::env::var("GIT_COMMIT").unwrap_or_else(|_| "unknown".into())
    ));

    if wants("refs") {
        let seconds = env_or("PGBENCH_SECONDS", 10);
        refs.pgbench = server::pgbench(&pg, &[1, 16, 64], seconds)?;
        for (clients, tps) in &refs.pgbench {
            report.line(format!("reference: pgbench -N, {clients} clients: {tps:.0} transactions/s"));
        }
        let bare = server::BareAxum::start().await?;
        let (rate, mut tally) = load::reads(bare.addr, "/health", 64, read_seconds).await;
        report.line(format!(
            "reference: bare axum GET /health, 64 connections: {rate:.0} req/s; {}",
            tally.percentiles()
        ));
        refs.bare_axum = Some(rate);
    }

    let mut deployment = server::Deployment::new(&pg);
    let first = deployment.start_instance().await?;
    let events_url = deployment.events_url();
    let mut organiser = people::Organiser::sign_in(first, &deployment.outbox).await?;
    let tokens = Arc::new(people::sign_in_buyers(first, &deployment.outbox, buyers).await?);
    let pgbench16 = refs.pgbench.iter().find(|(c, _)| *c == 16).map(|(_, t)| *t);

    let mut closed_event = None;
    if wants("closed") {
        let event_id = organiser.event_on_sale("Closed loop", people::general("Floor", 100_000)).await?;
        let request = HoldRequest { event_id: event_id.clone(), section: "Floor".into(), quantity: 1, seats: None };
        // A short warm-up on another event: connections, caches and the JIT of PostgreSQL's plans.
        let warm = organiser.event_on_sale("Warm-up", people::general("Floor", 100_000)).await?;
        let warm_request = HoldRequest { event_id: warm, ..request.clone() };
        let _ = load::closed_loop(&[first], tokens.clone(), warm_request, connections, 2_000).await;
        let (mut run, spent) = cpu::per_hold_of(
            &deployment.pids(),
            load::closed_loop(&[first], tokens.clone(), request, connections, holds),
        )
        .await;
        let pid = deployment.instances.first().ok_or("no instance")?.pid();
        let (resident_kib, _) = server::Instance::footprint_of(pid);
        hold_line(&mut report, &format!("closed loop, {connections} buyers' connections, one instance"), &mut run);
        report.line(format!("  {spent}"));
        report.line(format!("  server resident memory after the run: {} MiB", resident_kib / 1024));
        if let Some(pg16) = pgbench16 {
            report
                .line(format!("  ratio: holds/s ÷ pgbench -N (16 clients) tps = {:.2}", run.holds_per_second() / pg16));
        }
        check(&mut report, &events_url, &event_id, &run).await?;
        settle(&mut report, &deployment).await?;
        closed_event = Some(event_id);
    }

    if wants("open") {
        let mut best = None;
        for &rate in &rates {
            let event_id =
                organiser.event_on_sale(&format!("Open loop {rate}/s"), people::general("Floor", 100_000)).await?;
            let request = HoldRequest { event_id: event_id.clone(), section: "Floor".into(), quantity: 1, seats: None };
            let mut run = load::open_loop(&[first], tokens.clone(), request, rate, open_seconds, 2_048).await;
            let p = run.tally.percentiles();
            report.line(format!(
                "open loop {rate}/s for {open_seconds} s: {} answers, {p}; answers: {}",
                run.tally.total(),
                run.tally.answers_text()
            ));
            check(&mut report, &events_url, &event_id, &run).await?;
            settle(&mut report, &deployment).await?;
            if p.p99 < std::time::Duration::from_millis(100) && run.tally.failures() == 0 {
                best = Some(rate);
            }
        }
        if let Some(rate) = best {
            report.line(format!("  highest rate tried with p99 < 100 ms: {rate}/s"));
        }
    }

    if wants("seats") {
        let event_id = organiser.event_on_sale("Fifty seats", people::numbered("Stalls", 5, 10)).await?;
        let contenders = 1_000.min(tokens.len());
        let labels: Vec<String> =
            ["A", "B", "C", "D", "E"].iter().flat_map(|r| (1..=10).map(move |n| format!("{r}-{n}"))).collect();
        let requests = (0..contenders)
            .map(|i| HoldRequest {
                event_id: event_id.clone(),
                section: "Stalls".into(),
                quantity: 1,
                seats: Some(vec![labels[i % labels.len()].clone()]),
            })
            .collect();
        let mut run = load::burst(first, tokens.clone(), requests).await;
        let p = run.tally.percentiles();
        report.line(format!(
            "numbered seats: {contenders} buyers at once for the same 50 seats: {} winners, last answer after {}; {p}; answers: {}",
            run.tally.count("201"),
            ms(run.elapsed),
            run.tally.answers_text()
        ));
        check(&mut report, &events_url, &event_id, &run).await?;
        settle(&mut report, &deployment).await?;
        if run.tally.count("201") != 50 {
            return Err("the fifty seats did not go to exactly fifty buyers".into());
        }
    }

    if wants("crowd") {
        let seconds = env_or("CROWD_SECONDS", 60);
        let event_id = organiser.event_on_sale("The crowd", people::general("Floor", 20_000)).await?;
        let instance = deployment.instances.first().ok_or("no instance")?;
        let pid = instance.pid();
        let footprint = move || server::Instance::footprint_of(pid);
        let people = Arc::new(tokens.iter().take(env_or("CROWD", 10_000)).cloned().collect::<Vec<_>>());
        let mut run = crowd::crowd(first, people.clone(), &event_id, "Floor", seconds, footprint).await;
        report.line(format!(
            "crowd: {} buyers ({} connections opened) for {seconds} s; server peak {} MiB resident, {} open files",
            people.len(),
            run.connected,
            run.peak_rss_kib / 1024,
            run.peak_fds
        ));
        for (name, tally) in &mut run.steps {
            let p = tally.percentiles();
            report.line(format!("  {name}: {} requests, {p}; answers: {}", tally.total(), tally.answers_text()));
        }
        let p = run.holds.tally.percentiles();
        report.line(format!(
            "  hold: {} requests, {p}; answers: {}",
            run.holds.tally.total(),
            run.holds.tally.answers_text()
        ));
        check(&mut report, &events_url, &event_id, &run.holds).await?;
        let verdict = checks::money(&events_url, &run.holds.wins, &run.paid).await?;
        report.line(format!("  money: {}", verdict.text()));
        if !verdict.violations.is_empty() {
            return Err("money was lost".into());
        }
        settle(&mut report, &deployment).await?;
    }

    if wants("sockets") {
        // What a watcher of the live availability feed costs the server: resident memory before
        // and after `SOCKETS` sockets (one per buyer) opened on one event.
        let count = env_or("SOCKETS", 2_000).min(tokens.len() as u64);
        let event_id = organiser.event_on_sale("Watched", people::general("Floor", 1_000)).await?;
        let pid = deployment.instances.first().ok_or("no instance")?.pid();
        let (before_kib, _) = server::Instance::footprint_of(pid);
        let messages = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let opened = std::time::Instant::now();
        // Returns once every socket has had its first snapshot.
        soak::sockets(first, &event_id, &tokens, 0..usize::try_from(count)?, messages).await?;
        let grown = growth(pid, before_kib, count, "socket");
        report.line(format!("sockets: {count} availability sockets opened in {}: {grown}", ms(opened.elapsed())));
        // And a buyer's idle keep-alive HTTP connection, after one answer.
        let (before_kib, _) = server::Instance::footprint_of(pid);
        let mut connections = Vec::new();
        for _ in 0..count {
            let mut conn = client::Conn::new(first);
            conn.get("/health", None).await?;
            connections.push(conn);
        }
        let grown = growth(pid, before_kib, count, "connection");
        report.line(format!("connections: {count} idle HTTP connections after one answer each: {grown}"));
        drop(connections);
    }

    if wants("soak") {
        let minutes = env_or("SOAK_MINUTES", 10);
        let instance = deployment.instances.first().ok_or("no instance")?;
        let (pid, metrics) = (instance.pid(), instance.metrics);
        let footprint = move || server::Instance::footprint_of(pid);
        let (by_minute, messages) =
            soak::soak(first, &mut organiser, tokens.clone(), metrics, minutes, footprint).await?;
        report.line(format!(
            "soak: {minutes} minutes of {} buyers a minute, 50 more availability sockets each minute ({messages} messages)",
            tokens.len()
        ));
        report.line(
            "| minute | requests | p99 ms | 5xx + transport errors | resident MiB | open files | stream writers |",
        );
        report.line("|---|---|---|---|---|---|---|");
        for (i, m) in by_minute.iter().enumerate() {
            report.line(format!(
                "| {} | {} | {:.0} | {} | {} | {} | {} |",
                i + 1,
                m.requests,
                m.p99_ms,
                m.failures,
                m.rss_kib / 1024,
                m.fds,
                m.writers.map_or_else(|| "?".to_owned(), |w| format!("{w:.0}"))
            ));
        }
    }

    if wants("reads") {
        // The bare handler again, just before /health: the load generator, which shares the two
        // cores, is itself slower after the crowd's 10,000 connections (a bigger, colder heap),
        // so the reference of the run's start would charge that to the server's layers.
        let bare = server::BareAxum::start().await?;
        let (bare_now, _) = load::reads(bare.addr, "/health", 64, read_seconds).await;
        drop(bare);
        report.line(format!("reference: bare axum GET /health, 64 connections, just before: {bare_now:.0} req/s"));
        let (health, mut tally) = load::reads(first, "/health", 64, read_seconds).await;
        report.line(format!("server GET /health, 64 connections: {health:.0} req/s; {}", tally.percentiles()));
        refs.health = Some(health);
        report.line(format!("  ratio: /health ÷ bare axum just before = {:.2}", health / bare_now));
        if let Some(bare) = refs.bare_axum {
            report.line(format!("  ratio: /health ÷ bare axum at the run's start = {:.2}", health / bare));
        }
        let event_id = match &closed_event {
            Some(id) => id.clone(),
            None => organiser.event_on_sale("Reads", people::general("Floor", 100_000)).await?,
        };
        let path = format!("/api/events/{event_id}/availability");
        let (rate, mut tally) = load::reads(first, &path, 64, read_seconds).await;
        report.line(format!(
            "GET availability, 64 connections: {rate:.0} req/s; {}; answers: {}; ratio to /health {:.2}",
            tally.percentiles(),
            tally.answers_text(),
            rate / health
        ));
        let numbered = organiser.event_on_sale("Seat map", people::numbered("Stalls", 20, 25)).await?;
        // Read once the read side shows it (else the first answers are 404s for a section it has
        // not projected yet).
        settle(&mut report, &deployment).await?;
        let path = format!("/api/events/{numbered}/sections/Stalls");
        let (rate, mut tally) = load::reads(first, &path, 64, read_seconds).await;
        report.line(format!(
            "GET section seat map (500 seats), 64 connections: {rate:.0} req/s; {}; answers: {}; ratio to /health {:.2}",
            tally.percentiles(),
            tally.answers_text(),
            rate / health
        ));
    }

    if wants("two") {
        let second = deployment.start_instance().await?;
        let event_id = organiser.event_on_sale("Two instances", people::general("Floor", 100_000)).await?;
        let request = HoldRequest { event_id: event_id.clone(), section: "Floor".into(), quantity: 1, seats: None };
        let (mut run, spent) = cpu::per_hold_of(
            &deployment.pids(),
            load::closed_loop(&[first, second], tokens.clone(), request, connections, holds),
        )
        .await;
        hold_line(&mut report, &format!("two instances, {connections} connections split across both"), &mut run);
        report.line(format!("  {spent}"));
        check(&mut report, &events_url, &event_id, &run).await?;
    }

    deployment.stop();
    deployment.drop_databases().await?;
    println!("{}", report.0);
    Ok(())
}
