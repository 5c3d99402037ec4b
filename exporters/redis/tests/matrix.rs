//! The server matrix: Redis 7 (Debian bookworm's), Redis 8 and Valkey 8
//! (trixie's, in containers), each started once. Every collector succeeds
//! and the values equal the server's own answers; on Valkey,
//! redis_instance_info carries valkey_version as redis_exporter 1.86 gives it.

mod support;

use sidewatch_testkit::redis::Reply;
use sidewatch_testkit::{debian_program, http_get, wait_until, Exporter, Exposition, Redis};
use support::*;

fn instance_labels(x: &Exposition) -> std::collections::BTreeMap<String, String> {
    x.samples("redis_instance_info")
        .into_iter()
        .next()
        .map(|(l, _)| l.into_iter().collect())
        .unwrap_or_default()
}

#[test]
fn redis_7_and_8_and_valkey_8() {
    let servers = [
        ("Redis 7", Redis::start(), false),
        (
            "Redis 8",
            Redis::in_container("sidewatch-test/redis:8", &[]),
            false,
        ),
        (
            "Valkey 8",
            Redis::in_container("sidewatch-test/valkey:8", &[]),
            true,
        ),
    ];
    let peer_bin = debian_program(
        "sid",
        "prometheus-redis-exporter",
        "prometheus-redis-exporter",
    )
    .expect("sid's prometheus-redis-exporter (scripts/test.sh fetches it)");
    for (at, r, valkey) in &servers {
        run(
            r,
            &["SET a 1", "SET b 2", "RPUSH q x y z", "SELECT 4", "SET c 3"],
        );
        let e = exporter(r, &["-check-single-keys=q", "-count-keys=db0=*"]);
        let x = scrape(&e);
        assert_eq!(x.value("redis_up", &[]), Some(1.0), "{at}: {}", e.log());
        let results = x.samples("redis_scrape_collector_success");
        assert_eq!(results.len(), 2, "{at}: {results:?}");
        for (labels, ok) in &results {
            assert_eq!(*ok, 1.0, "{at}: {labels:?}\n{}", e.log());
        }
        let info = instance_labels(&x);
        assert_eq!(
            info.get("redis_version"),
            Some(&r.info_field("server", "redis_version")),
            "{at}"
        );
        if *valkey {
            assert_eq!(
                info.get("valkey_version"),
                Some(&r.info_field("server", "valkey_version")),
                "{at}"
            );
            assert!(info["valkey_version"].starts_with("8."), "{at}: {info:?}");
        } else {
            assert!(!info.contains_key("valkey_version"), "{at}: {info:?}");
        }
        assert_eq!(
            x.value("redis_db_keys", &[("db", "db0")]),
            Some(r.int(&["DBSIZE"]) as f64),
            "{at}"
        );
        assert_eq!(
            x.value("redis_db_keys", &[("db", "db4")]),
            Some(1.0),
            "{at}"
        );
        assert_eq!(
            x.value("redis_db_keys", &[("db", "db1")]),
            Some(0.0),
            "{at}"
        );
        let Reply::Array(maxclients) = r.query(&["CONFIG", "GET", "maxclients"]) else {
            panic!("{at}: CONFIG GET")
        };
        let Some(Reply::Bulk(maxclients)) = maxclients.get(1) else {
            panic!("{at}: CONFIG GET maxclients")
        };
        assert_eq!(
            x.value("redis_config_maxclients", &[]),
            maxclients.parse().ok(),
            "{at}"
        );
        assert_eq!(
            x.value("redis_key_size", &[("db", "db0"), ("key", "q")]),
            Some(3.0),
            "{at}"
        );
        assert_eq!(
            x.value("redis_keys_count", &[("db", "db0"), ("key", "*")]),
            Some(3.0),
            "{at}"
        );
        // Commands counted by the server itself: calls of SET so far.
        let calls: f64 = r
            .info_field("commandstats", "cmdstat_set")
            .split(',')
            .find_map(|kv| kv.strip_prefix("calls="))
            .and_then(|n| n.parse().ok())
            .expect("cmdstat_set calls");
        assert_eq!(
            x.value("redis_commands_total", &[("cmd", "set")]),
            Some(calls),
            "{at}"
        );

        // The same label names on instance_info as today's peer on this server.
        let peer = Exporter::start_unchecked(&peer_bin, &[&format!("-redis.addr={}", r.url())]);
        assert!(peer.wait_listening(), "{}", peer.log());
        let mut peer_text = String::new();
        assert!(wait_until(std::time::Duration::from_secs(20), || {
            peer_text = http_get(&peer.url("/metrics")).unwrap_or_default();
            peer_text.contains("redis_up 1")
        }));
        let theirs = instance_labels(&Exposition::parse(&peer_text));
        assert_eq!(
            info.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{at}"
        );
    }
}
