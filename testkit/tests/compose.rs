//! The compose stack as shipped, on a real Docker engine: `docker compose up
//! -d --wait` of docker-compose.yml with testkit/compose.test.yml (local
//! stand-ins for the upstream images, nothing else changed), then
//! - every container runs, and every one with a healthcheck is healthy;
//! - the containerised Prometheus has the five targets up and every rule loaded;
//! - exporters' numbers equal what the servers report;
//! - the PostgreSQL exporter logs in as a pg_monitor member, not a superuser;
//! - dashboard panel queries (at least 95%) and every recording rule return
//!   data from the demo workload;
//! - an exporter's healthcheck fails while the process is stopped;
//! - stopping the Redis container brings RedisDown to Alertmanager's pager receiver;
//! - `docker compose down -v` leaves no container, network or volume.
//!
//! scripts/setup-docker.sh (run by scripts/test.sh) provides the engine and
//! builds the images, the sidewatch image with the shipped Dockerfile.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sidewatch_testkit::{http_get, http_get_query, wait_until};

mod support;
use support::{dashboard_queries, root, rules};

const PROJECT: &str = "sidewatch-e2e";
const PROMETHEUS: &str = "http://127.0.0.1:9090";
const ALERTMANAGER: &str = "http://127.0.0.1:9093";

/// The services the test starts: all but Grafana, whose image cannot be had
/// on this machine (docs/docker-test-images.md).
const SERVICES: &[&str] = &[
    "postgres",
    "redis",
    "node",
    "postgres-exporter",
    "redis-exporter",
    "wal-exporter",
    "queue-exporter",
    "prometheus",
    "alertmanager",
    "demo-redis",
    "demo-postgres",
    "demo-textfile",
];

/// The exporters, their compose services and binaries.
const EXPORTERS: &[(&str, &str)] = &[
    ("node", "sidewatch-node"),
    ("postgres-exporter", "sidewatch-postgres"),
    ("redis-exporter", "sidewatch-redis"),
    ("wal-exporter", "sidewatch-wal"),
    ("queue-exporter", "sidewatch-queue"),
];

/// Dashboard queries that may stay empty on a healthy single-node stack with
/// the demo workload, and why. None today: every panel has data.
const EMPTY_WHEN_HEALTHY: &[(&str, &str)] = &[];

struct Compose {
    env_file: tempfile::NamedTempFile,
}

impl Compose {
    fn new() -> Self {
        let mut env_file = tempfile::NamedTempFile::new().expect("env file");
        // .env.example with real values: the shipped file is what users copy.
        let example = std::fs::read_to_string(root().join(".env.example")).expect(".env.example");
        for line in example.lines() {
            let line = match line.split_once('=') {
                Some(("POSTGRES_PASSWORD", _)) => {
                    "POSTGRES_PASSWORD=e2e-postgres-secret".to_owned()
                }
                Some(("MONITOR_PASSWORD", _)) => "MONITOR_PASSWORD=e2e-monitor-secret".to_owned(),
                Some(("REDIS_PASSWORD", _)) => "REDIS_PASSWORD=e2e-redis-secret".to_owned(),
                Some(("PAGERDUTY_ROUTING_KEY", _)) => "PAGERDUTY_ROUTING_KEY=e2e-key".to_owned(),
                // Notifications go nowhere (a closed port); the receiver is what is checked.
                Some(("SLACK_WEBHOOK_URL", _)) => {
                    "SLACK_WEBHOOK_URL=http://127.0.0.1:9/".to_owned()
                }
                Some(("HEARTBEAT_TOKEN", _)) => "HEARTBEAT_TOKEN=e2e-token".to_owned(),
                _ => line.to_owned(),
            };
            writeln!(env_file, "{line}").expect("write env");
        }
        Self { env_file }
    }

    fn run(&self, args: &[&str]) -> Output {
        let env_file = self.env_file.path().display().to_string();
        let mut full = vec![
            "compose",
            "-p",
            PROJECT,
            "--env-file",
            env_file.as_str(),
            "-f",
            "docker-compose.yml",
            "-f",
            "testkit/compose.test.yml",
        ];
        full.extend_from_slice(args);
        Command::new("docker")
            .args(&full)
            .current_dir(root())
            .output()
            .expect("docker compose (scripts/setup-docker.sh installs it)")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "docker compose {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn container(&self, service: &str) -> String {
        self.ok(&["ps", "-q", service]).trim().to_owned()
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = self.run(&["logs", "--no-color", "--tail", "30"]);
            eprintln!("{}", String::from_utf8_lossy(&logs.stdout));
        }
        let _ = self.run(&["down", "-v", "--remove-orphans", "--timeout", "10"]);
    }
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("docker")
}

fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn query(promql: &str) -> Vec<serde_json::Value> {
    let body = http_get_query(&format!("{PROMETHEUS}/api/v1/query"), &[("query", promql)])
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn value(promql: &str) -> Option<f64> {
    query(promql)
        .first()
        .and_then(|r| r["value"][1].as_str().and_then(|v| v.parse().ok()))
}

fn health(container: &str) -> String {
    docker_ok(&[
        "inspect",
        "-f",
        "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
        container,
    ])
}

#[test]
fn compose_stack_runs_as_shipped() {
    let started = Instant::now();
    let compose = Compose::new();
    // A run that died half-way may have left the project behind.
    let _ = compose.run(&["down", "-v", "--remove-orphans", "--timeout", "5"]);

    let mut up = vec!["up", "-d", "--wait", "--wait-timeout", "300"];
    up.extend_from_slice(SERVICES);
    compose.ok(&up);
    eprintln!("up and healthy after {:?}", started.elapsed());

    // Every container runs; every one with a healthcheck is healthy.
    let ps = compose.ok(&[
        "ps",
        "-a",
        "--format",
        "{{.Service}} {{.State}} {{.Health}}",
    ]);
    let mut seen = BTreeSet::new();
    for line in ps.lines() {
        let mut f = line.split_whitespace();
        let (svc, state, health) = (
            f.next().unwrap_or_default(),
            f.next().unwrap_or_default(),
            f.next().unwrap_or_default(),
        );
        assert_eq!(state, "running", "{line}");
        assert!(health.is_empty() || health == "healthy", "{line}");
        seen.insert(svc.to_owned());
    }
    let want: BTreeSet<String> = SERVICES.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(seen, want, "containers of the project");
    for (svc, _) in EXPORTERS {
        assert_eq!(health(&compose.container(svc)), "healthy", "{svc}");
    }

    // Prometheus: the five targets up, every rule loaded and evaluated.
    assert!(
        wait_until(Duration::from_secs(90), || query(
            "up{job=~\"sidewatch-.*\"} == 1"
        )
        .len()
            == 5),
        "not all five targets are up: {:?}",
        query("up")
    );
    let shipped_rules = rules().len();
    let rules_loaded = || {
        let body = http_get(&format!("{PROMETHEUS}/api/v1/rules")).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let all: Vec<serde_json::Value> = v["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        (
            all.len(),
            all.iter().filter(|r| r["health"] == "ok").count(),
        )
    };
    assert!(
        wait_until(Duration::from_secs(60), || rules_loaded()
            == (shipped_rules, shipped_rules)),
        "rules loaded (total, healthy) {:?}, shipped {shipped_rules}",
        rules_loaded()
    );

    // The exporters report what the servers report.
    let pg = |sql: &str| {
        compose
            .ok(&[
                "exec", "-T", "postgres", "psql", "-U", "postgres", "-XAtc", sql,
            ])
            .trim()
            .to_owned()
    };
    let max_conn: f64 = pg("SHOW max_connections").parse().expect("max_connections");
    assert_eq!(
        value("pg_settings_max_connections{job=\"sidewatch-postgres\"}"),
        Some(max_conn)
    );
    let redis_maxmemory = compose.ok(&[
        "exec",
        "-T",
        "-e",
        "REDISCLI_AUTH=e2e-redis-secret",
        "redis",
        "redis-cli",
        "config",
        "get",
        "maxmemory",
    ]);
    let maxmemory: f64 = redis_maxmemory
        .lines()
        .nth(1)
        .and_then(|v| v.trim().parse().ok())
        .expect("maxmemory");
    assert!(maxmemory > 0.0);
    assert_eq!(
        value("redis_memory_max_bytes{job=\"sidewatch-redis\"}"),
        Some(maxmemory)
    );

    // The exporter's role: a pg_monitor member, not a superuser, and in use.
    assert_eq!(
        pg("SELECT rolsuper, pg_has_role(oid, 'pg_monitor', 'member') FROM pg_roles WHERE rolname = 'monitor'"),
        "f|t"
    );
    assert!(
        wait_until(Duration::from_secs(30), || pg(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'monitor'"
        ) != "0"),
        "the exporter is not connected as monitor"
    );
    assert_eq!(
        pg("SELECT count(*) FROM pg_stat_activity WHERE usename = 'postgres' AND application_name LIKE 'sidewatch%'"),
        "0",
        "an exporter logs in as the superuser"
    );

    // Dashboards and recording rules have data from the demo workload.
    let recorded: Vec<String> = rules().into_iter().filter(|r| r.2).map(|r| r.0).collect();
    let mut empty_rules = Vec::new();
    for rec in &recorded {
        if !wait_until(Duration::from_secs(120), || !query(rec).is_empty()) {
            empty_rules.push(rec.clone());
        }
    }
    let panels = dashboard_queries();
    let mut with_data = 0;
    let mut empty_panels = Vec::new();
    for (panel, expr) in &panels {
        if wait_until(Duration::from_secs(60), || !query(expr).is_empty()) {
            with_data += 1;
        } else {
            let reason = EMPTY_WHEN_HEALTHY
                .iter()
                .find(|(needle, _)| expr.contains(needle))
                .map(|(_, why)| *why);
            empty_panels.push((panel.clone(), expr.clone(), reason));
        }
    }
    eprintln!(
        "dashboard queries with data: {with_data} of {}; recording rules with data: {} of {}",
        panels.len(),
        recorded.len() - empty_rules.len(),
        recorded.len()
    );
    for (panel, expr, reason) in &empty_panels {
        eprintln!(
            "  empty: {panel}: {expr} ({})",
            reason.unwrap_or("no reason known")
        );
    }
    assert!(
        empty_rules.is_empty(),
        "recording rules without data: {empty_rules:?}"
    );
    assert!(
        with_data * 100 >= panels.len() * 95,
        "only {with_data} of {} dashboard queries have data",
        panels.len()
    );
    assert!(
        empty_panels.iter().all(|p| p.2.is_some()),
        "empty panels without a known reason: {empty_panels:?}"
    );

    // Healthchecks can fail: each exporter's own check fails while the
    // process is stopped, and passes again once it runs.
    for (svc, binary) in EXPORTERS {
        let id = compose.container(svc);
        let test = docker_ok(&["inspect", "-f", "{{json .Config.Healthcheck.Test}}", &id]);
        assert_eq!(
            test,
            format!("[\"CMD\",\"/usr/local/bin/{binary}\",\"healthcheck\"]"),
            "{svc}"
        );
        let check = || {
            docker(&[
                "exec",
                &id,
                &format!("/usr/local/bin/{binary}"),
                "healthcheck",
            ])
            .status
            .success()
        };
        assert!(check(), "{svc}: healthcheck fails while running");
        docker_ok(&["kill", "--signal=STOP", &id]);
        let stopped = check();
        docker_ok(&["kill", "--signal=CONT", &id]);
        assert!(
            !stopped,
            "{svc}: healthcheck passes while the process is stopped"
        );
        assert!(
            check(),
            "{svc}: healthcheck fails after the process resumed"
        );
    }

    // Docker itself marks a stopped exporter unhealthy, while Redis going
    // away pages: RedisDown reaches Alertmanager's pager receiver.
    let queue_exporter = compose.container("queue-exporter");
    docker_ok(&["kill", "--signal=STOP", &queue_exporter]);
    compose.ok(&["stop", "redis"]);
    let became_unhealthy = wait_until(Duration::from_secs(90), || {
        health(&queue_exporter) == "unhealthy"
    });
    docker_ok(&["kill", "--signal=CONT", &queue_exporter]);
    assert!(
        became_unhealthy,
        "Docker still reports the stopped queue exporter {}",
        health(&queue_exporter)
    );
    let paged = wait_until(Duration::from_secs(240), || {
        http_get(&format!(
            "{ALERTMANAGER}/api/v2/alerts?receiver=pager&filter=alertname%3D%22RedisDown%22"
        ))
        .ok()
        .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
        .and_then(|v| v.as_array().map(|a| !a.is_empty()))
        .unwrap_or(false)
    });
    assert!(
        paged,
        "RedisDown did not reach the pager receiver; Prometheus alerts: {:?}",
        http_get(&format!("{PROMETHEUS}/api/v1/alerts"))
    );

    // down -v leaves nothing behind.
    compose.ok(&["down", "-v", "--remove-orphans", "--timeout", "10"]);
    let label = format!("label=com.docker.compose.project={PROJECT}");
    for what in [
        &["ps", "-aq", "--filter", &label][..],
        &["network", "ls", "-q", "--filter", &label][..],
        &["volume", "ls", "-q", "--filter", &label][..],
    ] {
        assert_eq!(docker_ok(what), "", "left behind: docker {what:?}");
    }
    eprintln!("compose end to end: {:?}", started.elapsed());
}
