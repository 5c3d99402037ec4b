//! The binary against real Redis and PostgreSQL from the test kit: depths
//! and ages equal what was written, a backend down or a broken queue loses
//! only its own series, a slow query is cut by its statement timeout.

use std::path::Path;
use std::time::{Duration, Instant};

use sidewatch_testkit::postgres::default_bin_dir;
use sidewatch_testkit::{free_port, http_get, Exporter, Exposition, Postgres, Redis};

const BIN: &str = env!("CARGO_BIN_EXE_sidewatch-queue");

#[test]
fn redis_and_postgres_queues_with_faults() {
    let r = Redis::start();
    r.pipeline([
        vec!["RPUSH".into(), "jobs".into(), "a".into(), "b".into()],
        vec!["SET".into(), "wrong".into(), "x".into()],
    ]);
    let pg = Postgres::start_with(&default_bin_dir(), &[]);
    pg.psql(
        "postgres",
        "CREATE TABLE jobs (state text, created_at timestamptz);
         INSERT INTO jobs VALUES ('waiting', now() - interval '100 seconds'),
                                 ('waiting', now() - interval '10 seconds'),
                                 ('failed', now() - interval '1 hour')",
    );
    let dead_port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("queues.yml");
    std::fs::write(
        &cfg,
        format!(
            r#"backends:
  - name: main
    redis: {redis}
  - name: gone
    redis: redis://127.0.0.1:{dead_port}
  - name: jobsdb
    postgres: {pg}
queues:
  - {{ name: jobs, backend: main, kind: redis_list, key: jobs }}
  - {{ name: broken, backend: main, kind: redis_list, key: wrong }}
  - {{ name: elsewhere, backend: gone, kind: redis_list, key: jobs }}
  - name: pg_jobs
    backend: jobsdb
    kind: postgres
    query: SELECT state, count(*) AS depth, extract(epoch FROM now() - min(created_at)) AS oldest_age_seconds FROM jobs GROUP BY state
  - name: slow
    backend: jobsdb
    kind: postgres
    query: SELECT 'waiting' AS state, 1 AS depth FROM pg_sleep(30)
"#,
            redis = r.url(),
            pg = pg.url("postgres"),
        ),
    )
    .expect("config");
    let file = format!("--config.file={}", cfg.display());
    let e = Exporter::start_unchecked(
        Path::new(BIN),
        &[
            &file,
            "--scrape.timeout=3s",
            "--pg.statement-timeout=1s",
            "--redis.timeout=1s",
        ],
    );
    assert!(e.wait_listening(), "{}", e.log());
    let started = Instant::now();
    let text = http_get(&e.url("/metrics")).unwrap_or_else(|err| panic!("{err}\n{}", e.log()));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let x = Exposition::parse(&text);
    let v = |name: &str, labels: &[(&str, &str)]| x.value(name, labels);
    assert_eq!(v("sidewatch_queue_up", &[("backend", "main")]), Some(1.0));
    assert_eq!(v("sidewatch_queue_up", &[("backend", "gone")]), Some(0.0));
    assert_eq!(v("sidewatch_queue_up", &[("backend", "jobsdb")]), Some(1.0));
    assert_eq!(
        v(
            "sidewatch_queue_depth",
            &[("queue", "jobs"), ("state", "waiting")]
        ),
        Some(2.0)
    );
    assert_eq!(
        v("sidewatch_queue_read_success", &[("queue", "broken")]),
        Some(0.0)
    );
    assert!(x
        .samples("sidewatch_queue_depth")
        .iter()
        .all(|(l, _)| l["queue"] != "elsewhere"));
    assert_eq!(
        v(
            "sidewatch_queue_depth",
            &[("queue", "pg_jobs"), ("state", "waiting")]
        ),
        Some(2.0)
    );
    assert_eq!(
        v(
            "sidewatch_queue_depth",
            &[("queue", "pg_jobs"), ("state", "failed")]
        ),
        Some(1.0)
    );
    let age = v(
        "sidewatch_queue_oldest_age_seconds",
        &[("queue", "pg_jobs"), ("state", "waiting")],
    )
    .unwrap_or(0.0);
    assert!((100.0..110.0).contains(&age), "{age}");
    assert_eq!(
        v("sidewatch_queue_read_success", &[("queue", "slow")]),
        Some(0.0)
    );
    assert!(
        e.log().contains("statement timeout") || e.log().contains("canceling statement"),
        "{}",
        e.log()
    );
    assert!(!e.log().contains("password"), "{}", e.log());
}

#[test]
fn bad_config_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("q.yml");
    std::fs::write(
        &cfg,
        "backends: []\nqueues:\n  - name: q\n    backend: nope\n    kind: rq\n    queue: x\n",
    )
    .expect("write");
    let out = std::process::Command::new(BIN)
        .arg(format!("--config.file={}", cfg.display()))
        .arg("--config.check")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("q.yml:3") && err.contains("backend \"nope\" is not defined"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// A pattern matching 60,000 lists next to three sorted-set queues: the
/// named queues are read first and keep their exact depths, the pattern is
/// read as at most --discover.max-queues queues and says it was cut, and the
/// scrape logs one line for the pattern, not one per queue.
#[test]
fn a_large_pattern_cannot_starve_named_queues() {
    let r = Redis::start();
    let reply = r.query(&[
        "EVAL",
        "for i = 1, 60000 do redis.call('RPUSH', 'jobs:' .. i, 'x') end return 1",
        "0",
    ]);
    assert!(reply.text().contains('1'), "{reply:?}");
    for (key, n) in [("delayed:a", 3), ("delayed:b", 5), ("delayed:c", 7)] {
        let mut cmd = vec!["ZADD".to_owned(), key.to_owned()];
        for i in 0..n {
            cmd.push(i.to_string());
            cmd.push(format!("job{i}"));
        }
        r.pipeline([cmd]);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("queues.yml");
    std::fs::write(
        &cfg,
        format!(
            "backends:\n  - name: main\n    redis: {}\nqueues:\n  - {{ name: many, backend: main, kind: redis_list, key: \"jobs:*\" }}\n  - {{ name: a, backend: main, kind: redis_zset, key: \"delayed:a\" }}\n  - {{ name: b, backend: main, kind: redis_zset, key: \"delayed:b\" }}\n  - {{ name: c, backend: main, kind: redis_zset, key: \"delayed:c\" }}\n",
            r.url()
        ),
    )
    .expect("config");
    let file = format!("--config.file={}", cfg.display());
    let e = Exporter::start_unchecked(Path::new(BIN), &[&file, "--discover.max-queues=500"]);
    assert!(e.wait_listening(), "{}", e.log());
    for _ in 0..2 {
        let text = sidewatch_testkit::http_get_header(
            &e.url("/metrics"),
            ("X-Prometheus-Scrape-Timeout-Seconds", "3"),
        )
        .unwrap_or_else(|err| panic!("{err}\n{}", e.log()));
        let x = Exposition::parse(&text);
        for (queue, n) in [("a", 3.0), ("b", 5.0), ("c", 7.0)] {
            assert_eq!(
                x.value(
                    "sidewatch_queue_depth",
                    &[("queue", queue), ("state", "scheduled")]
                ),
                Some(n),
                "{queue}\n{}",
                e.log()
            );
        }
        let matched = x
            .value("sidewatch_queue_pattern_queues", &[("queue", "many")])
            .expect("pattern_queues");
        assert!(matched <= 500.0, "{matched}");
        assert_eq!(
            x.value("sidewatch_queue_pattern_truncated", &[("queue", "many")]),
            Some(1.0)
        );
        // Every queue the pattern read has its one job.
        let read: Vec<_> = x
            .samples("sidewatch_queue_depth")
            .into_iter()
            .filter(|(l, _)| l["queue"].starts_with("jobs:"))
            .collect();
        assert!(read.len() <= 500);
        assert!(read.iter().all(|(_, v)| *v == 1.0));
    }
    let lines = e.log().lines().count();
    assert!(
        lines < 20,
        "{lines} log lines for two scrapes:\n{}",
        e.log()
    );
}

/// A PostgreSQL backend behind TLS only: verify-full with the CA reads the
/// queue; a CA that did not sign the server's certificate is `up 0` for that
/// backend alone.
#[test]
fn postgres_backend_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = sidewatch_testkit::certs::TestCerts::create(dir.path());
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = sidewatch_testkit::certs::TestCerts::create(other_dir.path());
    let pg = Postgres::start_tls(
        &certs,
        "local all all trust\nhostnossl all all 127.0.0.1/32 reject\nhostssl all all 127.0.0.1/32 trust\n",
    );
    pg.psql(
        "postgres",
        "CREATE TABLE jobs (state text, created_at timestamptz);
         INSERT INTO jobs VALUES ('waiting', now()), ('waiting', now()), ('waiting', now())",
    );
    let dsn = |ca: String| {
        format!(
            "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={ca}",
            pg.port
        )
    };
    let cfg = dir.path().join("queues.yml");
    std::fs::write(
        &cfg,
        format!(
            "backends:\n  - {{ name: tls, postgres: '{good}' }}\n  - {{ name: wrongca, postgres: '{bad}' }}\n\
             queues:\n  - {{ name: a, backend: tls, kind: postgres, query: \"SELECT state, count(*) AS depth FROM jobs GROUP BY state\" }}\n  \
             - {{ name: b, backend: wrongca, kind: postgres, query: \"SELECT state, count(*) AS depth FROM jobs GROUP BY state\" }}\n",
            good = dsn(certs.path("ca.crt")),
            bad = dsn(other.path("ca.crt")),
        ),
    )
    .expect("config");
    let e = Exporter::start_unchecked(
        Path::new(BIN),
        &[&format!("--config.file={}", cfg.display())],
    );
    assert!(e.wait_listening(), "{}", e.log());
    let text = http_get(&e.url("/metrics")).unwrap_or_else(|err| panic!("{err}\n{}", e.log()));
    let x = Exposition::parse(&text);
    assert_eq!(
        x.value("sidewatch_queue_up", &[("backend", "tls")]),
        Some(1.0),
        "{}",
        e.log()
    );
    assert_eq!(
        x.value(
            "sidewatch_queue_depth",
            &[("queue", "a"), ("state", "waiting")]
        ),
        Some(3.0)
    );
    assert_eq!(
        x.value("sidewatch_queue_up", &[("backend", "wrongca")]),
        Some(0.0)
    );
    assert!(e.log().contains("invalid peer certificate"), "{}", e.log());
}
