//! Coverage against today's postgres_exporter (Debian sid's 0.19) on the same
//! server: every one of the peer's metric families, by the name Prometheus
//! stores, with the same label names and type.

mod support;

use sidewatch_testkit::exposition::Coverage;
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
