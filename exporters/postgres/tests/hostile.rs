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
