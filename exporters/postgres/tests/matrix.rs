//! The server matrix: PostgreSQL 15 (Debian's), 16 and 18 (wheels) and 17
//! (trixie's, in a container), each started once, pgvector on every one.
//! Every default collector succeeds, and the values equal the server's own
//! answers, version-specific catalogs included (pg_stat_checkpointer on 17+,
//! what moved out of pg_stat_bgwriter there).

mod support;

use std::process::Command;

use sidewatch_testkit::container::Container;
use sidewatch_testkit::postgres::{default_bin_dir, pg16_bin_dir, pg18_bin_dir};
use sidewatch_testkit::{Exposition, Postgres};
use support::*;

/// One server of the matrix: how to reach it and ask it.
enum Server {
    Local(Box<Postgres>),
    Docker(Container),
}

impl Server {
    fn port(&self) -> u16 {
        match self {
            Server::Local(pg) => pg.port,
            Server::Docker(c) => c.port,
        }
    }

    fn psql(&self, sql: &str) -> String {
        match self {
            Server::Local(pg) => pg.psql("postgres", sql),
            Server::Docker(c) => {
                let out = Command::new(default_bin_dir().join("psql"))
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &c.port.to_string(),
                        "-U",
                        "postgres",
                    ])
                    .args(["-d", "postgres", "-X", "-A", "-t", "-c", sql])
                    .output()
                    .expect("psql");
                assert!(
                    out.status.success(),
                    "{sql}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8_lossy(&out.stdout).trim().to_owned()
            }
        }
    }

    fn number(&self, sql: &str) -> f64 {
        let out = self.psql(sql);
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{sql:?} gave {out:?}"))
    }
}

const PRELOAD: (&str, &str) = ("shared_preload_libraries", "pg_stat_statements");

fn pg17() -> Server {
    let c = Container::run(
        "sidewatch-test/postgres:17",
        &[("POSTGRES_HOST_AUTH_METHOD", "trust")],
        5432,
        &[
            "postgres",
            "-c",
            "shared_preload_libraries=pg_stat_statements",
        ],
    );
    let port = c.port;
    c.wait("PostgreSQL 17", || {
        Command::new(default_bin_dir().join("psql"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
            .args(["-d", "postgres", "-X", "-A", "-t", "-c", "SELECT 1"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    Server::Docker(c)
}

#[test]
fn every_default_collector_on_postgres_15_to_18() {
    // The 16 wheel ships no pg_stat_statements.
    let servers: Vec<(u32, Server, bool)> = vec![
        (
            15,
            Server::Local(Box::new(Postgres::start_with(
                &default_bin_dir(),
                &[PRELOAD],
            ))),
            true,
        ),
        (
            16,
            Server::Local(Box::new(Postgres::start_with(&pg16_bin_dir(), &[]))),
            false,
        ),
        (17, pg17(), true),
        (
            18,
            Server::Local(Box::new(Postgres::start_with(&pg18_bin_dir(), &[PRELOAD]))),
            true,
        ),
    ];
    for (major, server, statements) in &servers {
        let at = format!("PostgreSQL {major}");
        let version = server.number("SHOW server_version_num");
        assert_eq!((version / 10_000.0).floor() as u32, *major, "{at}");
        server.psql("CREATE EXTENSION IF NOT EXISTS vector");
        if *statements {
            server.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
        }
        server.psql("CREATE TABLE items (id int, embedding vector(3))");
        server.psql(
            "INSERT INTO items SELECT g, ARRAY[g, g, g]::vector FROM generate_series(1, 100) g",
        );
        server.psql("CREATE INDEX items_hnsw ON items USING hnsw (embedding vector_l2_ops)");
        let dsn = format!(
            "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            server.port()
        );
        let flags: &[&str] = if *statements {
            &["--collector.stat_statements"]
        } else {
            &[]
        };
        let e = exporter_dsn(&dsn, flags);
        let text = scrape_text(&e);
        let x = Exposition::parse(&text);
        assert_eq!(x.value("pg_up", &[]), Some(1.0), "{at}: {}", e.log());
        let results = x.samples("pg_scrape_collector_success");
        assert!(results.len() >= 18, "{at}: {results:?}");
        for (labels, ok) in &results {
            assert_eq!(*ok, 1.0, "{at}: {labels:?}\n{}", e.log());
        }
        let short = server.psql("SHOW server_version");
        let short = short.split_whitespace().next().unwrap_or_default();
        let static_versions: Vec<String> = x
            .samples("pg_static")
            .iter()
            .map(|(l, _)| l["short_version"].clone())
            .collect();
        // As postgres_exporter: semver, 15.20 becomes 15.20.0.
        let semver = if short.matches('.').count() == 1 {
            format!("{short}.0")
        } else {
            short.to_owned()
        };
        assert_eq!(static_versions, [semver], "{at}");
        assert_eq!(
            x.samples("pg_settings_max_connections")
                .first()
                .map(|(_, v)| *v),
            Some(server.number("SHOW max_connections")),
            "{at}"
        );
        assert_eq!(
            x.value("pg_roles_connection_limit", &[("rolname", "postgres")]),
            Some(server.number("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'postgres'")),
            "{at}"
        );
        assert_eq!(
            x.value(
                "pg_vector_index_size_bytes",
                &[("indexrelname", "items_hnsw"), ("method", "hnsw")]
            ),
            Some(server.number("SELECT pg_relation_size('items_hnsw')")),
            "{at}"
        );
        assert_eq!(
            x.value(
                "pg_vector_column_dimensions",
                &[("relname", "items"), ("attname", "embedding")]
            ),
            Some(3.0),
            "{at}"
        );
        let extversion =
            server.psql("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
        assert_eq!(
            x.value(
                "pg_vector_extension_info",
                &[("extension", "vector"), ("version", &extversion)]
            ),
            Some(1.0),
            "{at}"
        );
        // Checkpoints: their own view from 17 on, pg_stat_bgwriter before.
        if *major >= 17 {
            assert_eq!(
                x.value("pg_stat_checkpointer_num_timed_total", &[]),
                Some(server.number("SELECT num_timed FROM pg_stat_checkpointer")),
                "{at}"
            );
            assert!(
                x.samples("pg_stat_bgwriter_checkpoints_timed_total")
                    .is_empty(),
                "{at}"
            );
        } else {
            assert_eq!(
                x.value("pg_stat_bgwriter_checkpoints_timed_total", &[]),
                Some(server.number("SELECT checkpoints_timed FROM pg_stat_bgwriter")),
                "{at}"
            );
            assert!(
                x.samples("pg_stat_checkpointer_num_timed_total").is_empty(),
                "{at}"
            );
        }
        assert_eq!(
            x.value("pg_stat_bgwriter_buffers_clean_total", &[]),
            Some(server.number("SELECT buffers_clean FROM pg_stat_bgwriter")),
            "{at}"
        );
        if *statements {
            assert!(
                !x.samples("pg_stat_statements_calls_total").is_empty(),
                "{at}"
            );
        }
    }
}
