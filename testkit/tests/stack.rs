//! The kit held to the live fleet: scripts/stack.sh starts the native stack
//! (PostgreSQL with pgvector, Redis, the five exporters, Prometheus with the
//! shipped rules, Alertmanager); every metric name the rules reference
//! (parsed from their PromQL) is stored by Prometheus from a live exporter,
//! every recording rule returns data, and so does every dashboard query. The
//! few that can only be empty on a healthy single-node stack are listed with
//! the reason.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use promql_parser::parser;
use sidewatch_testkit::{free_port, http_get_query, wait_until};

mod support;
use support::{dashboard_queries, root, rules, selectors};

/// Names no healthy single-node stack emits, and why.
const ONLY_WHEN_SOMETHING_HAPPENS: &[(&str, &str)] = &[
    (
        "redis_master_link_up",
        "only replicas report their link to a primary",
    ),
    (
        "pg_vector_index_build_progress_ratio",
        "only while a vector index is being built",
    ),
    (
        "pg_database_wraparound_age_datfrozenxid_seconds",
        "database_wraparound is off by default, as in postgres_exporter",
    ),
    (
        "node_filesystem_readonly",
        "emitted, but a fresh container may have no matching fstype",
    ),
];

struct Stack {
    dir: tempfile::TempDir,
    envs: Vec<(String, String)>,
    prometheus: String,
}

impl Stack {
    fn up() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sidewatch-stack")
            .tempdir()
            .expect("tempdir");
        let mut envs = vec![
            (
                "SIDEWATCH_STACK_DIR".to_owned(),
                dir.path().join("s").display().to_string(),
            ),
            // The suite's own build (support::binaries), not stack.sh's.
            (
                "SIDEWATCH_BIN".to_owned(),
                support::binaries().display().to_string(),
            ),
            ("SCRAPE_INTERVAL".to_owned(), "1s".to_owned()),
            ("SCRAPE_TIMEOUT".to_owned(), "1s".to_owned()),
        ];
        for var in [
            "PROMETHEUS_PORT",
            "ALERTMANAGER_PORT",
            "PG_PORT",
            "REDIS_PORT",
            "NODE_PORT",
            "POSTGRES_EXPORTER_PORT",
            "REDIS_EXPORTER_PORT",
            "WAL_PORT",
            "QUEUE_PORT",
        ] {
            envs.push((var.to_owned(), free_port().to_string()));
        }
        let prometheus = format!(
            "http://127.0.0.1:{}",
            envs.iter()
                .find(|(k, _)| k == "PROMETHEUS_PORT")
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        );
        let s = Self {
            dir,
            envs,
            prometheus,
        };
        s.run("up");
        s
    }

    fn run(&self, what: &str) {
        let out = Command::new("bash")
            .arg(root().join("scripts/stack.sh"))
            .arg(what)
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("stack.sh");
        assert!(
            out.status.success(),
            "stack.sh {what}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn query(&self, promql: &str) -> usize {
        let body = http_get_query(
            &format!("{}/api/v1/query", self.prometheus),
            &[("query", promql)],
        )
        .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["data"]["result"].as_array().map_or(0, Vec::len)
    }

    fn names(&self) -> BTreeSet<String> {
        let body = sidewatch_testkit::http_get(&format!(
            "{}/api/v1/label/__name__/values",
            self.prometheus
        ))
        .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(root().join("scripts/stack.sh"))
            .arg("down")
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output();
        let _ = self.dir.path();
    }
}

#[test]
fn rules_reference_only_what_the_live_fleet_emits() {
    let stack = Stack::up();
    // A few scrape and evaluation rounds (1 s each).
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        wait_until(Duration::from_secs(30), || stack
            .query("up{job=~\"sidewatch-.*\"} == 1")
            == 5),
        "not all five exporters are up in Prometheus"
    );
    let stored = stack.names();
    let recorded: BTreeSet<String> = rules().into_iter().filter(|r| r.2).map(|r| r.0).collect();
    let exempt: BTreeSet<&str> = ONLY_WHEN_SOMETHING_HAPPENS
        .iter()
        .map(|(n, _)| *n)
        .collect();
    let mut missing = Vec::new();
    for (name, expr, _) in rules() {
        let parsed = parser::parse(&expr).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (mut names, mut regexes) = (BTreeSet::new(), Vec::new());
        selectors(&parsed, &mut names, &mut regexes);
        for n in names {
            if !stored.contains(&n) && !recorded.contains(&n) && !exempt.contains(n.as_str()) {
                missing.push(format!("{name}: {n}"));
            }
        }
        for re in regexes {
            let re = regex::Regex::new(&format!("^(?:{re})$")).expect("regex");
            if !stored.iter().any(|n| re.is_match(n)) {
                missing.push(format!("{name}: nothing matches {re}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "names no live exporter emits:\n{}",
        missing.join("\n")
    );

    // The other way round: a fleet-wide regex over the exporters'
    // namespaces (collector failures, durations) covers every exporter
    // running, so a new exporter cannot be left out of it.
    let fleet_wide: Vec<String> = rules()
        .into_iter()
        .map(|r| r.1)
        .chain(dashboard_queries().into_iter().map(|q| q.1))
        .flat_map(|expr| {
            let parsed = parser::parse(&expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
            let (mut names, mut regexes) = (BTreeSet::new(), Vec::new());
            selectors(&parsed, &mut names, &mut regexes);
            regexes
        })
        .filter(|re| re.contains("_scrape_collector_"))
        .collect();
    assert!(
        !fleet_wide.is_empty(),
        "no fleet-wide collector regex found"
    );
    for name in stored
        .iter()
        .filter(|n| n.ends_with("_scrape_collector_success"))
    {
        let wanted = name.replace("_success", "_duration_seconds");
        for re in &fleet_wide {
            let compiled = regex::Regex::new(&format!("^(?:{re})$")).expect("regex");
            assert!(
                compiled.is_match(name) || compiled.is_match(&wanted),
                "{re} leaves out the live exporter emitting {name}"
            );
        }
    }

    // Every recording rule returns data from the live stack.
    let mut empty = Vec::new();
    for rec in &recorded {
        let ok = wait_until(Duration::from_secs(20), || stack.query(rec) > 0);
        if !ok {
            empty.push(rec.clone());
        }
    }
    assert!(empty.is_empty(), "recording rules without data: {empty:?}");

    // Dashboards: every name they use is stored, and every query has data.
    let mut problems = Vec::new();
    for (panel, expr) in dashboard_queries() {
        let parsed = parser::parse(&expr).unwrap_or_else(|e| panic!("{panel}: {expr}: {e}"));
        let (mut names, mut regexes) = (BTreeSet::new(), Vec::new());
        selectors(&parsed, &mut names, &mut regexes);
        for n in names {
            if !stored.contains(&n) && !recorded.contains(&n) && !exempt.contains(n.as_str()) {
                problems.push(format!("{panel}: {n} is not emitted"));
            }
        }
        let may_be_empty = exempt.iter().any(|n| expr.contains(n));
        if !may_be_empty && !wait_until(Duration::from_secs(20), || stack.query(&expr) > 0) {
            problems.push(format!("{panel}: no data for {expr}"));
        }
    }
    assert!(problems.is_empty(), "dashboards:\n{}", problems.join("\n"));
}
