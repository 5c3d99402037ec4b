//! Shared helpers: a server, the exporter pointed at it, scrapes.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use sidewatch_testkit::{http_get, wait_until, Exporter, Exposition, Postgres};

pub const BIN: &str = env!("CARGO_BIN_EXE_sidewatch-postgres");

pub fn bin() -> &'static Path {
    Path::new(BIN)
}

/// PostgreSQL 15 with pg_stat_statements loaded.
pub fn postgres() -> Postgres {
    Postgres::start_with(
        &sidewatch_testkit::postgres::default_bin_dir(),
        &[
            ("shared_preload_libraries", "pg_stat_statements"),
            ("pg_stat_statements.track", "all"),
            ("max_connections", "50"),
        ],
    )
}

/// The exporter watching `db` on `pg`, ready to scrape.
pub fn exporter(pg: &Postgres, db: &str, args: &[&str]) -> Exporter {
    exporter_dsn(&pg.url(db), args)
}

pub fn exporter_dsn(dsn: &str, args: &[&str]) -> Exporter {
    let e = Exporter::start_unchecked_env(bin(), args, &[("DATA_SOURCE_NAME", dsn)]);
    assert!(e.wait_listening(), "exporter did not listen:\n{}", e.log());
    e
}

pub fn scrape_text(e: &Exporter) -> String {
    http_get(&e.url("/metrics")).unwrap_or_else(|err| panic!("scrape: {err}\n{}", e.log()))
}

pub fn scrape(e: &Exporter) -> Exposition {
    Exposition::parse(&scrape_text(e))
}

pub fn success(x: &Exposition, collector: &str) -> Option<f64> {
    x.value("pg_scrape_collector_success", &[("collector", collector)])
}

/// The number PostgreSQL itself answers.
pub fn number(pg: &Postgres, db: &str, sql: &str) -> f64 {
    let out = pg.psql(db, sql);
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{sql:?} gave {out:?}"))
}

/// Connections the exporter holds, by its application_name.
pub fn exporter_connections(pg: &Postgres) -> usize {
    number(
        pg,
        "postgres",
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sidewatch-postgres'",
    ) as usize
}

pub fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    assert!(
        wait_until(Duration::from_secs(20), &mut check),
        "timed out waiting for {what}"
    );
}

/// A temp file with `text`.
pub fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write file");
    path.display().to_string()
}
