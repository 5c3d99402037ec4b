//! Scrapes that never hang: stopped, hung and unreachable servers, wrong
//! passwords, keys of the wrong type, and a bounded number of connections.

mod support;

use std::time::{Duration, Instant};

use sidewatch_testkit::blackhole::Blackhole;
use sidewatch_testkit::{http_get, rss_bytes, Exporter, Redis};
use support::*;

/// Scrapes, asserting the answer came within `limit`.
fn timed_scrape(e: &Exporter, limit: Duration) -> sidewatch_testkit::Exposition {
    let started = Instant::now();
    let x = scrape(e);
    assert!(
        started.elapsed() < limit,
        "scrape took {:?}",
        started.elapsed()
    );
    x
}

#[test]
fn stopped_server_gives_up_0_then_recovers_without_restart() {
    let mut r = Redis::start();
    let e = exporter(&r, &["--scrape.timeout=2s", "--connection-timeout=1s"]);
    assert_eq!(scrape(&e).value("redis_up", &[]), Some(1.0));
    r.stop();
    let x = timed_scrape(&e, Duration::from_secs(4));
    assert_eq!(x.value("redis_up", &[]), Some(0.0));
    assert_eq!(success(&x, "info"), Some(0.0));
    assert_eq!(
        x.value(
            "redis_exporter_last_scrape_error",
            &[("err", "target unreachable")]
        ),
        Some(1.0)
    );
    r.restart();
    let x = scrape(&e);
    assert_eq!(x.value("redis_up", &[]), Some(1.0), "{}", e.log());
    assert_eq!(success(&x, "info"), Some(1.0));
    assert_eq!(exporter_connections(&r), 1);
}

#[test]
fn hung_server_holds_the_deadline_and_connections_stay_bounded() {
    let r = Redis::start();
    let e = exporter(
        &r,
        &[
            "--scrape.timeout=2s",
            "--connection-timeout=10s",
            "--check-keys=*",
        ],
    );
    assert_eq!(scrape(&e).value("redis_up", &[]), Some(1.0));
    r.pause();
    for _ in 0..3 {
        let x = timed_scrape(&e, Duration::from_secs(4));
        assert_eq!(x.value("redis_up", &[]), Some(0.0));
        assert_eq!(success(&x, "info"), Some(0.0));
    }
    r.resume();
    wait_for("redis_up 1 after SIGCONT", || {
        scrape(&e).value("redis_up", &[]) == Some(1.0)
    });
    // Connections abandoned at the deadline were closed, not kept.
    wait_for("one connection", || exporter_connections(&r) == 1);
}

#[test]
fn scrape_timeout_header_bounds_a_slow_server() {
    let r = Redis::start_with(&[("enable-debug-command", "yes")]);
    let e = exporter(&r, &["--scrape.timeout=10s"]);
    assert_eq!(scrape(&e).value("redis_up", &[]), Some(1.0));
    let sleeper = {
        let port = r.port;
        std::thread::spawn(move || {
            let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            use std::io::{Read, Write};
            let mut s = s;
            s.write_all(b"*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$1\r\n3\r\n")
                .expect("write");
            let mut buf = [0u8; 16];
            let _ = s.read(&mut buf);
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let text = sidewatch_testkit::http_get_header(
        &e.url("/metrics"),
        ("X-Prometheus-Scrape-Timeout-Seconds", "1.5"),
    )
    .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    let x = sidewatch_testkit::Exposition::parse(&text);
    assert_eq!(x.value("redis_up", &[]), Some(0.0));
    let _ = sleeper.join();
    wait_for("redis_up 1 after DEBUG SLEEP", || {
        scrape(&e).value("redis_up", &[]) == Some(1.0)
    });
}

#[test]
fn unreachable_address_gives_up_0_within_the_deadline() {
    let hole = Blackhole::start();
    let e = Exporter::start_unchecked(
        bin(),
        &[
            &format!("--redis.addr=redis://{}", hole.addr()),
            "--scrape.timeout=2s",
        ],
    );
    assert!(e.wait_listening());
    for _ in 0..3 {
        let x = timed_scrape(&e, Duration::from_secs(4));
        assert_eq!(x.value("redis_up", &[]), Some(0.0));
    }
    assert!(
        hole.connections() <= 6,
        "{} connections",
        hole.connections()
    );
}

#[test]
fn wrong_password_gives_up_0_and_never_logs_the_password() {
    let r = Redis::start_with(&[("requirepass", "right-secret")]);
    let e = Exporter::start_unchecked_env(
        bin(),
        &[&format!("--redis.addr={}", r.url())],
        &[("REDIS_PASSWORD", "wrong-hunter2")],
    );
    assert!(e.wait_listening());
    let text = scrape_text(&e);
    let x = sidewatch_testkit::Exposition::parse(&text);
    assert_eq!(x.value("redis_up", &[]), Some(0.0));
    let log = e.log();
    assert!(log.contains("authentication failed"), "{log}");
    assert!(!log.contains("wrong-hunter2"), "{log}");
    assert!(!text.contains("wrong-hunter2"));
    let landing = http_get(&e.url("/")).unwrap_or_default();
    assert!(!landing.contains("wrong-hunter2"));

    // The right one, from a password file keyed by URI, works.
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = dir.path().join("pw.json");
    std::fs::write(&pw, format!("{{\"{}\": \"right-secret\"}}", r.url())).expect("write");
    let good = exporter(&r, &[&format!("--redis.password-file={}", pw.display())]);
    assert_eq!(
        scrape(&good).value("redis_up", &[]),
        Some(1.0),
        "{}",
        good.log()
    );
}

#[test]
fn scrape_endpoint_uses_the_password_file_per_target() {
    let locked = Redis::start_with(&[("requirepass", "s3cret")]);
    let open = Redis::start();
    run(&open, &["SET a 1", "SET b 2"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = dir.path().join("pw.json");
    std::fs::write(&pw, format!("{{\"{}\": \"s3cret\"}}", locked.url())).expect("write");
    let e = Exporter::start_unchecked(
        bin(),
        &[
            "--redis.addr=",
            &format!("--redis.password-file={}", pw.display()),
        ],
    );
    assert!(e.wait_listening());
    let get = |target: &str| {
        sidewatch_testkit::http_get_query(&e.url("/scrape"), &[("target", target)])
            .unwrap_or_else(|err| panic!("{err}"))
    };
    let x = sidewatch_testkit::Exposition::parse(&get(&locked.url()));
    assert_eq!(x.value("redis_up", &[]), Some(1.0), "{}", e.log());
    let x = sidewatch_testkit::Exposition::parse(&get(&format!("127.0.0.1:{}", open.port)));
    assert_eq!(x.value("redis_db_keys", &[("db", "db0")]), Some(2.0));
    // No connection is left behind by /scrape.
    wait_for("no exporter connection", || {
        exporter_connections(&open) == 0
    });
    let bad = sidewatch_testkit::http_get_query(&e.url("/scrape"), &[("target", "http://x")]);
    assert!(bad.is_err(), "{bad:?}");
}

#[test]
fn bounded_walk_over_many_keys() {
    let r = Redis::start();
    let n = 30_000;
    r.pipeline((0..n).map(|i| vec!["SET".to_owned(), format!("many:{i}"), "1".to_owned()]));
    let e = exporter(
        &r,
        &[
            "--check-keys=many:*",
            "--count-keys=many:*",
            "--check-keys.max-keys=2000",
            "--check-keys-batch-size=500",
            "--scrape.series-limit=1500",
        ],
    );
    let x = timed_scrape(&e, Duration::from_secs(9));
    assert_eq!(success(&x, "keys"), Some(1.0), "{}", e.log());
    // Capped by the key budget, then by the series limit, and counted.
    let sizes = x.samples("redis_key_size").len();
    assert!(sizes <= 1500, "{sizes}");
    assert!(
        x.value(
            "redis_scrape_collector_dropped_series_total",
            &[("collector", "keys")]
        )
        .unwrap_or(0.0)
            > 0.0
    );
    assert!(
        x.value(
            "redis_key_checks_truncated_total",
            &[("check", "check-keys"), ("pattern", "many:*")]
        )
        .unwrap_or(0.0)
            >= 1.0
    );
    // The count walk resumes across scrapes and then reports the exact total.
    assert!(x.value("redis_keys_count", &[("key", "many:*")]).is_none());
    let mut count = None;
    for _ in 0..40 {
        count = scrape(&e).value("redis_keys_count", &[("key", "many:*")]);
        if count.is_some() {
            break;
        }
    }
    assert_eq!(count, Some(n as f64));
}

/// A fake "Redis" for /scrape that answers every connection with a status
/// line that never ends (up to 512 MiB, or until the exporter hangs up) cannot
/// make the exporter hold more than --redis.max-reply-bytes: the scrape is
/// `redis_up 0` and resident memory stays small.
#[test]
fn an_endless_reply_is_cut_at_the_reply_bound() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let mut sent_total = 0u64;
        for _ in 0..3 {
            let Ok((mut s, _)) = listener.accept() else {
                break;
            };
            let chunk = vec![b'a'; 1 << 20];
            let _ = s.write_all(b"+");
            let mut sent = 0u64;
            while sent < 512 << 20 && s.write_all(&chunk).is_ok() {
                sent += chunk.len() as u64;
            }
            sent_total += sent;
        }
        sent_total
    });
    let mut e = Exporter::start_unchecked(bin(), &["--redis.addr=", "--scrape.timeout=4s"]);
    assert!(e.wait_listening());
    let pid = e.service().pid().expect("pid");
    let before = rss_bytes(pid);
    for _ in 0..3 {
        let body = sidewatch_testkit::http_get_query(
            &e.url("/scrape"),
            &[("target", &format!("redis://127.0.0.1:{port}"))],
        )
        .unwrap_or_else(|err| panic!("{err}"));
        let x = sidewatch_testkit::Exposition::parse(&body);
        assert_eq!(x.value("redis_up", &[]), Some(0.0), "{}", e.log());
    }
    let after = rss_bytes(pid);
    let sent = server.join().expect("fake server");
    // The default bound is 64 MiB per reply; the line cap stops this one at 64 KiB.
    assert!(
        after < before + (32 << 20),
        "RSS grew from {before} to {after} bytes after the server sent {sent}"
    );
    assert!(e.log().contains("reply line longer than"), "{}", e.log());
}
