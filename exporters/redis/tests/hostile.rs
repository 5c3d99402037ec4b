//! Callers of `/scrape` as an attacker would be: where they may point the
//! exporter, and how many connections they can make it hold.

mod support;

use sidewatch_testkit::{
    http_get_query, http_get_query_header, Blackhole, Exporter, Exposition, Redis,
};
use support::*;

/// `--redis.max-connections` bounds the main target's connection and every
/// `/scrape`'s together: 16 callers scraping a hung server hold at most
/// the cap less the main one, and the main target still scrapes.
#[test]
fn scrapes_of_other_targets_share_the_connection_cap() {
    let r = Redis::start();
    let e = exporter(&r, &["--redis.max-connections=3"]);
    let x = scrape(&e);
    assert_eq!(x.value("redis_up", &[]), Some(1.0));
    assert_eq!(exporter_connections(&r), 1);
    let hung = Blackhole::start();
    let target = format!("redis://{}", hung.addr());
    let url = e.url("/scrape");
    let (bodies, most) = hung.max_open_during(|| {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|_| {
                    s.spawn(|| {
                        http_get_query_header(
                            &url,
                            &[("target", &target)],
                            ("X-Prometheus-Scrape-Timeout-Seconds", "2"),
                        )
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("caller"))
                .collect::<Vec<_>>()
        })
    });
    assert!(
        most <= 2,
        "{most} connections to the hung target with a cap of 3, one of them the main target's"
    );
    assert!(most >= 1, "no scrape reached the hung target");
    for body in bodies {
        let body = body.expect("a /scrape answers 200");
        assert!(body.contains("redis_up 0"), "{body}");
    }
    let x = scrape(&e);
    assert_eq!(x.value("redis_up", &[]), Some(1.0), "{}", e.log());
    assert_eq!(exporter_connections(&r), 1);
}

/// `--web.probe.allowed-targets` on `/scrape`: Unix sockets are refused
/// unless listed, unlisted hosts are refused with 403, listed ones scraped.
#[test]
fn scrape_targets_are_held_to_the_allow_list() {
    let dir = tempfile::tempdir().expect("tmp");
    let sock = dir.path().join("redis.sock").display().to_string();
    let r = Redis::start_with(&[("unixsocket", &sock), ("unixsocketperm", "700")]);
    let tcp = format!("redis://127.0.0.1:{}", r.port);
    let unix = format!("unix://{sock}");
    let scrape_of =
        |e: &Exporter, target: &str| http_get_query(&e.url("/scrape"), &[("target", target)]);

    let open = Exporter::start_unchecked(bin(), &[]);
    assert!(open.wait_listening());
    let x = Exposition::parse(&scrape_of(&open, &tcp).expect("tcp"));
    assert_eq!(x.value("redis_up", &[]), Some(1.0));
    let refused = scrape_of(&open, &unix);
    assert!(
        refused.as_ref().is_err_and(|s| s.contains("403")),
        "{refused:?}"
    );

    let listed = format!("--web.probe.allowed-targets=127.0.0.1:{},{sock}", r.port);
    let strict = Exporter::start_unchecked(bin(), &[&listed]);
    assert!(strict.wait_listening());
    for target in [&tcp, &unix] {
        let x = Exposition::parse(&scrape_of(&strict, target).expect(target));
        assert_eq!(x.value("redis_up", &[]), Some(1.0), "{target}");
    }
    for target in [
        format!("redis://localhost:{}", r.port),
        format!("127.0.0.1:{}", r.port + 1),
        format!("unix://{}/other.sock", dir.path().display()),
    ] {
        let res = scrape_of(&strict, &target);
        assert!(
            res.as_ref().is_err_and(|s| s.contains("403")),
            "{target}: {res:?}"
        );
    }
}
