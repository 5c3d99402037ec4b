//! Coverage against Debian's prometheus-redis-exporter on the same server
//! with default flags: its families, by the name Prometheus stores, with the
//! same label names; and the same values where a value cannot move between
//! two scrapes.

mod support;

use sidewatch_testkit::exposition::Coverage;
use sidewatch_testkit::peerflags::Take;
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

/// Every flag in redis_exporter 1.86's `--help`: taken with its meaning (the
/// command line passes --config.check; the live tests check what each does)
/// or refused with a reason.
const FLAGS: &[(&str, Take)] = &[
    ("append-instance-role-label", Take::Refuse("redis_instance_info{role}")),
    ("basic-auth-hash-password", Take::Accept("-basic-auth-username=u -basic-auth-hash-password=$2y$10$Ubo4.Ewd3WPYSm9dyeRvteHeP1XXVoWKPpV6LEDl2WJZ9EFMBUjm6")),
    ("basic-auth-password", Take::Accept("-basic-auth-username=u -basic-auth-password=p")),
    ("basic-auth-username", Take::Accept("--basic-auth-username=u --basic-auth-password=p")),
    ("check-key-groups", Take::Refuse("key groups")),
    ("check-keys", Take::Accept("-check-keys=db1=user:*")),
    ("check-keys-batch-size", Take::Accept("-check-keys-batch-size=500")),
    ("check-search-indexes", Take::Refuse("RediSearch")),
    ("check-single-keys", Take::Accept("-check-single-keys=a,db2=b")),
    ("check-single-streams", Take::Accept("-check-single-streams=s")),
    ("check-streams", Take::Accept("-check-streams=s*")),
    ("cluster-discover-hostnames", Take::Refuse("/discover-cluster-nodes")),
    ("config-command", Take::Accept("-config-command=CONFIG")),
    ("connection-timeout", Take::Accept("-connection-timeout=3s")),
    ("count-keys", Take::Accept("-count-keys=db0=q:*")),
    ("debug", Take::Accept("-debug")),
    ("disable-exporting-key-values", Take::Accept("-disable-exporting-key-values")),
    ("disable-scrape-endpoint", Take::Accept("-disable-scrape-endpoint")),
    ("exclude-latency-histogram-metrics", Take::Accept("-exclude-latency-histogram-metrics=true")),
    ("export-client-list", Take::Refuse("unbounded")),
    ("export-client-port", Take::Refuse("client list")),
    ("include-config-metrics", Take::Refuse("fixed list")),
    ("include-go-runtime-metrics", Take::Refuse("not a Go program")),
    ("include-metrics-for-empty-databases", Take::Accept("-include-metrics-for-empty-databases=false")),
    ("include-modules-metrics", Take::Refuse("INFO MODULES")),
    ("include-rdb-file-size-metric", Take::Refuse("RDB file")),
    ("include-search-indexes-metrics", Take::Refuse("RediSearch")),
    ("include-sentinel-peer-info", Take::Refuse("Sentinel")),
    ("include-system-metrics", Take::Accept("-include-system-metrics")),
    ("is-cluster", Take::Accept("-is-cluster")),
    ("is-tile38", Take::Refuse("Tile38")),
    ("log-format", Take::Accept("-log-format=json")),
    ("log-level", Take::Accept("-log-level=WARN")),
    ("lua-script-read-only", Take::Refuse("Lua")),
    ("max-distinct-key-groups", Take::Refuse("key groups")),
    ("namespace", Take::Accept("-namespace=kv")),
    ("ping-on-connect", Take::Accept("-ping-on-connect")),
    ("redact-config-metrics", Take::Accept("-redact-config-metrics=true")),
    ("redis-only-metrics", Take::Accept("-redis-only-metrics")),
    ("redis.addr", Take::Accept("-redis.addr=redis://127.0.0.1:6390/2")),
    ("redis.password", Take::Accept("-redis.password=secret")),
    ("redis.password-file", Take::Accept("-redis.password-file={dir}/passwords.json")),
    ("redis.user", Take::Accept("-redis.user=default")),
    ("script", Take::Refuse("Lua scripts")),
    ("set-client-name", Take::Accept("-set-client-name=false")),
    ("skip-checkkeys-for-role-master", Take::Accept("-skip-checkkeys-for-role-master")),
    ("skip-tls-verification", Take::Accept("-skip-tls-verification")),
    ("streams-exclude-consumer-metrics", Take::Accept("-streams-exclude-consumer-metrics")),
    ("tls-ca-cert-file", Take::Accept("-tls-ca-cert-file={dir}/ca.crt")),
    ("tls-client-cert-file", Take::Accept("-tls-client-cert-file={dir}/client.crt -tls-client-key-file={dir}/client.key")),
    ("tls-client-key-file", Take::Accept("-tls-client-key-file={dir}/client.key -tls-client-cert-file={dir}/client.crt")),
    ("tls-server-ca-cert-file", Take::Accept("-tls-server-ca-cert-file={dir}/ca.crt -tls-server-cert-file={dir}/server.crt -tls-server-key-file={dir}/server.key")),
    ("tls-server-cert-file", Take::Accept("-tls-server-cert-file={dir}/server.crt -tls-server-key-file={dir}/server.key")),
    ("tls-server-key-file", Take::Accept("-tls-server-key-file={dir}/server.key -tls-server-cert-file={dir}/server.crt")),
    ("tls-server-min-version", Take::Accept("-tls-server-min-version=TLS1.3 -tls-server-cert-file={dir}/server.crt -tls-server-key-file={dir}/server.key")),
    ("version", Take::Accept("-version")),
    ("web.listen-address", Take::Accept("-web.listen-address=127.0.0.1:19121")),
    ("web.telemetry-path", Take::Accept("-web.telemetry-path=/m")),
];

#[test]
fn every_peer_flag_is_taken_or_refused_with_a_reason() {
    let peer = debian_program(
        "sid",
        "prometheus-redis-exporter",
        "prometheus-redis-exporter",
    )
    .expect("sid's prometheus-redis-exporter (scripts/test.sh fetches it)");
    let dir = tempfile::tempdir().expect("tmp");
    sidewatch_testkit::certs::TestCerts::create(dir.path());
    std::fs::write(
        dir.path().join("passwords.json"),
        r#"{"redis://127.0.0.1:6390": "pw"}"#,
    )
    .expect("write");
    let problems =
        sidewatch_testkit::peerflags::check(&peer, support::bin(), &[], FLAGS, dir.path());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
