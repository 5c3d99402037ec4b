//! Callers as an attacker would be: `/probe` hammered with custom queries
//! loaded keeps the exporter's memory flat.

mod support;

use sidewatch_testkit::{free_port, http_get_query, rss_bytes, Exporter};
use support::*;

/// Each probe builds its collectors, custom queries included; their names
/// are allocated once, not per probe. 100 queries with names of about 1 KB and 600
/// probes of a closed port: before, about 110 KiB a probe stayed behind.
#[test]
fn probes_with_custom_queries_do_not_grow_memory() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut queries = String::new();
    for i in 0..100 {
        let name = format!("app_{i}_{}", "x".repeat(1000));
        queries.push_str(&format!(
            "{name}:\n  query: SELECT 1 AS v\n  metrics:\n    - v: {{usage: GAUGE, description: v}}\n"
        ));
    }
    let q = dir.path().join("q.yaml");
    std::fs::write(&q, queries).expect("write");
    let mut e =
        Exporter::start_unchecked(bin(), &[&format!("--extend.query-path={}", q.display())]);
    assert!(e.wait_listening());
    let pid = e.service().pid().expect("pid");
    let closed = format!(
        "postgresql://app@127.0.0.1:{}/postgres?sslmode=disable",
        free_port()
    );
    let url = e.url("/probe");
    // `n` probes from four callers at once.
    let probes = |n: usize| {
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..n / 4 {
                        let body =
                            http_get_query(&url, &[("target", &closed)]).unwrap_or_else(|err| err);
                        assert!(body.contains("pg_up 0"), "{body}");
                    }
                });
            }
        });
    };
    probes(100);
    let warm = rss_bytes(pid);
    probes(600);
    let after = rss_bytes(pid);
    assert!(
        after < warm + (8 << 20),
        "RSS grew from {warm} to {after} bytes over 600 probes"
    );
}

/// Probes `target` from `callers` threads at once, with a short scrape
/// timeout; the bodies (or error status lines).
fn probe_wave(e: &Exporter, target: &str, callers: usize) -> Vec<Result<String, String>> {
    let url = e.url("/probe");
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..callers)
            .map(|_| {
                s.spawn(|| {
                    sidewatch_testkit::http_get_query_header(
                        &url,
                        &[("target", target)],
                        ("X-Prometheus-Scrape-Timeout-Seconds", "2"),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("caller"))
            .collect()
    })
}

/// `/probe` connections count against `--pg.max-connections` together with
/// the main target's: 16 callers probing a hung server never hold more than
/// the cap, the main target's idle connections give way to them, and the main
/// target is scraped again afterwards.
#[test]
fn probes_share_the_connection_cap_with_the_main_target() {
    let pg = postgres();
    let e = exporter(&pg, "postgres", &["--pg.max-connections=2"]);
    let x = scrape(&e);
    assert_eq!(x.value("pg_up", &[]), Some(1.0));
    assert!(exporter_connections(&pg) >= 1);
    let hung = sidewatch_testkit::Blackhole::start();
    let target = format!("postgresql://app@{}/postgres?sslmode=disable", hung.addr());
    let (bodies, most) = hung.max_open_during(|| probe_wave(&e, &target, 16));
    assert!(
        most <= 2,
        "{most} probe connections open at once with a cap of 2"
    );
    assert!(most >= 1, "no probe reached the hung server");
    for body in &bodies {
        let body = body.as_ref().expect("a probe answers 200");
        assert!(body.contains("pg_up 0"), "{body}");
    }
    // Main and probes together: never more than the cap on the real server.
    let x = scrape(&e);
    assert_eq!(x.value("pg_up", &[]), Some(1.0), "{}", e.log());
    assert!(exporter_connections(&pg) <= 2);
}

/// `--web.probe.allowed-targets`: a host not listed, a `hostaddr` that points
/// elsewhere and a Unix socket are refused with 403 before any connection; a
/// listed host and a listed socket directory are probed.
#[test]
fn probe_targets_are_held_to_the_allow_list() {
    let pg = postgres();
    let socket_dir = pg.socket_dir().display().to_string();
    let port = pg.port;
    let open = Exporter::start_unchecked(bin(), &[]);
    assert!(open.wait_listening());
    // Without a list: any TCP host, no Unix socket.
    let tcp = format!("postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable");
    let body = http_get_query(&open.url("/probe"), &[("target", &tcp)]).expect("tcp probe");
    assert!(body.contains("pg_up 1"), "{body}");
    let socket = format!("host={socket_dir} port={port} user=postgres dbname=postgres");
    let refused = http_get_query(&open.url("/probe"), &[("target", &socket)]);
    assert!(
        refused.as_ref().is_err_and(|s| s.contains("403")),
        "{refused:?}"
    );

    let listed = format!("--web.probe.allowed-targets=127.0.0.1:{port},{socket_dir}");
    let strict = Exporter::start_unchecked(bin(), &[&listed]);
    assert!(strict.wait_listening());
    let url = strict.url("/probe");
    let body = http_get_query(&url, &[("target", &tcp)]).expect("listed host");
    assert!(body.contains("pg_up 1"), "{body}");
    let body = http_get_query(&url, &[("target", &socket)]).expect("listed socket");
    assert!(body.contains("pg_up 1"), "{body}");
    let before = exporter_connections(&pg);
    for target in [
        format!("postgresql://postgres@localhost:{port}/postgres?sslmode=disable"),
        format!("postgresql://postgres@127.0.0.1:{}/postgres", port + 1),
        format!("host=127.0.0.1 hostaddr=127.0.0.2 port={port} user=postgres"),
        format!("host=/tmp port={port} user=postgres"),
    ] {
        let r = http_get_query(&url, &[("target", &target)]);
        assert!(
            r.as_ref().is_err_and(|s| s.contains("403")),
            "{target}: {r:?}"
        );
    }
    assert!(exporter_connections(&pg) <= before);
    // A malformed list is a start-up error.
    let out = std::process::Command::new(bin())
        .args(["--web.probe.allowed-targets=db:notaport", "--config.check"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--web.probe.allowed-targets"), "{err}");
}

/// A custom query returning a million rows: rows are turned into series as
/// they arrive and only counted past `max_series` (or the series limit), so
/// memory follows the limit, and every cut series is counted in
/// `pg_scrape_collector_dropped_series_total`. Before, the rows were held
/// whole (419 MB resident for a million rows) and cuts went uncounted.
#[test]
fn a_million_rows_are_streamed_and_cut_at_the_limit() {
    let pg = postgres();
    let dir = tempfile::tempdir().expect("tmp");
    let q = file(
        &dir,
        "q.yaml",
        "capped:\n  query: SELECT g::text AS id, 1 AS v FROM generate_series(1, 1000000) g\n  max_series: 100\n  metrics:\n    - id: {usage: LABEL, description: id}\n    - v: {usage: GAUGE, description: v}\n\
         unbounded:\n  query: SELECT g::text AS id, 2 AS v FROM generate_series(1, 1000000) g\n  metrics:\n    - id: {usage: LABEL, description: id}\n    - v: {usage: GAUGE, description: v}\n",
    );
    let mut e = exporter(
        &pg,
        "postgres",
        &[
            &format!("--extend.query-path={q}"),
            "--scrape.timeout=25s",
            "--web.request-timeout=30s",
            "--pg.statement-timeout=20s",
            "--scrape.series-limit=5000",
        ],
    );
    let pid = e.service().pid().expect("pid");
    let before = rss_bytes(pid);
    let x = scrape(&e);
    assert_eq!(
        x.value("pg_scrape_collector_success", &[("collector", "capped")]),
        Some(1.0),
        "{}",
        e.log()
    );
    assert_eq!(
        x.value("pg_scrape_collector_success", &[("collector", "unbounded")]),
        Some(1.0)
    );
    assert_eq!(x.samples("capped_v").len(), 100);
    assert_eq!(x.samples("unbounded_v").len(), 5000);
    assert!(x.samples("unbounded_v").iter().all(|(_, v)| *v == 2.0));
    let dropped = |c: &str| {
        x.value(
            "pg_scrape_collector_dropped_series_total",
            &[("collector", c)],
        )
    };
    assert_eq!(dropped("capped"), Some(1_000_000.0 - 100.0));
    assert_eq!(dropped("unbounded"), Some(1_000_000.0 - 5000.0));
    let peak = sidewatch_testkit::peak_rss_bytes(pid);
    eprintln!("2,000,000 rows: RSS {before} bytes before, peak {peak}");
    assert!(
        peak < before + (64 << 20),
        "peak RSS {peak} bytes, {before} before the scrape"
    );
}

/// Concurrent probes of one target share its engine: ten callers at once
/// make one collection (a custom query that counts its runs with a sequence
/// runs about once, not ten times), the answer carries the target's families
/// but not the exporter's own process families, and the probe's connection
/// is closed afterwards.
#[test]
fn concurrent_probes_of_one_target_share_one_collection() {
    let pg = postgres();
    pg.psql("postgres", "CREATE SEQUENCE probe_runs");
    let dir = tempfile::tempdir().expect("tmp");
    let q = file(
        &dir,
        "q.yaml",
        "runs:\n  query: SELECT nextval('probe_runs') AS n FROM pg_sleep(0.5)\n  metrics:\n    - n: {usage: GAUGE, description: runs}\n",
    );
    let e = Exporter::start_unchecked(bin(), &[&format!("--extend.query-path={q}")]);
    assert!(e.wait_listening());
    let target = format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    );
    let bodies = probe_wave(&e, &target, 10);
    for body in &bodies {
        let body = body.as_ref().expect("probe");
        assert!(body.contains("pg_up 1"), "{body}");
        assert!(body.contains("runs_n"), "{body}");
        assert!(!body.contains("process_resident_memory_bytes"), "{body}");
    }
    let runs = number(&pg, "postgres", "SELECT last_value FROM probe_runs");
    assert!(
        runs < 10.0,
        "{runs} collections for 10 concurrent probes of one target"
    );
    wait_for("the probe connection to close", || {
        exporter_connections(&pg) == 0
    });
    let own = sidewatch_testkit::http_get(&e.url("/metrics")).expect("metrics");
    assert!(own.contains("process_resident_memory_bytes"));
}
