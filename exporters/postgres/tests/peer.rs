//! Coverage against Debian's postgres_exporter on the same server: the peer's
//! metric families, by the name Prometheus stores, with the same label names.

mod support;

use sidewatch_testkit::exposition::Coverage;
use sidewatch_testkit::{find_program, http_get, wait_until, Exporter};
use support::*;

#[test]
fn covers_the_peers_default_families() {
    let peer_bin = find_program(&["prometheus-postgres-exporter", "postgres_exporter"])
        .expect("Debian's prometheus-postgres-exporter (scripts/setup-postgres.sh installs it)");
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
    let c = Coverage::of(&peer_text, &scrape_text(&ours));
    println!("{}", c.report());
    let ratio = c.ratio();
    let (missing, label_diffs) = (&c.missing, &c.label_diffs);
    assert!(ratio >= 0.95, "coverage {ratio:.3}; missing {missing:?}");
    assert!(label_diffs.is_empty(), "{label_diffs:#?}");
}
