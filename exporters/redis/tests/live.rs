//! Values against a live redis-server: the exporter's numbers equal what
//! Redis itself answers.

mod support;

use sidewatch_testkit::redis::Reply;
use sidewatch_testkit::{http_get, Exposition, Redis};
use support::*;

#[test]
fn keyspace_memory_and_instance_equal_what_redis_reports() {
    let r = Redis::start_with(&[("maxmemory", "100mb")]);
    run(
        &r,
        &[
            "SET a 1",
            "SET b 2",
            "EXPIRE a 1000",
            "SELECT 1",
            "SET c 3",
            "SELECT 5",
            "RPUSH l x y",
        ],
    );
    // avg_ttl is an estimate Redis refreshes in its expire cycle.
    wait_for("INFO's avg_ttl", || {
        !r.info_field("keyspace", "db0").ends_with("avg_ttl=0")
    });
    let e = exporter(&r, &[]);
    let x = scrape(&e);
    assert_eq!(x.value("redis_up", &[]), Some(1.0), "{}", e.log());
    for db in 0..16 {
        let dbsize = match &r.pipeline([
            vec!["SELECT".to_owned(), db.to_string()],
            vec!["DBSIZE".to_owned()],
        ])[1]
        {
            Reply::Int(n) => *n as f64,
            other => panic!("{other:?}"),
        };
        let label = format!("db{db}");
        assert_eq!(
            x.value("redis_db_keys", &[("db", &label)]),
            Some(dbsize),
            "db{db}"
        );
    }
    assert_eq!(
        x.value("redis_db_keys_expiring", &[("db", "db0")]),
        Some(1.0)
    );
    let ttl = x
        .value("redis_db_avg_ttl_seconds", &[("db", "db0")])
        .unwrap_or(0.0);
    assert!(ttl > 990.0 && ttl <= 1000.0, "{ttl}");
    let max: f64 = r.info_field("memory", "maxmemory").parse().unwrap_or(0.0);
    assert_eq!(max, 104_857_600.0);
    assert_eq!(x.value("redis_memory_max_bytes", &[]), Some(max));
    assert_eq!(x.value("redis_config_maxmemory", &[]), Some(max));
    let startup: f64 = r
        .info_field("memory", "used_memory_startup")
        .parse()
        .unwrap_or(0.0);
    assert_eq!(
        x.value("redis_memory_used_startup_bytes", &[]),
        Some(startup)
    );
    // used_memory moves with every connection's buffers (this test's own
    // included) and every command's bookkeeping, so it cannot be equal across
    // two INFO calls; the scrape must be close to INFO's right after it.
    let used = x.value("redis_memory_used_bytes", &[]).unwrap_or(0.0);
    let now: f64 = r.info_field("memory", "used_memory").parse().unwrap_or(0.0);
    assert!(
        (used - now).abs() / now < 0.25,
        "exporter {used} vs INFO {now}"
    );
    let version = r.info_field("server", "redis_version");
    let pid = r.info_field("server", "process_id");
    assert_eq!(
        x.value(
            "redis_instance_info",
            &[
                ("role", "master"),
                ("redis_version", &version),
                ("process_id", &pid)
            ]
        ),
        Some(1.0)
    );
    assert_eq!(x.value("redis_process_id", &[]), pid.parse().ok());
    let maxclients: f64 = r.query(&["CONFIG", "GET", "maxclients"]).as_array()[1].int() as f64;
    assert_eq!(x.value("redis_config_maxclients", &[]), Some(maxclients));
    assert_eq!(success(&x, "info"), Some(1.0));
    assert_eq!(
        x.value("redis_exporter_last_scrape_error", &[("err", "")]),
        Some(0.0)
    );
}

#[test]
fn command_counts_rise_by_the_commands_sent() {
    let r = Redis::start();
    let e = exporter(&r, &[]);
    run(&r, &["LPUSH warm x"]);
    let before = scrape(&e);
    let calls = |x: &sidewatch_testkit::Exposition| {
        x.value("redis_commands_total", &[("cmd", "lpush")])
            .unwrap_or(0.0)
    };
    let n = 37;
    let cmds: Vec<String> = (0..n).map(|i| format!("LPUSH q {i}")).collect();
    let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    run(&r, &refs);
    let after = scrape(&e);
    assert_eq!(calls(&after) - calls(&before), n as f64);
    let info_calls = r
        .info_field("commandstats", "cmdstat_lpush")
        .split(',')
        .find_map(|kv| kv.strip_prefix("calls="))
        .and_then(|v| v.parse::<f64>().ok());
    assert_eq!(Some(calls(&after)), info_calls);
    assert!(
        after
            .value("redis_commands_duration_seconds_total", &[("cmd", "lpush")])
            .unwrap_or(0.0)
            > 0.0
    );
    assert!(after
        .value(
            "redis_latency_percentiles_usec",
            &[("cmd", "lpush"), ("quantile", "50")]
        )
        .is_some());
    assert_eq!(
        after.value("redis_latency_percentiles_usec_count", &[("cmd", "lpush")]),
        Some(calls(&after))
    );
}

#[test]
fn key_sizes_equal_the_size_commands_by_type() {
    let r = Redis::start();
    run(
        &r,
        &[
            "SET k:str hello",
            "SET k:num 42.5",
            "RPUSH k:list a b c",
            "SADD k:set a b",
            "ZADD k:zset 1 a 2 b 3 c 4 d",
            "HSET k:hash f1 v1 f2 v2 f3 v3",
            "XADD k:stream * f v",
            "XADD k:stream * f v",
            "SELECT 2",
            "RPUSH jobs 1 2 3 4 5",
            "SET other 1",
        ],
    );
    let e = exporter(
        &r,
        &[
            "--check-keys=k:*",
            "--check-single-keys=db2=jobs,db2=missing",
            "--count-keys=db0=k:*,db2=*",
        ],
    );
    let x = scrape(&e);
    assert_eq!(success(&x, "keys"), Some(1.0), "{}", e.log());
    for (key, cmd) in [
        ("k:str", "STRLEN"),
        ("k:num", "STRLEN"),
        ("k:list", "LLEN"),
        ("k:set", "SCARD"),
        ("k:zset", "ZCARD"),
        ("k:hash", "HLEN"),
        ("k:stream", "XLEN"),
    ] {
        let want = r.int(&[cmd, key]) as f64;
        assert_eq!(
            x.value("redis_key_size", &[("db", "db0"), ("key", key)]),
            Some(want),
            "{key}"
        );
    }
    let jobs = r.pipeline([
        vec!["SELECT".to_owned(), "2".to_owned()],
        vec!["LLEN".to_owned(), "jobs".to_owned()],
    ])[1]
        .int() as f64;
    assert_eq!(
        x.value("redis_key_size", &[("db", "db2"), ("key", "jobs")]),
        Some(jobs)
    );
    assert!(x.value("redis_key_size", &[("key", "missing")]).is_none());
    assert_eq!(x.value("redis_key_value", &[("key", "k:num")]), Some(42.5));
    assert!(x.value("redis_key_value", &[("key", "k:str")]).is_none());
    assert_eq!(
        x.value("redis_keys_count", &[("db", "db0"), ("key", "k:*")]),
        Some(7.0)
    );
    assert_eq!(
        x.value("redis_keys_count", &[("db", "db2"), ("key", "*")]),
        Some(2.0)
    );
    // The string's content never becomes a label.
    assert!(!scrape_text(&e).contains("hello"));
}

#[test]
fn stream_groups_lag_and_pending_equal_xinfo() {
    let r = Redis::start();
    let mut cmds: Vec<String> = (0..5).map(|i| format!("XADD events * n {i}")).collect();
    cmds.push("XGROUP CREATE events workers 0".into());
    cmds.push("XGROUP CREATE events idle $".into());
    cmds.push("XREADGROUP GROUP workers alice COUNT 3 STREAMS events >".into());
    cmds.push("XREADGROUP GROUP workers bob COUNT 1 STREAMS events >".into());
    cmds.push("XADD other:stream * a b".into());
    cmds.push("RPUSH not-a-stream x".into());
    let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    run(&r, &refs);
    // Acknowledge one of alice's, so pending differs from delivered.
    let first = r
        .query(&["XRANGE", "events", "-", "+", "COUNT", "1"])
        .as_array()[0]
        .as_array()[0]
        .text();
    r.query(&["XACK", "events", "workers", &first]);
    let e = exporter(
        &r,
        &[
            "--check-streams=other:*",
            "--check-single-streams=events,not-a-stream",
        ],
    );
    let x = scrape(&e);
    assert_eq!(success(&x, "streams"), Some(1.0), "{}", e.log());
    let s = [("db", "db0"), ("stream", "events")];
    assert_eq!(
        x.value("redis_stream_length", &s),
        Some(r.int(&["XLEN", "events"]) as f64)
    );
    assert_eq!(x.value("redis_stream_groups", &s), Some(2.0));
    let groups = r.query(&["XINFO", "GROUPS", "events"]);
    for g in groups.as_array() {
        let name = g.field("name").text();
        let l = [
            ("db", "db0"),
            ("stream", "events"),
            ("group", name.as_str()),
        ];
        assert_eq!(
            x.value("redis_stream_group_messages_pending", &l),
            Some(g.field("pending").int() as f64),
            "{name}"
        );
        assert_eq!(
            x.value("redis_stream_group_lag", &l),
            Some(g.field("lag").int() as f64),
            "{name}"
        );
        assert_eq!(
            x.value("redis_stream_group_consumers", &l),
            Some(g.field("consumers").int() as f64),
            "{name}"
        );
        assert_eq!(
            x.value("redis_stream_group_entries_read", &l),
            match g.field("entries-read") {
                Reply::Nil => None,
                v => Some(v.int() as f64),
            },
            "{name}"
        );
    }
    // workers: 4 delivered, 1 acked → 3 pending, 1 not yet delivered.
    let w = [("db", "db0"), ("stream", "events"), ("group", "workers")];
    assert_eq!(
        x.value("redis_stream_group_messages_pending", &w),
        Some(3.0)
    );
    assert_eq!(x.value("redis_stream_group_lag", &w), Some(1.0));
    for c in r
        .query(&["XINFO", "CONSUMERS", "events", "workers"])
        .as_array()
    {
        let name = c.field("name").text();
        let l = [("group", "workers"), ("consumer", name.as_str())];
        assert_eq!(
            x.value("redis_stream_group_consumer_messages_pending", &l),
            Some(c.field("pending").int() as f64),
            "{name}"
        );
        // Idle time grows between the scrape and XINFO; a few seconds of slack.
        let idle = x
            .value("redis_stream_group_consumer_idle_seconds", &l)
            .unwrap_or(f64::NAN);
        let xinfo_idle = c.field("idle").int() as f64 / 1e3;
        assert!(
            idle >= 0.0 && idle <= xinfo_idle && xinfo_idle - idle < 5.0,
            "{idle} vs {xinfo_idle}"
        );
    }
    // Found through the pattern.
    assert_eq!(
        x.value("redis_stream_length", &[("stream", "other:stream")]),
        Some(1.0)
    );
    // A list named as a stream: reported, and the rest still answers.
    assert_eq!(
        x.value(
            "redis_key_check_unexpected_type",
            &[
                ("check", "streams"),
                ("key", "not-a-stream"),
                ("type", "list")
            ]
        ),
        Some(1.0)
    );
}

#[test]
fn scrapes_reuse_one_connection() {
    let r = Redis::start();
    let e = exporter(&r, &["--check-keys=*", "--check-single-streams=s"]);
    let id = || {
        r.query(&["CLIENT", "LIST"])
            .text()
            .lines()
            .filter(|l| l.contains(" name=sidewatch-redis "))
            .map(|l| l.split_whitespace().next().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(scrape(&e).value("redis_up", &[]), Some(1.0));
    let first = id();
    assert_eq!(first.len(), 1, "{first:?}");
    for _ in 0..5 {
        assert_eq!(scrape(&e).value("redis_up", &[]), Some(1.0));
    }
    assert_eq!(id(), first, "the same connection serves every scrape");
}

#[test]
fn rediss_with_ca_and_client_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = sidewatch_testkit::certs::TestCerts::create(dir.path());
    let tls_port = sidewatch_testkit::free_port().to_string();
    let (crt, key, ca) = (
        certs.path("server.crt"),
        certs.path("server.key"),
        certs.path("ca.crt"),
    );
    let r = Redis::start_with(&[
        ("tls-port", &tls_port),
        ("tls-cert-file", &crt),
        ("tls-key-file", &key),
        ("tls-ca-cert-file", &ca),
        ("tls-auth-clients", "yes"),
    ]);
    run(&r, &["SET over tls"]);
    let addr = format!("--redis.addr=rediss://127.0.0.1:{tls_port}");
    let start = |extra: &[&str]| {
        let mut args = vec![addr.as_str()];
        args.extend_from_slice(extra);
        let e = sidewatch_testkit::Exporter::start_unchecked(bin(), &args);
        assert!(e.wait_listening(), "{}", e.log());
        e
    };
    let (ca_flag, cert_flag, key_flag) = (
        format!("--tls-ca-cert-file={ca}"),
        format!("--tls-client-cert-file={}", certs.path("client.crt")),
        format!("--tls-client-key-file={}", certs.path("client.key")),
    );
    let good = start(&[&ca_flag, &cert_flag, &key_flag]);
    let x = scrape(&good);
    assert_eq!(x.value("redis_up", &[]), Some(1.0), "{}", good.log());
    assert_eq!(x.value("redis_db_keys", &[("db", "db0")]), Some(1.0));
    // Without the client certificate the server refuses the handshake.
    let no_cert = start(&[&ca_flag]);
    assert_eq!(scrape(&no_cert).value("redis_up", &[]), Some(0.0));
    // Without the CA the server's certificate is not trusted.
    let no_ca = start(&[&cert_flag, &key_flag]);
    assert_eq!(scrape(&no_ca).value("redis_up", &[]), Some(0.0));
    assert!(no_ca.log().contains("TLS handshake"), "{}", no_ca.log());
}

/// redis_exporter 1.86's switches, each doing what its --help says:
/// no zeros for empty databases, no key values, no /scrape, basic auth from
/// flags, and key checks skipped while the instance is a master.
#[test]
fn peer_switches_do_what_they_say() {
    use sidewatch_testkit::http_get_header;
    let r = Redis::start();
    run(&r, &["SET a 5", "SELECT 2", "SET b xyz"]);
    let e = exporter(
        &r,
        &[
            "-check-single-keys=a,db2=b",
            "-include-metrics-for-empty-databases=false",
            "-disable-exporting-key-values",
            "-disable-scrape-endpoint",
            "-basic-auth-username=u",
            "-basic-auth-password=p",
            "-log-level=WARN",
        ],
    );
    let unauth = http_get(&e.url("/metrics")).expect_err("no credentials");
    assert!(unauth.contains("401"), "{unauth}");
    // u:p
    let auth = ("Authorization", "Basic dTpw");
    let text = http_get_header(&e.url("/metrics"), auth).expect("scrape");
    let x = Exposition::parse(&text);
    assert_eq!(x.value("redis_db_keys", &[("db", "db0")]), Some(1.0));
    assert_eq!(x.value("redis_db_keys", &[("db", "db2")]), Some(1.0));
    assert_eq!(
        x.value("redis_db_keys", &[("db", "db1")]),
        None,
        "empty db left out"
    );
    assert_eq!(
        x.value("redis_key_size", &[("db", "db0"), ("key", "a")]),
        Some(1.0)
    );
    assert_eq!(
        x.value("redis_key_size", &[("db", "db2"), ("key", "b")]),
        Some(3.0)
    );
    assert!(x.samples("redis_key_value").is_empty(), "{text}");
    let scraped =
        sidewatch_testkit::http_get_query_header(&e.url("/scrape"), &[("target", &r.url())], auth)
            .expect_err("no /scrape");
    assert!(scraped.contains("404"), "{scraped}");
    assert!(!e.log().contains("level=info"), "{}", e.log());

    // Master: sizes skipped, counts still run.
    let m = exporter(
        &r,
        &[
            "-check-single-keys=a",
            "-count-keys=db0=*",
            "-skip-checkkeys-for-role-master",
        ],
    );
    let x = scrape(&m);
    assert!(x.samples("redis_key_size").is_empty());
    assert_eq!(
        x.value("redis_keys_count", &[("db", "db0"), ("key", "*")]),
        Some(1.0)
    );
    // A replica (of a master that is not there) is checked.
    run(&r, &["REPLICAOF 127.0.0.1 1"]);
    let x = scrape(&m);
    assert_eq!(
        x.value("redis_key_size", &[("db", "db0"), ("key", "a")]),
        Some(1.0),
        "{}",
        m.log()
    );
    run(&r, &["REPLICAOF NO ONE"]);
}
