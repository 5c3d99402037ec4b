//! Coverage against today's postgres_exporter (Debian sid's 0.19) on the same
//! server: every one of the peer's metric families, by the name Prometheus
//! stores, with the same label names and type.

mod support;

use sidewatch_testkit::exposition::Coverage;
use sidewatch_testkit::peerflags::Take;
use sidewatch_testkit::{debian_program, http_get, wait_until, Exporter, Exposition};
use support::*;

/// The peer's own bookkeeping that sidewatch leaves out (docs/postgres.md):
/// it has `sidewatch_build_info` and no configuration reloads.
const ONLY_PEER: [&str; 3] = [
    "postgres_exporter_build_info",
    "postgres_exporter_config_last_reload_success_timestamp_seconds",
    "postgres_exporter_config_last_reload_successful",
];

#[test]
fn covers_the_peers_default_families() {
    let peer_bin = debian_program(
        "sid",
        "prometheus-postgres-exporter",
        "prometheus-postgres-exporter",
    )
    .expect("sid's prometheus-postgres-exporter (scripts/test.sh fetches it)");
    let pg = postgres();
    pg.psql(
        "postgres",
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1)",
    );
    let dsn = pg.url("postgres");
    let peer = Exporter::start_unchecked_env(&peer_bin, &[], &[("DATA_SOURCE_NAME", &dsn)]);
    assert!(peer.wait_listening(), "{}", peer.log());
    let ours = exporter(&pg, "postgres", &[]);
    let mut peer_text = String::new();
    assert!(wait_until(std::time::Duration::from_secs(20), || {
        peer_text = http_get(&peer.url("/metrics")).unwrap_or_default();
        peer_text.contains("pg_up 1")
    }));
    let ours_text = scrape_text(&ours);
    let c = Coverage::of(&peer_text, &ours_text);
    println!("{}", c.report());
    let unexpected = c.missing_except(&ONLY_PEER);
    assert!(unexpected.is_empty(), "missing {unexpected:?}");
    assert!(c.label_diffs.is_empty(), "{:#?}", c.label_diffs);
    let (p, o) = (Exposition::parse(&peer_text), Exposition::parse(&ours_text));
    let type_diffs: Vec<(&String, &String, Option<&String>)> = p
        .types
        .iter()
        .filter(|(name, _)| c.peer.contains_key(*name) && o.types.contains_key(*name))
        .filter(|(name, t)| o.types.get(*name) != Some(t))
        .map(|(name, t)| (name, t, o.types.get(name)))
        .collect();
    assert!(
        type_diffs.is_empty(),
        "types (name, peer, ours): {type_diffs:#?}"
    );
}

/// Every flag in postgres_exporter 0.19's `--help`: taken with its meaning
/// (the command line passes --config.check; the live tests check what each
/// does) or refused with a reason.
const FLAGS: &[(&str, Take)] = &[
    ("help", Take::Accept("--help")),
    ("help-long", Take::Accept("--help-long")),
    (
        "collector.buffercache_summary",
        Take::Accept("--collector.buffercache_summary"),
    ),
    (
        "collector.database",
        Take::Accept("--no-collector.database"),
    ),
    (
        "collector.database_wraparound",
        Take::Accept("--collector.database_wraparound"),
    ),
    ("collector.locks", Take::Accept("--no-collector.locks")),
    (
        "collector.long_running_transactions",
        Take::Accept("--collector.long_running_transactions"),
    ),
    (
        "collector.postmaster",
        Take::Accept("--collector.postmaster"),
    ),
    (
        "collector.process_idle",
        Take::Accept("--collector.process_idle"),
    ),
    (
        "collector.replication",
        Take::Accept("--no-collector.replication"),
    ),
    (
        "collector.replication_slot",
        Take::Accept("--collector.replication_slot"),
    ),
    ("collector.roles", Take::Accept("--no-collector.roles")),
    (
        "collector.stat_activity_autovacuum",
        Take::Accept("--collector.stat_activity_autovacuum"),
    ),
    (
        "collector.stat_bgwriter",
        Take::Accept("--no-collector.stat_bgwriter"),
    ),
    (
        "collector.stat_checkpointer",
        Take::Accept("--no-collector.stat_checkpointer"),
    ),
    (
        "collector.stat_database",
        Take::Accept("--collector.stat_database"),
    ),
    (
        "collector.stat_progress_vacuum",
        Take::Accept("--collector.stat_progress_vacuum"),
    ),
    (
        "collector.stat_statements",
        Take::Accept("--collector.stat_statements"),
    ),
    (
        "collector.stat_statements.include_query",
        Take::Accept("--collector.stat_statements.include_query"),
    ),
    (
        "collector.stat_statements.query_length",
        Take::Accept("--collector.stat_statements.query_length=80"),
    ),
    (
        "collector.stat_statements.limit",
        Take::Accept("--collector.stat_statements.limit=50"),
    ),
    (
        "collector.stat_statements.exclude_databases",
        Take::Accept("--collector.stat_statements.exclude_databases=a,b"),
    ),
    (
        "collector.stat_statements.exclude_users",
        Take::Accept("--collector.stat_statements.exclude_users=u"),
    ),
    (
        "collector.stat_user_tables",
        Take::Accept("--collector.stat_user_tables"),
    ),
    (
        "collector.stat_wal_receiver",
        Take::Accept("--collector.stat_wal_receiver"),
    ),
    (
        "collector.statio_user_indexes",
        Take::Accept("--collector.statio_user_indexes"),
    ),
    (
        "collector.statio_user_tables",
        Take::Accept("--collector.statio_user_tables"),
    ),
    ("collector.wal", Take::Accept("--no-collector.wal")),
    (
        "collector.xlog_location",
        Take::Accept("--collector.xlog_location"),
    ),
    (
        "config.file",
        Take::Accept("--config.file={dir}/postgres_exporter.yml"),
    ),
    (
        "web.systemd-socket",
        Take::Refuse("systemd socket activation"),
    ),
    (
        "web.listen-address",
        Take::Accept("--web.listen-address=127.0.0.1:19187"),
    ),
    (
        "web.config.file",
        Take::Accept("--web.config.file={dir}/web.yml"),
    ),
    (
        "web.telemetry-path",
        Take::Accept("--web.telemetry-path=/m"),
    ),
    (
        "disable-default-metrics",
        Take::Accept("--disable-default-metrics"),
    ),
    (
        "disable-settings-metrics",
        Take::Accept("--disable-settings-metrics"),
    ),
    (
        "auto-discover-databases",
        Take::Accept("--auto-discover-databases"),
    ),
    (
        "extend.query-path",
        Take::Accept("--extend.query-path={dir}/queries.yaml"),
    ),
    ("dumpmaps", Take::Accept("--dumpmaps")),
    (
        "constantLabels",
        Take::Accept("--constantLabels=env=prod,team=db"),
    ),
    (
        "exclude-databases",
        Take::Accept("--exclude-databases=template1"),
    ),
    (
        "include-databases",
        Take::Accept("--include-databases=postgres"),
    ),
    ("metric-prefix", Take::Accept("--metric-prefix=pg")),
    (
        "collection-timeout",
        Take::Accept("--collection-timeout=30s"),
    ),
    ("version", Take::Accept("--version")),
    ("log.level", Take::Accept("--log.level=debug")),
    ("log.format", Take::Accept("--log.format=json")),
];

#[test]
fn every_peer_flag_is_taken_or_refused_with_a_reason() {
    let peer = debian_program(
        "sid",
        "prometheus-postgres-exporter",
        "prometheus-postgres-exporter",
    )
    .expect("sid's prometheus-postgres-exporter (scripts/test.sh fetches it)");
    let dir = tempfile::tempdir().expect("tmp");
    let certs = sidewatch_testkit::certs::TestCerts::create(dir.path());
    let write =
        |name: &str, text: String| std::fs::write(dir.path().join(name), text).expect("write");
    write(
        "postgres_exporter.yml",
        "auth_modules:\n  main:\n    type: userpass\n    userpass: {username: u, password: p}\n"
            .into(),
    );
    write(
        "web.yml",
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            certs.path("server.crt"),
            certs.path("server.key")
        ),
    );
    write(
        "queries.yaml",
        "q:\n  query: SELECT 1 AS v\n  metrics:\n    - v: {usage: GAUGE, description: v}\n".into(),
    );
    let problems = sidewatch_testkit::peerflags::check(
        &peer,
        support::bin(),
        &[("DATA_SOURCE_NAME", "postgresql://u@127.0.0.1:1/postgres")],
        FLAGS,
        dir.path(),
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// --metric-prefix other than the default and --dumpmaps do what they say.
#[test]
fn metric_prefix_and_dumpmaps() {
    let run = |args: &[&str]| {
        std::process::Command::new(support::bin())
            .args(args)
            .env("DATA_SOURCE_NAME", "postgresql://u@127.0.0.1:1/postgres")
            .output()
            .expect("run")
    };
    let out = run(&["--metric-prefix=db", "--config.check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: --metric-prefix \"db\" is not supported"),
        "{err}"
    );
    let out = run(&["--dumpmaps"]);
    assert_eq!(out.status.code(), Some(0));
    let builtin = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/collectors/builtin.yaml"),
    )
    .expect("builtin.yaml");
    assert_eq!(String::from_utf8_lossy(&out.stdout), builtin);
}
