//! sidewatch-postgres against real PostgreSQL: values equal the server's own
//! answers, every database, custom queries, config errors, /probe, scale.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use sidewatch_testkit::postgres::pg16_bin_dir;
use sidewatch_testkit::{http_get, http_get_query, wait_until, Exposition, Postgres};
use support::*;

/// The settings are read once per session and kept while the session's
/// server process has not read its configuration again: a reload is seen on
/// the next scrapes, and statement_timeout is the server's, not the one
/// sidewatch sets on its own queries.
#[test]
fn settings_are_kept_until_the_configuration_is_read_again() {
    let pg = postgres();
    pg.psql("postgres", "CREATE EXTENSION pg_stat_statements");
    pg.psql("postgres", "ALTER SYSTEM SET statement_timeout = '45s'");
    pg.psql("postgres", "ALTER SYSTEM SET work_mem = '5MB'");
    pg.psql("postgres", "SELECT pg_reload_conf()");
    let e = exporter(&pg, "postgres", &[]);
    let server = |name: &str| {
        number(
            &pg,
            "postgres",
            &format!("SELECT setting FROM pg_settings WHERE name = '{name}'"),
        )
    };
    let work_mem = |x: &Exposition| x.value("pg_settings_work_mem_bytes", &[]);
    let x = Exposition::parse(&scrape_text(&e));
    assert_eq!(
        x.value("pg_settings_statement_timeout_seconds", &[]),
        Some(server("statement_timeout") / 1000.0)
    );
    assert_eq!(work_mem(&x), Some(5.0 * 1024.0 * 1024.0));
    // Further scrapes answer from what was kept: pg_settings is read at
    // most once more per connection (two to the main database).
    let reads = || {
        number(
            &pg,
            "postgres",
            "SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements \
             WHERE query LIKE '%reset_val ELSE setting%' AND query NOT LIKE '%pg_stat_statements%'",
        )
    };
    let before = reads();
    for _ in 0..6 {
        let x = Exposition::parse(&scrape_text(&e));
        assert_eq!(work_mem(&x), Some(5.0 * 1024.0 * 1024.0));
        assert_eq!(x.value("pg_settings_max_connections", &[]), Some(50.0));
    }
    let kept = reads() - before;
    assert!(kept <= 2.0, "pg_settings read {kept} times in 6 scrapes");
    // A reload: every server process reads the configuration again, and the
    // next scrapes say so.
    pg.psql("postgres", "ALTER SYSTEM SET work_mem = '7MB'");
    pg.psql("postgres", "SELECT pg_reload_conf()");
    assert!(
        wait_until(Duration::from_secs(20), || {
            work_mem(&Exposition::parse(&scrape_text(&e))) == Some(7.0 * 1024.0 * 1024.0)
        }),
        "the reload was not seen:\n{}",
        scrape_text(&e)
    );
}

/// Queries are prepared once per connection: the server plans each on the
/// first scrape and runs that plan on the next ones. With
/// `--no-pg.prepare` it plans every one every time.
#[test]
fn queries_are_planned_once_per_connection() {
    let pg = postgres();
    pg.psql("postgres", "CREATE EXTENSION pg_stat_statements");
    pg.psql(
        "postgres",
        "ALTER SYSTEM SET pg_stat_statements.track_planning = on",
    );
    pg.psql("postgres", "SELECT pg_reload_conf()");
    pg.psql("postgres", "CREATE DATABASE app CONNECTION LIMIT 7");
    let counts = |query: &str| {
        let out = pg.psql(
            "postgres",
            &format!(
                "SELECT COALESCE(sum(plans), 0) || ' ' || COALESCE(sum(calls), 0) \
                 FROM pg_stat_statements WHERE query LIKE '%{query}%' \
                 AND query NOT LIKE '%pg_stat_statements%'"
            ),
        );
        let (plans, calls) = out.trim().split_once(' ').expect("two numbers");
        (
            plans.parse::<f64>().expect("plans"),
            calls.parse::<f64>().expect("calls"),
        )
    };
    for prepare in [true, false] {
        pg.psql("postgres", "SELECT pg_stat_statements_reset()");
        let args: &[&str] = if prepare { &[] } else { &["--no-pg.prepare"] };
        let e = exporter(&pg, "postgres", args);
        for _ in 0..6 {
            let x = scrape(&e);
            assert_eq!(success(&x, "database"), Some(1.0), "{}", e.log());
            assert_eq!(success(&x, "stat_database"), Some(1.0), "{}", e.log());
            assert_eq!(
                x.value("pg_database_connection_limit", &[("datname", "app")]),
                Some(7.0)
            );
        }
        for query in [
            "FROM pg_stat_database_conflicts",
            "datconnlimit AS connection_limit",
        ] {
            let (plans, calls) = counts(query);
            assert_eq!(calls, 6.0, "{query}");
            if prepare {
                // Once per connection to the database (two lanes at most).
                assert!(plans <= 2.0, "{query}: planned {plans} times in 6 scrapes");
            } else {
                assert_eq!(plans, 6.0, "{query}");
            }
        }
        assert!(!e.log().contains("unprepared"), "{}", e.log());
    }
}

#[test]
fn values_equal_the_servers_answers() {
    let pg = postgres();
    pg.psql("postgres", "CREATE DATABASE app");
    // Two more, with limits of their own.
    pg.psql("postgres", "CREATE DATABASE limited_a CONNECTION LIMIT 7");
    pg.psql("postgres", "CREATE DATABASE limited_b CONNECTION LIMIT 9");
    // No autovacuum on t: an ANALYZE that ran while the DELETE was in flight
    // would set n_live_tup to its own count (100) after the DELETE's stats
    // had made it 70 (seen once in CI).
    pg.psql(
        "app",
        "CREATE TABLE t (id int primary key, v text) WITH (autovacuum_enabled = false)",
    );
    pg.psql(
        "app",
        "INSERT INTO t SELECT g, 'x' FROM generate_series(1, 100) g",
    );
    pg.psql("app", "DELETE FROM t WHERE id <= 30");
    pg.psql("app", "UPDATE t SET v = 'y' WHERE id <= 40");
    let e = exporter(&pg, "app", &[]);
    let text = scrape_text(&e);
    let x = Exposition::parse(&text);

    assert_eq!(x.value("pg_up", &[]), Some(1.0));
    assert_eq!(
        x.value("pg_database_size_bytes", &[("datname", "app")]),
        Some(number(&pg, "app", "SELECT pg_database_size('app')"))
    );
    // Every database once, with its own limit and size.
    let databases = pg.psql(
        "app",
        "SELECT datname || '|' || datconnlimit FROM pg_database",
    );
    for line in databases.lines() {
        let [name, limit] = line.split('|').collect::<Vec<_>>()[..] else {
            panic!("psql gave {line:?}");
        };
        assert_eq!(
            x.value("pg_database_connection_limit", &[("datname", name)]),
            Some(limit.parse::<f64>().expect("datconnlimit")),
            "{name}"
        );
        if name.starts_with("limited_") {
            assert_eq!(
                x.value("pg_database_size_bytes", &[("datname", name)]),
                Some(number(
                    &pg,
                    "app",
                    &format!("SELECT pg_database_size('{name}')")
                )),
                "{name}"
            );
        }
    }
    assert_eq!(
        x.samples("pg_database_connection_limit").len(),
        databases.lines().count(),
        "{text}"
    );
    assert_eq!(
        x.value("pg_settings_max_connections", &[]),
        Some(number(&pg, "app", "SHOW max_connections"))
    );
    assert_eq!(
        x.value("pg_settings_shared_buffers_bytes", &[]),
        Some(number(
            &pg,
            "app",
            "SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'"
        ))
    );
    assert_eq!(
        x.value("pg_settings_fsync", &[]),
        Some(0.0),
        "testkit runs with fsync=off"
    );
    let t = [
        ("datname", "app"),
        ("schemaname", "public"),
        ("relname", "t"),
    ];
    assert_eq!(x.value("pg_stat_user_tables_n_tup_ins", &t), Some(100.0));
    assert_eq!(x.value("pg_stat_user_tables_n_tup_del", &t), Some(30.0));
    assert_eq!(x.value("pg_stat_user_tables_n_tup_upd", &t), Some(10.0));
    assert_eq!(x.value("pg_stat_user_tables_n_live_tup", &t), Some(70.0));
    assert_eq!(
        x.value("pg_stat_user_tables_table_size_bytes", &t),
        Some(number(&pg, "app", "SELECT pg_table_size('t')"))
    );
    assert_eq!(
        x.value("pg_stat_database_tup_inserted", &[("datname", "app")]),
        Some(number(
            &pg,
            "app",
            "SELECT tup_inserted FROM pg_stat_database WHERE datname = 'app'"
        ))
    );
    assert!(x
        .value("pg_statio_user_tables_heap_blocks_hit", &t)
        .is_some());
    assert_eq!(
        x.value("pg_wal_segments", &[]),
        Some(number(&pg, "app", "SELECT count(*) FROM pg_ls_waldir()"))
    );
    let version = pg.psql("app", "SELECT version()");
    let num = number(&pg, "app", "SHOW server_version_num") as u32;
    let short = format!("{}.{}.0", num / 10_000, num % 10_000);
    assert_eq!(
        x.value("pg_static", &[("short_version", &short)]),
        Some(1.0)
    );
    assert!(
        text.contains(&format!("version=\"{version}\"")),
        "pg_static carries version()"
    );
    // Every default collector answered.
    for (labels, v) in x.samples("pg_scrape_collector_success") {
        assert_eq!(v, 1.0, "{labels:?}\n{}", e.log());
    }
    // Types as the peer's: counters without _total are counters in text 0.0.4.
    assert_eq!(
        x.types.get("pg_stat_database_blks_hit").map(String::as_str),
        Some("counter")
    );
    assert_eq!(
        x.types
            .get("pg_stat_database_active_time")
            .map(String::as_str),
        Some("untyped")
    );
}

#[test]
fn every_database_once_with_datname() {
    let pg = postgres();
    for (db, rows) in [("a", 3), ("b", 5), ("c", 7)] {
        pg.psql("postgres", &format!("CREATE DATABASE {db}"));
        pg.psql(db, "CREATE TABLE items (id int)");
        pg.psql(
            db,
            &format!("INSERT INTO items SELECT generate_series(1, {rows})"),
        );
    }
    let dir = tempfile::tempdir().expect("tmp");
    let queries = file(
        &dir,
        "q.yaml",
        "app_items:\n  all_databases: true\n  query: SELECT count(*) AS rows FROM items\n  metrics:\n    - rows:\n        usage: GAUGE\n        description: rows in items\n",
    );
    let e = exporter(
        &pg,
        "postgres",
        &[
            "--auto-discover-databases",
            "--exclude-databases=c",
            "--pg.max-connections=2",
            &format!("--extend.query-path={queries}"),
        ],
    );
    let text = scrape_text(&e);
    let x = Exposition::parse(&text);
    for (db, rows) in [("a", 3.0), ("b", 5.0)] {
        let t = [("datname", db), ("relname", "items")];
        assert_eq!(
            x.value("pg_stat_user_tables_n_tup_ins", &t),
            Some(rows),
            "{db}\n{}",
            e.log()
        );
        assert_eq!(
            x.value("app_items_rows", &[("datname", db)]),
            Some(rows),
            "{db}"
        );
    }
    assert!(x
        .value("pg_stat_user_tables_n_tup_ins", &[("datname", "c")])
        .is_none());
    assert!(x.value("app_items_rows", &[("datname", "c")]).is_none());
    // The DSN's database has no items table: that database fails alone.
    assert_eq!(success(&x, "app_items"), Some(1.0));
    // No series twice.
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit_once(' ').map(|p| p.0).unwrap_or(l))
        .collect();
    let n = lines.len();
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(lines.len(), n, "duplicate series");
    // Three databases visited with at most two connections.
    for _ in 0..5 {
        scrape(&e);
        assert!(exporter_connections(&pg) <= 2);
    }
}

const CUSTOM: &str = r#"
app_good:
  query: "SELECT 'a' AS kind, count(*) AS n, 'up' AS state, '1m30s' AS age FROM t"
  cache_seconds: 0
  metrics:
    - kind: {usage: LABEL, description: "kind"}
    - n: {usage: COUNTER, description: "rows"}
    - state: {usage: MAPPEDMETRIC, description: "state", mapping: {up: 1, down: 0}}
    - age: {usage: DURATION, description: "age"}
app_syntax:
  query: "SELEC 1 AS x"
  metrics:
    - x: {usage: GAUGE, description: "x"}
app_missing:
  query: "SELECT x FROM no_such_table"
  metrics:
    - x: {usage: GAUGE, description: "x"}
app_slow:
  query: "SELECT 1 AS x FROM pg_sleep(5)"
  timeout: 300ms
  metrics:
    - x: {usage: GAUGE, description: "x"}
app_capped:
  query: "SELECT g::text AS id, g AS v FROM generate_series(1, 50) g"
  max_series: 10
  metrics:
    - id: {usage: LABEL, description: "id"}
    - v: {usage: GAUGE, description: "v"}
app_cached:
  query: "SELECT count(*) AS n FROM t"
  cache_seconds: 3600
  metrics:
    - n: {usage: GAUGE, description: "cached rows"}
"#;

#[test]
fn broken_custom_queries_fail_alone() {
    let pg = postgres();
    pg.psql(
        "postgres",
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2), (3)",
    );
    let dir = tempfile::tempdir().expect("tmp");
    let q = file(&dir, "queries.yaml", CUSTOM);
    let e = exporter(
        &pg,
        "postgres",
        &[&format!("--extend.query-path={q}"), "--scrape.timeout=3s"],
    );
    let started = Instant::now();
    let x = scrape(&e);
    assert!(started.elapsed() < Duration::from_secs(5));
    let k = [("kind", "a")];
    assert_eq!(x.value("app_good_n", &k), Some(3.0));
    assert_eq!(
        x.types.get("app_good_n").map(String::as_str),
        Some("counter")
    );
    assert_eq!(x.value("app_good_state", &k), Some(1.0));
    assert_eq!(x.value("app_good_age_milliseconds", &k), Some(90_000.0));
    assert_eq!(success(&x, "app_good"), Some(1.0));
    for broken in ["app_syntax", "app_missing", "app_slow"] {
        assert_eq!(success(&x, broken), Some(0.0), "{broken}");
    }
    assert_eq!(x.samples("app_capped_v").len(), 10);
    // Built-in collectors are unaffected.
    assert_eq!(success(&x, "stat_database"), Some(1.0));
    assert_eq!(x.value("pg_up", &[]), Some(1.0));
    let log = e.log();
    assert!(
        log.contains("app_syntax") && log.contains("syntax error"),
        "{log}"
    );
    assert!(log.contains("no_such_table"), "{log}");
    assert!(
        log.contains("canceling statement due to statement timeout"),
        "{log}"
    );
    assert!(log.contains("max_series"), "{log}");
    // cache_seconds: a cached result does not see new rows.
    assert_eq!(x.value("app_cached_n", &[]), Some(3.0));
    pg.psql("postgres", "INSERT INTO t VALUES (4)");
    let x = scrape(&e);
    assert_eq!(x.value("app_cached_n", &[]), Some(3.0));
    assert_eq!(x.value("app_good_n", &k), Some(4.0));
}

#[test]
fn bad_configuration_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = file(&dir, "bad.yaml", "ok:\n  query: SELECT 1 AS x\n  metrics:\n    - x:\n        usage: GAUGE\nbroken:\n  query: SELECT 1\n  metrics:\n    - y:\n        usage: SOMETIMES\n");
    let good = file(&dir, "good.yaml", CUSTOM);
    let run = |args: &[&str], dsn: &str| {
        Command::new(bin())
            .args(args)
            .env("DATA_SOURCE_NAME", dsn)
            .output()
            .expect("run")
    };
    let dsn = "postgresql://u@127.0.0.1:1/db";
    let out = run(
        &["--config.check", &format!("--extend.query-path={bad}")],
        dsn,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{bad}:10:")) && err.contains("SOMETIMES"),
        "{err}"
    );
    // The same file refuses to start the server too.
    let out = run(&[&format!("--extend.query-path={bad}")], dsn);
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        &["--config.check", &format!("--extend.query-path={good}")],
        dsn,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A bad DSN names the variable, never the password.
    let out = run(
        &["--config.check"],
        "host=h port=oops password=hunter2secret",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DATA_SOURCE_NAME") && !err.contains("hunter2secret"),
        "{err}"
    );
    let out = run(
        &["--config.check", "--extend.query-path=/nonexistent.yaml"],
        dsn,
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn probe_scrapes_another_server_with_an_auth_module() {
    let pg = postgres();
    pg.psql(
        "postgres",
        "CREATE ROLE mon LOGIN PASSWORD 'pw' IN ROLE pg_monitor",
    );
    let dir = tempfile::tempdir().expect("tmp");
    // One module with the password inline, one with it in a file (a
    // mounted Secret).
    let secret = file(&dir, "mon-password", "pw\n");
    let cfg = file(
        &dir,
        "postgres_exporter.yml",
        &format!("auth_modules:\n  mon:\n    type: userpass\n    userpass:\n      username: mon\n      password: pw\n    options:\n      sslmode: disable\n  mon_file:\n    type: userpass\n    userpass:\n      username: mon\n      password_file: {secret}\n    options:\n      sslmode: disable\n"),
    );
    // No DATA_SOURCE_NAME: /probe only.
    let e = sidewatch_testkit::Exporter::start_unchecked(bin(), &[&format!("--config.file={cfg}")]);
    assert!(e.wait_listening());
    let target = format!("127.0.0.1:{}/postgres", pg.port);
    let body = http_get_query(
        &e.url("/probe"),
        &[("target", &target), ("auth_module", "mon")],
    )
    .expect("probe");
    let x = Exposition::parse(&body);
    assert_eq!(x.value("pg_up", &[]), Some(1.0));
    let from_file = http_get_query(
        &e.url("/probe"),
        &[("target", &target), ("auth_module", "mon_file")],
    )
    .expect("probe");
    assert_eq!(Exposition::parse(&from_file).value("pg_up", &[]), Some(1.0));
    assert_eq!(
        x.value("pg_database_size_bytes", &[("datname", "postgres")]),
        Some(number(
            &pg,
            "postgres",
            "SELECT pg_database_size('postgres')"
        ))
    );
    let unknown = http_get_query(
        &e.url("/probe"),
        &[("target", &target), ("auth_module", "nope")],
    );
    assert!(unknown.is_err_and(|s| s.contains("400")));
    // The probe's connection is closed afterwards.
    wait_for("probe connection to close", || {
        number(
            &pg,
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'mon'",
        ) == 0.0
    });
    // /metrics still answers, with no target.
    assert!(http_get(&e.url("/metrics")).is_ok());
}

#[test]
fn two_thousand_tables_stay_within_deadline_and_cap() {
    let pg = postgres();
    pg.psql(
        "postgres",
        "DO $$ BEGIN FOR i IN 1..2000 LOOP EXECUTE format('CREATE TABLE t%s (id int)', i); END LOOP; END $$",
    );
    let e = exporter(
        &pg,
        "postgres",
        &["--scrape.timeout=8s", "--scrape.series-limit=20000"],
    );
    let started = Instant::now();
    let x = scrape(&e);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(9), "scrape took {took:?}");
    assert_eq!(success(&x, "stat_user_tables"), Some(1.0), "{}", e.log());
    // 2,000 tables x 21 families = 42,000 series: the cap keeps 20,000.
    let kept: usize = x
        .scrape
        .samples
        .iter()
        .filter(|s| s.metric.starts_with("pg_stat_user_tables_"))
        .count();
    assert_eq!(kept, 20_000);
    assert_eq!(
        x.value(
            "pg_scrape_collector_dropped_series_total",
            &[("collector", "stat_user_tables")]
        ),
        Some(22_000.0)
    );
    let d = x
        .value(
            "pg_scrape_collector_duration_seconds",
            &[("collector", "stat_user_tables")],
        )
        .unwrap_or(f64::NAN);
    println!(
        "2000 tables: scrape {took:?}, stat_user_tables {d:.3}s, {} series",
        x.scrape.samples.len()
    );
}

#[test]
fn postgres_16_from_the_wheel() {
    let pg = Postgres::start_with(&pg16_bin_dir(), &[]);
    pg.psql("postgres", "CREATE EXTENSION vector");
    pg.psql(
        "postgres",
        "CREATE TABLE items (id int, embedding vector(4))",
    );
    pg.psql(
        "postgres",
        "INSERT INTO items SELECT g, ARRAY[g, g, g, g]::vector FROM generate_series(1, 200) g",
    );
    pg.psql(
        "postgres",
        "CREATE INDEX items_hnsw ON items USING hnsw (embedding vector_l2_ops)",
    );
    let e = exporter(&pg, "postgres", &[]);
    let x = scrape(&e);
    assert_eq!(x.value("pg_up", &[]), Some(1.0));
    let v = number(&pg, "postgres", "SHOW server_version_num");
    assert!((160_000.0..170_000.0).contains(&v));
    for (labels, ok) in x.samples("pg_scrape_collector_success") {
        assert_eq!(ok, 1.0, "{labels:?}\n{}", e.log());
    }
    let version = pg.psql(
        "postgres",
        "SELECT extversion FROM pg_extension WHERE extname = 'vector'",
    );
    assert!(version.starts_with("0.6"), "{version}");
    assert_eq!(
        x.value(
            "pg_vector_extension_info",
            &[("extension", "vector"), ("version", &version)]
        ),
        Some(1.0)
    );
    assert_eq!(
        x.value(
            "pg_vector_index_size_bytes",
            &[("indexrelname", "items_hnsw"), ("method", "hnsw")]
        ),
        Some(number(
            &pg,
            "postgres",
            "SELECT pg_relation_size('items_hnsw')"
        ))
    );
    assert_eq!(
        x.value(
            "pg_vector_column_dimensions",
            &[("relname", "items"), ("attname", "embedding")]
        ),
        Some(4.0)
    );
    assert!(x
        .value("pg_stat_bgwriter_checkpoints_timed_total", &[])
        .is_some());
    assert!(x
        .value(
            "pg_stat_database_conflicts_confl_active_logicalslot",
            &[("datname", "postgres")]
        )
        .is_some());
}

/// The README's collector table lists exactly the declared collectors with
/// their defaults, in declaration order.
#[test]
fn readme_lists_every_declared_collector() {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("## sidewatch-postgres")
        .nth(1)
        .and_then(|s| s.split("### Collectors and metric families").nth(1))
        .and_then(|s| s.split("\n## ").next())
        .expect("postgres collectors section");
    let listed: Vec<(String, bool)> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| {
            let mut cells = l.split(" | ");
            Some((cells.next()?.to_owned(), cells.next()?.to_owned()))
        })
        .filter(|(n, d)| d == "on" || d == "off" || n == "collector")
        .filter(|(n, _)| n != "collector")
        .map(|(n, d)| (n, d == "on"))
        .collect();
    let declared: Vec<(String, bool)> = sidewatch_postgres::collectors::specs()
        .iter()
        .map(|s| (s.name.to_owned(), s.default_enabled))
        .collect();
    assert_eq!(listed, declared);
}

/// Today's peer puts `server` only on its legacy maps' families;
/// `--compat.server-label` puts it everywhere, as postgres_exporter 0.11 did.
#[test]
fn server_label_as_today_and_as_before() {
    let pg = postgres();
    let server = format!("127.0.0.1:{}", pg.port);
    let size = number(&pg, "postgres", "SELECT pg_database_size('postgres')");
    let today = scrape(&exporter(&pg, "postgres", &[]));
    let old = scrape(&exporter(&pg, "postgres", &["--compat.server-label"]));
    let today_labels = today.label_names();
    let old_labels = old.label_names();
    for (name, legacy) in [
        ("pg_database_size_bytes", false),
        ("pg_locks_count", false),
        ("pg_roles_connection_limit", false),
        ("pg_settings_max_connections", true),
        ("pg_static", true),
        ("pg_stat_activity_count", true),
        ("pg_stat_database_conflicts_confl_lock", true),
    ] {
        assert_eq!(
            today_labels[name].contains("server"),
            legacy,
            "{name}: {:?}",
            today_labels[name]
        );
        assert!(old_labels[name].contains("server"), "{name}");
    }
    let near = |v: Option<f64>| v.is_some_and(|v| (v - size).abs() <= size * 0.01);
    assert!(near(old.value(
        "pg_database_size_bytes",
        &[("datname", "postgres"), ("server", &server)]
    )));
    assert!(near(
        today.value("pg_database_size_bytes", &[("datname", "postgres")])
    ));
    // Roles: the server's own connection limits.
    pg.psql("postgres", "CREATE ROLE limited CONNECTION LIMIT 7");
    let again = scrape(&exporter(&pg, "postgres", &[]));
    assert_eq!(
        again.value("pg_roles_connection_limit", &[("rolname", "limited")]),
        Some(7.0)
    );
    assert_eq!(
        again.value("pg_roles_connection_limit", &[("rolname", "postgres")]),
        Some(number(
            &pg,
            "postgres",
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'postgres'"
        ))
    );
}

/// TLS to a server with `ssl=on` that refuses every connection without it:
/// libpq's sslmodes, a CA file, client certificates under a `cert` rule, in
/// the URI and key=value forms and through a /probe auth module. A refused
/// certificate is `pg_up 0` and one log line saying why.
#[test]
fn tls_to_postgres_as_libpq_does_it() {
    use sidewatch_testkit::certs::TestCerts;
    let dir = tempfile::tempdir().expect("tmp");
    let certs = TestCerts::create(dir.path());
    let other_dir = tempfile::tempdir().expect("tmp");
    let other = TestCerts::create(other_dir.path());
    let pg = Postgres::start_tls(
        &certs,
        "local all all trust\n\
         hostnossl all all 127.0.0.1/32 reject\n\
         hostssl all prometheus 127.0.0.1/32 cert\n\
         hostssl all all 127.0.0.1/32 trust\n",
    );
    pg.psql(
        "postgres",
        "CREATE ROLE prometheus LOGIN IN ROLE pg_monitor",
    );
    let port = pg.port;
    let ca = certs.path("ca.crt");
    let max_connections = number(&pg, "postgres", "SHOW max_connections");
    let url = |host: &str, user: &str, query: &str| {
        format!("postgresql://{user}@{host}:{port}/postgres?{query}")
    };
    let client = format!(
        "sslcert={}&sslkey={}",
        certs.path("client.crt"),
        certs.path("client.key")
    );
    let up = [
        ("require: encrypted, certificate not checked", url("127.0.0.1", "postgres", "sslmode=require")),
        ("prefer (libpq's default) takes TLS when offered", url("127.0.0.1", "postgres", "")),
        ("verify-full", url("127.0.0.1", "postgres", &format!("sslmode=verify-full&sslrootcert={ca}"))),
        ("verify-ca does not check the host name", url("localhost", "postgres", &format!("sslmode=verify-ca&sslrootcert={ca}"))),
        ("cert rule admits the client certificate", url("127.0.0.1", "prometheus", &format!("sslmode=verify-full&sslrootcert={ca}&{client}"))),
        ("key=value form", format!("host=127.0.0.1 port={port} user=prometheus dbname=postgres sslmode=verify-full sslrootcert='{ca}' sslcert='{}' sslkey='{}'", certs.path("client.crt"), certs.path("client.key"))),
    ];
    for (what, dsn) in &up {
        let e = exporter_dsn(dsn, &[]);
        let x = scrape(&e);
        assert_eq!(x.value("pg_up", &[]), Some(1.0), "{what}: {}", e.log());
        assert_eq!(
            x.value(
                "pg_settings_max_connections",
                &[("server", &format!("127.0.0.1:{port}"))]
            )
            .or_else(|| x.value(
                "pg_settings_max_connections",
                &[("server", &format!("localhost:{port}"))]
            )),
            Some(max_connections),
            "{what}"
        );
    }
    // Every TCP session the exporters held was TLS (the hba rejects others,
    // and the server's own view agrees).
    assert_eq!(
        pg.psql(
            "postgres",
            "SELECT count(*) FILTER (WHERE NOT s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.client_addr IS NOT NULL"
        )
        .trim(),
        "0"
    );
    let down = [
        (
            "verify-full, wrong host name",
            url(
                "localhost",
                "postgres",
                &format!("sslmode=verify-full&sslrootcert={ca}"),
            ),
            "not valid for name",
        ),
        (
            "verify-full, unknown CA",
            url(
                "127.0.0.1",
                "postgres",
                &format!("sslmode=verify-full&sslrootcert={}", other.path("ca.crt")),
            ),
            "invalid peer certificate",
        ),
        (
            "disable against hostnossl reject",
            url("127.0.0.1", "postgres", "sslmode=disable"),
            "no encryption",
        ),
        (
            "cert rule without a certificate",
            url(
                "127.0.0.1",
                "prometheus",
                &format!("sslmode=verify-full&sslrootcert={ca}"),
            ),
            "certificate",
        ),
    ];
    for (what, dsn, why) in &down {
        let e = exporter_dsn(dsn, &[]);
        let x = scrape(&e);
        assert_eq!(x.value("pg_up", &[]), Some(0.0), "{what}");
        let log = e.log();
        let errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("level=error") || l.contains("level=warn"))
            .collect();
        assert_eq!(
            errors.len(),
            1,
            "{what}: one line per failed scrape:\n{log}"
        );
        assert!(errors[0].contains(why), "{what}: {why:?} in {}", errors[0]);
    }
    // /probe: the TLS files come from the auth module, never the request.
    let conf = format!(
        "auth_modules:\n  tls:\n    type: userpass\n    userpass:\n      username: prometheus\n    options:\n      sslmode: verify-full\n      sslrootcert: {ca}\n      sslcert: {}\n      sslkey: {}\n",
        certs.path("client.crt"),
        certs.path("client.key")
    );
    let conf_file = dir.path().join("exporter.yml");
    std::fs::write(&conf_file, conf).expect("write");
    let e = sidewatch_testkit::Exporter::start_unchecked_env(
        bin(),
        &[&format!("--config.file={}", conf_file.display())],
        &[],
    );
    assert!(e.wait_listening(), "{}", e.log());
    let target = format!("127.0.0.1:{port}/postgres");
    let text = sidewatch_testkit::http_get_query(
        &e.url("/probe"),
        &[("target", &target), ("auth_module", "tls")],
    )
    .expect("probe");
    let x = sidewatch_testkit::Exposition::parse(&text);
    assert_eq!(x.value("pg_up", &[]), Some(1.0), "{}", e.log());
    let refused = sidewatch_testkit::http_get_query(
        &e.url("/probe"),
        &[("target", &format!("{target}?sslrootcert=/etc/passwd"))],
    )
    .expect_err("file named by the request");
    assert!(refused.contains("400"), "{refused}");
}

/// `sslnegotiation=direct` (PostgreSQL 17+): TLS from the first byte, with
/// ALPN `postgresql`, against trixie's PostgreSQL 17 (in a container) with
/// `ssl=on` and the test kit's server certificate.
#[test]
fn tls_direct_negotiation_on_postgres_17() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let certs = sidewatch_testkit::certs::TestCerts::create(dir.path());
    // The server (uid 999 in the image) reads its key only if it owns it.
    let mounted = tempfile::tempdir().expect("tmp");
    for name in ["server.crt", "server.key"] {
        let to = mounted.path().join(name);
        std::fs::copy(certs.path(name), &to).expect("copy");
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::os::unix::fs::chown(&to, Some(999), Some(999)).expect("chown");
    }
    std::fs::set_permissions(mounted.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let volume = format!("{}:/certs:ro", mounted.path().display());
    let c = sidewatch_testkit::container::Container::run_with(
        "sidewatch-test/postgres:17",
        &[("POSTGRES_HOST_AUTH_METHOD", "trust")],
        &["-v", &volume],
        5432,
        &[
            "postgres",
            "-c",
            "ssl=on",
            "-c",
            "ssl_cert_file=/certs/server.crt",
            "-c",
            "ssl_key_file=/certs/server.key",
        ],
    );
    let dsn = format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={}&sslnegotiation=direct",
        c.port,
        certs.path("ca.crt")
    );
    let mut e = exporter_dsn(&dsn, &[]);
    c.wait("PostgreSQL 17 with ssl=on", || {
        scrape(&e).value("pg_up", &[]) == Some(1.0)
    });
    // The server says ssl is on; direct negotiation has no plain fallback,
    // so up 1 was over TLS, verified against the kit's CA.
    let x = scrape(&e);
    assert_eq!(
        x.samples("pg_settings_ssl").first().map(|(_, v)| *v),
        Some(1.0),
        "{}",
        e.log()
    );
    // Direct TLS needs sslmode=require or stronger, as in libpq.
    let weak = format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslnegotiation=direct",
        c.port
    );
    e = exporter_dsn(&weak, &[]);
    let x = scrape(&e);
    assert_eq!(x.value("pg_up", &[]), Some(0.0), "{}", e.log());
}
