//! Scrapes that never hang: hung servers, stopped servers, wrong passwords,
//! restarts, missing permissions, and a bounded number of connections.

mod support;

use std::time::{Duration, Instant};

use sidewatch_testkit::blackhole::Blackhole;
use sidewatch_testkit::Pgbouncer;
use support::*;

#[test]
fn blackhole_gives_up_0_within_the_deadline() {
    let hole = Blackhole::start();
    let dsn = format!("postgresql://mon@{}/postgres?sslmode=disable", hole.addr());
    let e = exporter_dsn(&dsn, &["--scrape.timeout=2s", "--pg.connect-timeout=1s"]);
    for _ in 0..3 {
        let started = Instant::now();
        let x = scrape(&e);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(x.value("pg_up", &[]), Some(0.0));
        assert_eq!(success(&x, "stat_database"), Some(0.0));
    }
    // Connection attempts do not pile up: each one is dropped at its timeout.
    assert!(
        hole.connections() <= 12,
        "{} connections",
        hole.connections()
    );
}

#[test]
fn stopped_server_gives_up_0_then_recovers() {
    let pg = postgres();
    let e = exporter(
        &pg,
        "postgres",
        &["--scrape.timeout=2s", "--pg.connect-timeout=1s"],
    );
    assert_eq!(scrape(&e).value("pg_up", &[]), Some(1.0));
    pg.pause();
    for _ in 0..2 {
        let started = Instant::now();
        let x = scrape(&e);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(x.value("pg_up", &[]), Some(0.0));
    }
    pg.resume();
    wait_for("pg_up 1 after SIGCONT", || {
        scrape(&e).value("pg_up", &[]) == Some(1.0)
    });
    // Abandoned connections were closed; only the live one remains.
    wait_for("old connections to go", || exporter_connections(&pg) <= 3);
}

#[test]
fn restarted_server_is_up_on_the_next_scrape() {
    let mut pg = postgres();
    let e = exporter(&pg, "postgres", &["--scrape.timeout=3s"]);
    assert_eq!(scrape(&e).value("pg_up", &[]), Some(1.0));
    pg.stop();
    let x = scrape(&e);
    assert_eq!(x.value("pg_up", &[]), Some(0.0));
    assert!(
        e.log().contains("Connection refused") || e.log().contains("connection"),
        "{}",
        e.log()
    );
    pg.restart();
    let x = scrape(&e);
    assert_eq!(x.value("pg_up", &[]), Some(1.0), "{}", e.log());
    assert_eq!(success(&x, "stat_database"), Some(1.0));
}

#[test]
fn wrong_password_is_up_0_and_never_logged() {
    let pg = postgres();
    pg.psql(
        "postgres",
        "CREATE ROLE mon LOGIN PASSWORD 'right-password' IN ROLE pg_monitor",
    );
    // Passwords are checked for everyone but the kit's own superuser.
    let hba = pg.data_dir().join("pg_hba.conf");
    std::fs::write(
        &hba,
        "host all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\nlocal all all trust\n",
    )
    .expect("write pg_hba.conf");
    pg.psql("postgres", "SELECT pg_reload_conf()");
    let secret = "Wr0ng-Secret-Pa55";
    let dsn = format!(
        "postgresql://mon:{secret}@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    );
    let e = exporter_dsn(&dsn, &[]);
    let text = scrape_text(&e);
    let x = sidewatch_testkit::Exposition::parse(&text);
    assert_eq!(x.value("pg_up", &[]), Some(0.0));
    let log = e.log();
    assert!(log.contains("password authentication failed"), "{log}");
    assert!(!log.contains(secret) && !text.contains(secret));
    let landing = sidewatch_testkit::http_get(&e.url("/")).expect("landing");
    assert!(!landing.contains(secret));
    // The right password, from DATA_SOURCE_PASS_FILE, works.
    let dir = tempfile::tempdir().expect("tmp");
    let pass = file(&dir, "pass", "right-password\n");
    let e = sidewatch_testkit::Exporter::start_unchecked_env(
        bin(),
        &[],
        &[
            (
                "DATA_SOURCE_URI",
                &format!("127.0.0.1:{}/postgres?sslmode=disable", pg.port),
            ),
            ("DATA_SOURCE_USER", "mon"),
            ("DATA_SOURCE_PASS_FILE", &pass),
        ],
    );
    assert!(e.wait_listening());
    assert_eq!(scrape(&e).value("pg_up", &[]), Some(1.0), "{}", e.log());
}

/// A query's own shorter timeout holds for that query alone: the queries
/// pipelined behind it on the same connection keep the session's.
/// Behind a pooler that hands each transaction to any server session and
/// resets it after, a prepared statement is gone when it is executed: that
/// is noticed once, the query runs as it is, and every scrape is whole.
#[test]
fn a_pooler_that_loses_prepared_statements_is_noticed() {
    let pg = postgres();
    pg.psql("postgres", "CREATE DATABASE limited CONNECTION LIMIT 7");
    let bouncer = Pgbouncer::start(
        &pg,
        "transaction",
        &[
            "server_reset_query = DISCARD ALL",
            "server_reset_query_always = 1",
        ],
    );
    let e = exporter_dsn(&bouncer.url("postgres"), &[]);
    for _ in 0..4 {
        let x = scrape(&e);
        assert_eq!(x.value("pg_up", &[]), Some(1.0), "{}", e.log());
        for collector in [
            "database",
            "locks",
            "stat_database",
            "stat_user_tables",
            "settings",
        ] {
            assert_eq!(
                success(&x, collector),
                Some(1.0),
                "{collector}: {}",
                e.log()
            );
        }
        assert_eq!(
            x.value("pg_database_connection_limit", &[("datname", "limited")]),
            Some(7.0)
        );
    }
    let log = e.log();
    assert_eq!(
        log.matches("queries run unprepared").count(),
        1,
        "{log}\n{}",
        bouncer.log()
    );
}

#[test]
fn a_query_timeout_does_not_outlive_its_query() {
    let pg = postgres();
    let dir = tempfile::tempdir().expect("tmp");
    let q = file(
        &dir,
        "q.yaml",
        "app_a_short:\n  query: SELECT 1 AS x\n  timeout: 200ms\n  metrics:\n    - x: {usage: GAUGE, description: x}\n\
         app_b_cut:\n  query: SELECT 1 AS x FROM pg_sleep(1)\n  timeout: 200ms\n  metrics:\n    - x: {usage: GAUGE, description: x}\n\
         app_c_after:\n  query: SELECT 3 AS x FROM pg_sleep(0.5)\n  metrics:\n    - x: {usage: GAUGE, description: x}\n",
    );
    let e = exporter(
        &pg,
        "postgres",
        &[
            &format!("--extend.query-path={q}"),
            "--pg.max-connections=1",
            "--disable-default-metrics",
            "--disable-settings-metrics",
        ],
    );
    for _ in 0..3 {
        let x = scrape(&e);
        assert_eq!(success(&x, "app_a_short"), Some(1.0), "{}", e.log());
        assert_eq!(success(&x, "app_b_cut"), Some(0.0), "{}", e.log());
        assert_eq!(x.value("app_c_after_x", &[]), Some(3.0), "{}", e.log());
    }
    assert!(e.log().contains("statement timeout"), "{}", e.log());
}

#[test]
fn statement_timeout_fails_only_the_slow_collector() {
    let pg = postgres();
    let dir = tempfile::tempdir().expect("tmp");
    let q = file(
        &dir,
        "q.yaml",
        "app_slow:\n  query: SELECT 1 AS x FROM pg_sleep(10)\n  metrics:\n    - x: {usage: GAUGE, description: x}\napp_fast:\n  query: SELECT 2 AS x\n  metrics:\n    - x: {usage: GAUGE, description: x}\n",
    );
    let e = exporter(
        &pg,
        "postgres",
        &[
            &format!("--extend.query-path={q}"),
            "--pg.statement-timeout=1s",
        ],
    );
    let started = Instant::now();
    let x = scrape(&e);
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(success(&x, "app_slow"), Some(0.0));
    assert_eq!(x.value("app_fast_x", &[]), Some(2.0));
    assert_eq!(x.value("pg_up", &[]), Some(1.0));
    assert!(e.log().contains("statement timeout"), "{}", e.log());
    // The server cancelled it: nothing of ours is still running.
    wait_for("no pg_sleep left", || {
        number(&pg, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(10)%' AND state = 'active' AND pid <> pg_backend_pid()") == 0.0
    });
}

#[test]
fn pg_monitor_role_is_enough_and_missing_grants_fail_alone() {
    let pg = postgres();
    pg.psql("postgres", "CREATE ROLE mon LOGIN IN ROLE pg_monitor");
    pg.psql(
        "postgres",
        "CREATE TABLE secret_table (x int); INSERT INTO secret_table VALUES (1)",
    );
    let dir = tempfile::tempdir().expect("tmp");
    let q = file(
        &dir,
        "q.yaml",
        "app_secret:\n  query: SELECT count(*) AS n FROM secret_table\n  metrics:\n    - n: {usage: GAUGE, description: n}\n",
    );
    let dsn = format!(
        "postgresql://mon@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    );
    let e = exporter_dsn(&dsn, &[&format!("--extend.query-path={q}")]);
    let x = scrape(&e);
    assert_eq!(x.value("pg_up", &[]), Some(1.0));
    for (labels, ok) in x.samples("pg_scrape_collector_success") {
        let c = labels.get("collector").cloned().unwrap_or_default();
        let want = if c == "app_secret" { 0.0 } else { 1.0 };
        assert_eq!(ok, want, "{c}\n{}", e.log());
    }
    assert!(
        e.log().contains("permission denied for table secret_table"),
        "{}",
        e.log()
    );
    assert_eq!(
        x.value("pg_database_size_bytes", &[("datname", "template0")]),
        Some(number(
            &pg,
            "postgres",
            "SELECT pg_database_size('template0')"
        ))
    );
    assert!(x.value("pg_wal_size_bytes", &[]).is_some());
}

#[test]
fn connections_stay_bounded_under_many_scrapes() {
    let pg = postgres();
    let e = exporter(&pg, "postgres", &["--pg.max-connections=3"]);
    let url = e.url("/metrics");
    for i in 0..300 {
        sidewatch_testkit::http_get(&url).expect("scrape");
        if i % 50 == 0 {
            assert!(exporter_connections(&pg) <= 3);
        }
    }
    let threads: Vec<_> = (0..20)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || sidewatch_testkit::http_get(&url).map(|b| b.len()))
        })
        .collect();
    for t in threads {
        assert!(t.join().expect("thread").is_ok());
    }
    let n = exporter_connections(&pg);
    assert!((1..=3).contains(&n), "{n} connections");
    // Concurrent scrapes shared collections rather than each running one.
    let x = scrape(&e);
    assert_eq!(x.value("pg_up", &[]), Some(1.0));
}
