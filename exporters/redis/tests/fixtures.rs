//! The INFO mapping against committed INFO replies of several Redis
//! versions and roles (tests/data/info), values checked against the text.

use std::path::Path;

use sidewatch_common::Family;
use sidewatch_redis::collectors::info::{families, Extras, InfoOptions};
use sidewatch_redis::info::Info;

fn load(name: &str) -> (Info, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/info")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (Info::parse(&text), text)
}

fn field(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("fixture has no numeric {name}"))
}

fn value(fams: &[Family], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let f = fams.iter().find(|f| f.name == name)?;
    f.samples
        .iter()
        .find(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|s| s.value)
}

fn extras(databases: u32) -> Extras {
    Extras {
        config: vec![("databases".into(), databases.to_string())],
        now: 2_000_000_000.0,
        ..Extras::default()
    }
}

#[test]
fn redis_7_primary() {
    let (info, text) = load("redis-7.0.15-primary.txt");
    let f = families("redis", &info, &extras(16), InfoOptions::default());
    assert_eq!(
        value(&f, "redis_memory_used_bytes", &[]),
        Some(field(&text, "used_memory"))
    );
    assert_eq!(
        value(&f, "redis_connections_received_total", &[]),
        Some(field(&text, "total_connections_received"))
    );
    assert_eq!(
        value(&f, "redis_cpu_user_seconds_total", &[]),
        Some(field(&text, "used_cpu_user"))
    );
    assert_eq!(value(&f, "redis_rdb_last_bgsave_status", &[]), Some(1.0));
    assert_eq!(
        value(&f, "redis_latest_fork_seconds", &[]),
        Some(field(&text, "latest_fork_usec") / 1e6)
    );
    // Keyspace: present databases from INFO, the other 14 as zero.
    assert_eq!(value(&f, "redis_db_keys", &[("db", "db0")]), Some(3.0));
    assert_eq!(value(&f, "redis_db_keys", &[("db", "db1")]), Some(1.0));
    assert_eq!(value(&f, "redis_db_keys", &[("db", "db15")]), Some(0.0));
    let keys = f
        .iter()
        .find(|x| x.name == "redis_db_keys")
        .map(|x| x.samples.len());
    assert_eq!(keys, Some(16));
    // Commandstats, errorstats and latencystats.
    assert_eq!(
        value(&f, "redis_commands_total", &[("cmd", "xadd")]),
        Some(1.0)
    );
    assert_eq!(
        value(&f, "redis_commands_failed_calls_total", &[("cmd", "hget")]),
        Some(1.0)
    );
    assert!(value(&f, "redis_errors_total", &[("err", "WRONGTYPE")]).is_some());
    assert_eq!(
        value(
            &f,
            "redis_latency_percentiles_usec",
            &[("cmd", "xadd"), ("quantile", "99.9")]
        ),
        Some(15.039)
    );
    assert_eq!(
        value(
            &f,
            "redis_latency_percentiles_usec_count",
            &[("cmd", "xadd")]
        ),
        Some(1.0)
    );
    // The replica as the primary sees it.
    assert_eq!(
        value(
            &f,
            "redis_connected_slave_lag_seconds",
            &[
                ("slave_ip", "127.0.0.1"),
                ("slave_port", "6392"),
                ("slave_state", "online")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&f, "redis_start_time_seconds", &[]),
        Some((field(&text, "server_time_usec") / 1e6).floor() - field(&text, "uptime_in_seconds"))
    );
    assert_eq!(
        value(
            &f,
            "redis_instance_info",
            &[("role", "master"), ("redis_version", "7.0.15")]
        ),
        Some(1.0)
    );
    assert!(value(&f, "redis_total_system_memory_bytes", &[]).is_none());
    let with_system = families(
        "redis",
        &info,
        &extras(16),
        InfoOptions {
            system_metrics: true,
            ..InfoOptions::default()
        },
    );
    assert_eq!(
        value(&with_system, "redis_total_system_memory_bytes", &[]),
        Some(field(&text, "total_system_memory"))
    );
}

#[test]
fn redis_7_replica() {
    let (info, text) = load("redis-7.0.15-replica.txt");
    let f = families("redis", &info, &extras(16), InfoOptions::default());
    let link = [("master_host", "127.0.0.1"), ("master_port", "6390")];
    assert_eq!(value(&f, "redis_master_link_up", &link), Some(1.0));
    assert_eq!(
        value(&f, "redis_slave_repl_offset", &link),
        Some(field(&text, "slave_repl_offset"))
    );
    assert_eq!(
        value(&f, "redis_slave_info", &[("read_only", "1")]),
        Some(1.0)
    );
    assert_eq!(
        value(&f, "redis_instance_info", &[("role", "slave")]),
        Some(1.0)
    );
    assert!(value(&f, "redis_connected_slave_lag_seconds", &[]).is_none());
}

#[test]
fn redis_6_has_no_latencystats_and_still_maps() {
    let (info, text) = load("redis-6.2.14.txt");
    let f = families("redis", &info, &extras(16), InfoOptions::default());
    assert_eq!(
        value(&f, "redis_memory_used_bytes", &[]),
        Some(field(&text, "used_memory"))
    );
    assert_eq!(value(&f, "redis_db_keys", &[("db", "db2")]), Some(1.0));
    assert_eq!(
        value(&f, "redis_commands_total", &[("cmd", "rpush")]),
        Some(1.0)
    );
    assert_eq!(
        value(&f, "redis_errors_total", &[("err", "WRONGTYPE")]),
        Some(1.0)
    );
    assert!(f.iter().all(|x| x.name != "redis_latency_percentiles_usec"));
    assert_eq!(
        value(&f, "redis_instance_info", &[("redis_version", "6.2.14")]),
        Some(1.0)
    );
}

#[test]
fn unknown_fields_missing_sections_and_junk() {
    // A compatible server that answers only some sections, with fields
    // Redis does not have and lines that are not `field:value`.
    let text = "# Server\r\nredis_version:7.2.0\r\ndragonfly_version:df-v1.14\r\nrole:master\r\n\
                uptime_in_seconds:abc\r\n# Memory\r\nused_memory:1024\r\nused_memory_peak:\r\n\
                garbage without colon\r\n# Keyspace\r\ndb0:keys=5,expires=0\r\ndbx:keys=1\r\n";
    let info = Info::parse(text);
    let f = families("ns", &info, &Extras::default(), InfoOptions::default());
    assert_eq!(value(&f, "ns_memory_used_bytes", &[]), Some(1024.0));
    assert_eq!(value(&f, "ns_db_keys", &[("db", "db0")]), Some(5.0));
    assert!(value(&f, "ns_db_avg_ttl_seconds", &[]).is_none());
    assert!(value(&f, "ns_uptime_in_seconds", &[]).is_none());
    assert!(value(&f, "ns_memory_used_peak_bytes", &[]).is_none());
    assert!(value(&f, "ns_commands_total", &[]).is_none());
    // Nothing at all is fine too.
    assert!(families(
        "ns",
        &Info::parse(""),
        &Extras::default(),
        InfoOptions::default()
    )
    .is_empty());
}
