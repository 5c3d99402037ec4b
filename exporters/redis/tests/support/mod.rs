//! Shared helpers: a server, the exporter pointed at it, scrapes.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use sidewatch_testkit::{http_get, wait_until, Exporter, Exposition, Redis};

pub const BIN: &str = env!("CARGO_BIN_EXE_sidewatch-redis");

pub fn bin() -> &'static Path {
    Path::new(BIN)
}

/// The exporter watching `r`, ready to scrape.
pub fn exporter(r: &Redis, args: &[&str]) -> Exporter {
    let addr = format!("--redis.addr={}", r.url());
    let mut all = vec![addr.as_str()];
    all.extend_from_slice(args);
    let e = Exporter::start_unchecked(bin(), &all);
    assert!(e.wait_listening(), "exporter did not listen:\n{}", e.log());
    e
}

pub fn scrape_text(e: &Exporter) -> String {
    http_get(&e.url("/metrics")).unwrap_or_else(|err| panic!("scrape: {err}\n{}", e.log()))
}

pub fn scrape(e: &Exporter) -> Exposition {
    Exposition::parse(&scrape_text(e))
}

pub fn success(x: &Exposition, collector: &str) -> Option<f64> {
    x.value(
        "redis_scrape_collector_success",
        &[("collector", collector)],
    )
}

/// Connections named sidewatch-redis, from CLIENT LIST.
pub fn exporter_connections(r: &Redis) -> usize {
    r.query(&["CLIENT", "LIST"])
        .text()
        .lines()
        .filter(|l| l.contains(" name=sidewatch-redis "))
        .count()
}

pub fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    assert!(
        wait_until(Duration::from_secs(20), &mut check),
        "timed out waiting for {what}"
    );
}

/// Runs commands given as whitespace-separated words.
pub fn run(r: &Redis, cmds: &[&str]) {
    let replies = r.pipeline(
        cmds.iter()
            .map(|c| c.split_whitespace().map(str::to_owned).collect()),
    );
    for (c, reply) in cmds.iter().zip(replies) {
        assert!(
            !matches!(reply, sidewatch_testkit::redis::Reply::Error(_)),
            "{c}: {reply:?}"
        );
    }
}
