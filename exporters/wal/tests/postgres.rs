//! A real PostgreSQL 15 from the test kit, watched from disk.

use std::path::Path;
use std::time::Duration;

use sidewatch_testkit::postgres::default_bin_dir;
use sidewatch_testkit::{http_get, wait_until, Exporter, Exposition, Postgres};

const BIN: &str = env!("CARGO_BIN_EXE_sidewatch-wal");

fn exporter(pg: &Postgres) -> Exporter {
    let dir = format!("--config.file={}", config(pg).display());
    let e = Exporter::start_unchecked(Path::new(BIN), &[&dir, "--wal.rescan-interval=1s"]);
    assert!(e.wait_listening(), "{}", e.log());
    e
}

fn config(pg: &Postgres) -> std::path::PathBuf {
    let path = pg.data_dir().with_extension("wal.yml");
    std::fs::write(
        &path,
        format!(
            "dirs:\n  - path: {}\n    name: main\n",
            pg.data_dir().join("pg_wal").display()
        ),
    )
    .expect("write config");
    path
}

fn scrape(e: &Exporter) -> Exposition {
    Exposition::parse(
        &http_get(&e.url("/metrics")).unwrap_or_else(|err| panic!("{err}\n{}", e.log())),
    )
}

fn value(e: &Exporter, name: &str) -> f64 {
    scrape(e)
        .value(name, &[("dir", "main")])
        .unwrap_or(f64::NAN)
}

fn position(e: &Exporter) -> f64 {
    scrape(e)
        .samples("sidewatch_wal_position_bytes")
        .into_iter()
        .map(|(_, v)| v)
        .fold(f64::NAN, f64::max)
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    assert!(
        wait_until(Duration::from_secs(30), &mut check),
        "timed out waiting for {what}"
    );
}

#[test]
fn switching_segments_raises_created_and_position() {
    let pg = Postgres::start_with(&default_bin_dir(), &[]);
    pg.psql("postgres", "CREATE TABLE t (x int)");
    let e = exporter(&pg);
    assert_eq!(value(&e, "sidewatch_wal_up"), 1.0, "{}", e.log());
    let created0 = value(&e, "sidewatch_wal_segments_created_total");
    let pos0 = position(&e);
    let n = 5;
    for i in 0..n {
        pg.psql(
            "postgres",
            &format!("INSERT INTO t VALUES ({i}); SELECT pg_switch_wal()"),
        );
    }
    pg.psql("postgres", "INSERT INTO t VALUES (0)");
    let seg = 16.0 * 1024.0 * 1024.0;
    wait_for("the position to advance by the switches", || {
        position(&e) - pos0 == n as f64 * seg
    });
    let created = value(&e, "sidewatch_wal_segments_created_total") - created0;
    assert!(created >= n as f64, "created {created}");
    let files: f64 = std::fs::read_dir(pg.data_dir().join("pg_wal"))
        .expect("pg_wal")
        .flatten()
        .filter(|f| f.file_name().len() == 24)
        .count() as f64;
    assert_eq!(value(&e, "sidewatch_wal_segments"), files);
    assert_eq!(value(&e, "sidewatch_wal_size_bytes"), files * seg);
    assert_eq!(
        value(&e, "sidewatch_wal_written_bytes_total"),
        position(&e) - pos0
    );
}

#[test]
fn failing_archiver_builds_a_backlog_that_drains() {
    // archive_command through ALTER SYSTEM (a -c setting would win over it).
    let pg = Postgres::start_with(&default_bin_dir(), &[("archive_mode", "on")]);
    pg.psql("postgres", "ALTER SYSTEM SET archive_command = 'false'");
    pg.psql("postgres", "SELECT pg_reload_conf()");
    pg.psql("postgres", "CREATE TABLE t (x int)");
    let e = exporter(&pg);
    for i in 0..3 {
        pg.psql(
            "postgres",
            &format!("INSERT INTO t VALUES ({i}); SELECT pg_switch_wal()"),
        );
    }
    wait_for("3 .ready segments", || {
        value(&e, "sidewatch_wal_archive_ready_segments") >= 3.0
    });
    let age1 = value(&e, "sidewatch_wal_archive_oldest_ready_age_seconds");
    std::thread::sleep(Duration::from_millis(1500));
    let age2 = value(&e, "sidewatch_wal_archive_oldest_ready_age_seconds");
    assert!(age2 > age1, "{age1} then {age2}");
    let ready_on_disk = std::fs::read_dir(pg.data_dir().join("pg_wal/archive_status"))
        .expect("archive_status")
        .flatten()
        .filter(|f| f.file_name().to_string_lossy().ends_with(".ready"))
        .count() as f64;
    assert_eq!(
        value(&e, "sidewatch_wal_archive_ready_segments"),
        ready_on_disk
    );
    pg.psql("postgres", "ALTER SYSTEM SET archive_command = 'true'");
    pg.psql("postgres", "SELECT pg_reload_conf()");
    wait_for("the backlog to drain", || {
        value(&e, "sidewatch_wal_archive_ready_segments") == 0.0
    });
    assert!(value(&e, "sidewatch_wal_archive_done_segments") >= 3.0);
    assert_eq!(
        value(&e, "sidewatch_wal_archive_oldest_ready_age_seconds"),
        0.0
    );
}
