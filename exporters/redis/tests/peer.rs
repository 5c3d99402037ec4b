//! Coverage against Debian's prometheus-redis-exporter on the same server
//! with default flags: its families, by the name Prometheus stores, with the
//! same label names; and the same values where a value cannot move between
//! two scrapes.

mod support;

use sidewatch_testkit::exposition::Coverage;
use sidewatch_testkit::{debian_program, http_get, wait_until, Exporter, Exposition, Redis};
use support::*;

/// Its self-instrumentation, not the target's: a build-info series (sidewatch
/// has sidewatch_build_info), key-group timing (no --check-key-groups) and
/// /scrape request errors (sidewatch logs them and answers 400/403/502).
const ONLY_PEER: [&str; 3] = [
    "redis_exporter_build_info",
    "redis_target_scrape_request_errors_total",
    "redis_last_key_groups_scrape_duration_milliseconds",
];

#[test]
fn covers_the_peers_default_families() {
    let peer_bin = debian_program(
        "sid",
        "prometheus-redis-exporter",
        "prometheus-redis-exporter",
    )
    .expect("sid's prometheus-redis-exporter (scripts/test.sh fetches it)");
    let r = Redis::start_with(&[("maxmemory", "64mb")]);
    run(&r, &["SET a 1", "EXPIRE a 500", "SELECT 3", "RPUSH l x"]);
    // One error reply, for errorstats.
    r.query(&["HGET", "a", "x"]);
    let addr = format!("-redis.addr={}", r.url());
    let peer = Exporter::start_unchecked(&peer_bin, &[&addr]);
    assert!(peer.wait_listening(), "{}", peer.log());
    let ours = exporter(&r, &[]);
    let mut peer_text = String::new();
    assert!(wait_until(std::time::Duration::from_secs(20), || {
        peer_text = http_get(&peer.url("/metrics")).unwrap_or_default();
        peer_text.contains("redis_up 1")
    }));
    let ours_text = scrape_text(&ours);
    let c = Coverage::of(&peer_text, &ours_text);
    println!("{}", c.report());
    assert!(c.ratio() >= 0.95, "{}", c.report());
    assert!(c.label_diffs.is_empty(), "{:#?}", c.label_diffs);
    let unexpected = c.missing_except(&ONLY_PEER);
    assert!(unexpected.is_empty(), "{unexpected:?}");

    // Values that cannot change between the two scrapes.
    let p = Exposition::parse(&peer_text);
    let o = Exposition::parse(&ours_text);
    for name in [
        "redis_memory_max_bytes",
        "redis_config_maxmemory",
        "redis_config_maxclients",
        "redis_process_id",
        "redis_connected_slaves",
        "redis_aof_enabled",
        "redis_rdb_last_bgsave_status",
        "redis_replication_backlog_bytes",
        "redis_start_time_seconds",
        "redis_max_clients",
        "redis_hz",
        "redis_configured_hz",
        "redis_config_repl_backlog_size",
        "redis_mem_replication_backlog_bytes",
    ] {
        assert_eq!(o.value(name, &[]), p.value(name, &[]), "{name}");
        assert_eq!(o.types.get(name), p.types.get(name), "{name} type");
    }
    for db in ["db0", "db3", "db7"] {
        for name in ["redis_db_keys", "redis_db_keys_expiring"] {
            assert_eq!(
                o.value(name, &[("db", db)]),
                p.value(name, &[("db", db)]),
                "{name} {db}"
            );
        }
    }
    assert_eq!(
        o.value("redis_errors_total", &[("err", "WRONGTYPE")]),
        p.value("redis_errors_total", &[("err", "WRONGTYPE")])
    );
    for class in ["normal", "pubsub"] {
        for limit in ["hard", "soft"] {
            let l = [("class", class), ("limit", limit)];
            let name = "redis_config_client_output_buffer_limit_bytes";
            assert_eq!(o.value(name, &l), p.value(name, &l), "{name} {l:?}");
        }
    }
    // The latency histogram: the peer's type.
    assert_eq!(
        o.types
            .get("redis_commands_latencies_usec")
            .map(String::as_str),
        Some("histogram")
    );
    assert_eq!(
        o.types.get("redis_commands_latencies_usec"),
        p.types.get("redis_commands_latencies_usec")
    );
    // Counters keep the peer's type in the classic text format.
    for name in [
        "redis_commands_total",
        "redis_total_reads_processed",
        "redis_keyspace_hits_total",
    ] {
        assert_eq!(o.types.get(name), p.types.get(name), "{name} type");
    }
}
