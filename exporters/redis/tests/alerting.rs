//! The shipped rules and routing end to end: stopping Redis makes RedisDown
//! fire in Prometheus (scraping the live exporter with alerts/redis.yml)
//! and reach Alertmanager (alertmanager/alertmanager.yml) with the pager
//! receiver. The test shortens `for:` and the intervals only.

mod support;

use std::time::Duration;

use sidewatch_testkit::alertmanager::Alertmanager;
use sidewatch_testkit::prometheus::Prometheus;
use sidewatch_testkit::{wait_until, Redis};
use support::*;

fn repo(path: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn redis_down_fires_and_reaches_the_pager_receiver() {
    let mut r = Redis::start();
    let e = exporter(&r, &["--scrape.timeout=2s"]);
    let am_config = repo("alertmanager/alertmanager.yml")
        .replace("/etc/alertmanager/secrets/", "")
        .replace("group_wait: 30s", "group_wait: 1s");
    let am = Alertmanager::start(
        &am_config,
        &[
            ("pagerduty_routing_key", "test-key\n"),
            ("slack_webhook_url", "http://127.0.0.1:9/slack\n"),
            ("heartbeat_token", "t\n"),
        ],
    );
    let rules = repo("alerts/redis.yml").replace(
        "expr: redis_up{job=\"sidewatch-redis\"} == 0\n        for: 1m",
        "expr: redis_up{job=\"sidewatch-redis\"} == 0\n        for: 0s",
    );
    assert!(
        rules.contains("for: 0s"),
        "the RedisDown rule changed shape"
    );
    let prom = Prometheus::start(
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files: [redis.yml]\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{}']\n\
             scrape_configs:\n  - job_name: sidewatch-redis\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            am.url().trim_start_matches("http://127.0.0.1:"),
            e.port
        ),
        &[("redis.yml", &rules)],
    );
    wait_for("redis_up 1 in Prometheus", || {
        prom.query("redis_up{job=\"sidewatch-redis\"}")
            .first()
            .map(|s| s.1)
            == Some(1.0)
    });
    r.stop();
    let fired = wait_until(Duration::from_secs(60), || {
        let alerts: serde_json::Value = serde_json::from_str(&am.alerts()).unwrap_or_default();
        alerts.as_array().into_iter().flatten().any(|a| {
            a["labels"]["alertname"] == "RedisDown"
                && a["labels"]["severity"] == "critical"
                && a["receivers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|rcv| rcv["name"] == "pager")
        })
    });
    assert!(
        fired,
        "RedisDown did not reach the pager receiver: {}",
        am.alerts()
    );
}
