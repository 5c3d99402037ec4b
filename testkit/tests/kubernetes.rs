//! deploy/kubernetes held to what a cluster would do with it, offline: every
//! kustomization renders with kubectl's kustomize; every object validates
//! against the Kubernetes API schemas and the Prometheus Operator's CRDs;
//! every container runs restricted and host access is only the exceptions
//! docs/kubernetes.md lists; the PodMonitors, run through the operator's
//! relabeling in a real Prometheus, find their pods and give the jobs the
//! rules select on; every rule parses and passes promtool; every sidewatch
//! container's args, env, Secrets and ConfigMaps pass its binary's
//! `--config.check`; and the generated objects equal their sources.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};
use serde_json::json;
use serde_yaml::Value;
use sidewatch_testkit::prometheus::Prometheus;
use sidewatch_testkit::{debian_program, http_get, wait_until};

mod support;
use support::k8s::{
    containers, deploy, env_of, example, expand, kind, name, objects, pods, render, strings,
    volume_files,
};
use support::{binaries, kit_tools_dir, root};

/// The Kubernetes releases the objects must be valid for: the oldest with
/// native sidecars on by default that is still maintained by a major
/// distribution, and the newest the validator bundles.
const KUBERNETES_VERSIONS: &[&str] = &["1.30", "1.37"];

/// Every directory under deploy/kubernetes with a kustomization, and whether
/// it is a Component (rendered only through an overlay that uses it).
fn kustomizations() -> Vec<(PathBuf, bool)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, bool)>) {
        let k = dir.join("kustomization.yaml");
        if k.exists() {
            let doc: Value =
                serde_yaml::from_str(&std::fs::read_to_string(&k).expect("read")).expect("yaml");
            out.push((dir.to_owned(), doc["kind"].as_str() == Some("Component")));
        }
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for d in dirs {
            walk(&d, out);
        }
    }
    let mut out = Vec::new();
    walk(&deploy(), &mut out);
    out
}

fn kit_k8s_tools() -> PathBuf {
    let dir = kit_tools_dir().join("k8s");
    assert!(
        dir.join(".done").exists(),
        "kubernetes-validate missing in {}: run scripts/setup-test-tools.sh (scripts/test.sh does)",
        dir.display()
    );
    dir
}

/// testkit/kubernetes/validate.py on the files: (passed, what it printed).
fn validate(files: &[PathBuf]) -> (bool, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("testkit/kubernetes/validate.py"))
        .arg("--crds")
        .arg(root().join("../shared/kubernetes/crds"));
    for v in KUBERNETES_VERSIONS {
        cmd.args(["--kubernetes-version", v]);
    }
    let out = cmd
        .args(files)
        .env("PYTHONPATH", kit_k8s_tools())
        .output()
        .expect("python3");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn generated_objects_equal_their_sources() {
    let out = Command::new("python3")
        .arg(deploy().join("build.py"))
        .arg("--check")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And they say what the sources say, object by object.
    let objs = objects(&render(&deploy().join("monitoring")));
    for f in std::fs::read_dir(root().join("alerts"))
        .expect("alerts")
        .flatten()
    {
        let path = f.path();
        if path.extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let source: Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).expect("read")).expect("yaml");
        let rule = objs
            .iter()
            .find(|o| kind(o) == "PrometheusRule" && name(o) == format!("sidewatch-{stem}"))
            .unwrap_or_else(|| panic!("no PrometheusRule for alerts/{stem}.yml"));
        assert_eq!(rule["spec"], source, "alerts/{stem}.yml");
    }
    for f in std::fs::read_dir(root().join("dashboards/json"))
        .expect("dashboards")
        .flatten()
    {
        let path = f.path();
        let uid = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let source: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let cm = objs
            .iter()
            .find(|o| kind(o) == "ConfigMap" && o["data"][format!("{uid}.json")].is_string())
            .unwrap_or_else(|| panic!("no ConfigMap holds {uid}.json"));
        assert_eq!(
            cm["metadata"]["labels"]["grafana_dashboard"].as_str(),
            Some("1"),
            "{uid}: Grafana's sidecar selects grafana_dashboard: \"1\""
        );
        let embedded: serde_json::Value = serde_json::from_str(
            cm["data"][format!("{uid}.json")]
                .as_str()
                .unwrap_or_default(),
        )
        .expect("embedded JSON");
        assert_eq!(embedded, source, "{uid}");
    }
}

#[test]
fn every_kustomization_renders_and_validates_against_the_schemas() {
    let dirs = kustomizations();
    let components: Vec<&PathBuf> = dirs.iter().filter(|(_, c)| *c).map(|(d, _)| d).collect();
    assert!(components.len() >= 2, "postgres and redis Components");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    let mut used = BTreeSet::new();
    for (dir, component) in &dirs {
        if *component {
            continue;
        }
        let text = render(dir);
        assert!(
            !objects(&text).is_empty(),
            "{} renders nothing",
            dir.display()
        );
        let k: Value = serde_yaml::from_str(
            &std::fs::read_to_string(dir.join("kustomization.yaml")).expect("read"),
        )
        .expect("yaml");
        for c in k["components"].as_sequence().into_iter().flatten() {
            let p = dir.join(c.as_str().unwrap_or_default());
            used.insert(p.canonicalize().expect("component path"));
        }
        let rel = dir.strip_prefix(deploy()).expect("under deploy");
        let file = tmp
            .path()
            .join(format!("{}.yaml", rel.display()).replace('/', "_"));
        std::fs::write(&file, text).expect("write");
        files.push(file);
    }
    for c in components {
        assert!(
            used.contains(&c.canonicalize().expect("component")),
            "{}: no overlay renders this Component",
            c.display()
        );
    }
    let (ok, out) = validate(&files);
    assert!(ok, "{out}");
}

#[test]
fn the_validator_refuses_what_the_api_server_would() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases = [
        // An unknown field in an operator kind (a misspelt relabelings).
        (
            "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: m}\nspec:\n  selector: {}\n  podMetricsEndpoints:\n    - port: metrics\n      relabeling: []\n",
            "relabeling",
        ),
        // A value of the wrong form for the CRD.
        (
            "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: r}\nspec:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n          expr: up == 0\n          for: 5 minutes\n",
            "for",
        ),
        // A built-in kind with a field of the wrong type.
        (
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers:\n        - {name: c, image: i, securityContext: {runAsNonRoot: \"yes\"}}\n",
            "runAsNonRoot",
        ),
        // An unknown field in a built-in kind.
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\nbinaryDatum: {}\n",
            "binaryDatum",
        ),
        // A kind nothing can check.
        (
            "apiVersion: monitoring.coreos.com/v1\nkind: Probe\nmetadata: {name: p}\n",
            "no CRD",
        ),
    ];
    for (i, (text, expect)) in cases.iter().enumerate() {
        let f = tmp.path().join(format!("{i}.yaml"));
        std::fs::write(&f, text).expect("write");
        let (ok, out) = validate(&[f]);
        assert!(!ok, "case {i} passed:\n{text}");
        assert!(out.contains(expect), "case {i}: {out}");
    }
}

/// (object, exception) rows of docs/kubernetes.md's "Exceptions" table.
fn listed_exceptions() -> BTreeSet<(String, String)> {
    let doc = std::fs::read_to_string(root().join("docs/kubernetes.md")).expect("docs");
    let section = doc
        .split("### Exceptions")
        .nth(1)
        .expect("docs/kubernetes.md has an Exceptions section");
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].to_owned(), cells[2].to_owned())
        })
        .collect()
}

#[test]
fn containers_run_restricted_and_host_access_is_only_the_listed_exceptions() {
    let objs = example();
    let mut found = BTreeSet::new();
    let workloads = pods(&objs);
    assert!(workloads.len() >= 3, "node, postgres, redis");
    for (what, _, template) in &workloads {
        let spec = &template["spec"];
        let pod_sc = &spec["securityContext"];
        assert_eq!(
            spec["automountServiceAccountToken"].as_bool(),
            Some(false),
            "{what}: mounts a ServiceAccount token"
        );
        for field in ["hostNetwork", "hostPID", "hostIPC"] {
            if spec[field].as_bool() == Some(true) {
                found.insert((what.clone(), field.to_owned()));
            }
        }
        for v in spec["volumes"].as_sequence().into_iter().flatten() {
            if let Some(p) = v["hostPath"]["path"].as_str() {
                found.insert((what.clone(), format!("hostPath {p}")));
            }
        }
        let all = containers(spec);
        assert!(!all.is_empty(), "{what}: no containers");
        for (c, init) in all {
            let cname = c["name"].as_str().unwrap_or_default();
            let sc = &c["securityContext"];
            let either = |k: &str| {
                if sc[k].is_null() {
                    pod_sc[k].clone()
                } else {
                    sc[k].clone()
                }
            };
            let at = format!("{what}/{cname}");
            assert_eq!(
                either("runAsNonRoot").as_bool(),
                Some(true),
                "{at}: runAsNonRoot"
            );
            assert_ne!(either("runAsUser").as_u64(), Some(0), "{at}: runs as uid 0");
            assert_eq!(
                sc["allowPrivilegeEscalation"].as_bool(),
                Some(false),
                "{at}: allowPrivilegeEscalation"
            );
            assert_eq!(
                sc["readOnlyRootFilesystem"].as_bool(),
                Some(true),
                "{at}: readOnlyRootFilesystem"
            );
            assert_ne!(sc["privileged"].as_bool(), Some(true), "{at}: privileged");
            let drops: Vec<&str> = sc["capabilities"]["drop"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            assert!(drops.contains(&"ALL"), "{at}: capabilities not all dropped");
            assert!(
                sc["capabilities"]["add"].is_null(),
                "{at}: adds capabilities"
            );
            let seccomp = either("seccompProfile");
            assert!(
                matches!(
                    seccomp["type"].as_str(),
                    Some("RuntimeDefault" | "Localhost")
                ),
                "{at}: seccompProfile {seccomp:?}"
            );
            for (req, what_) in [
                (&c["resources"]["requests"]["cpu"], "a CPU request"),
                (&c["resources"]["requests"]["memory"], "a memory request"),
                (&c["resources"]["limits"]["memory"], "a memory limit"),
            ] {
                assert!(req.is_string(), "{at}: no {what_}");
            }
            let sidewatch = c["command"][0]
                .as_str()
                .is_some_and(|p| p.starts_with("/usr/local/bin/sidewatch-"));
            if sidewatch {
                // Alive is /health/live on the metrics port; readiness, where a
                // container has one of its own, is /health/ready.
                let port = c["ports"][0]["name"].clone();
                let live = &c["livenessProbe"]["httpGet"];
                assert_eq!(
                    live["path"].as_str(),
                    Some("/health/live"),
                    "{at}: liveness"
                );
                assert_eq!(live["port"], port, "{at}: liveness port");
                let ready = &c["readinessProbe"]["httpGet"];
                if init {
                    assert!(
                        c["readinessProbe"].is_null(),
                        "{at}: a sidecar's readiness would be its database's"
                    );
                    assert_eq!(
                        c["restartPolicy"].as_str(),
                        Some("Always"),
                        "{at}: native sidecar"
                    );
                } else {
                    assert_eq!(
                        ready["path"].as_str(),
                        Some("/health/ready"),
                        "{at}: readiness"
                    );
                    assert_eq!(ready["port"], port, "{at}: readiness port");
                }
            }
            for p in c["ports"].as_sequence().into_iter().flatten() {
                if !p["hostPort"].is_null() {
                    found.insert((what.clone(), "hostPort".to_owned()));
                }
            }
            for m in c["volumeMounts"].as_sequence().into_iter().flatten() {
                let vol = spec["volumes"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .find(|v| v["name"] == m["name"]);
                if vol.is_some_and(|v| !v["hostPath"].is_null()) {
                    assert_eq!(
                        m["readOnly"].as_bool(),
                        Some(true),
                        "{at}: host path {:?} mounted writable",
                        m["mountPath"]
                    );
                }
            }
        }
    }
    let listed = listed_exceptions();
    assert_eq!(
        found, listed,
        "host access in the manifests (left) and in docs/kubernetes.md's Exceptions (right) differ"
    );
}

/// Prometheus label-name sanitising, as the operator does for pod labels.
fn sanitize(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A PodMonitor relabeling (camelCase) as Prometheus's relabel_config.
fn relabel_config(r: &Value) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (from, to) in [
        ("sourceLabels", "source_labels"),
        ("separator", "separator"),
        ("targetLabel", "target_label"),
        ("regex", "regex"),
        ("modulus", "modulus"),
        ("replacement", "replacement"),
        ("action", "action"),
    ] {
        if !r[from].is_null() {
            let v: serde_json::Value = serde_json::to_value(&r[from]).expect("json");
            let v = if to == "action" {
                json!(v.as_str().unwrap_or_default().to_lowercase())
            } else {
                v
            };
            out.insert(to.to_owned(), v);
        }
    }
    serde_json::Value::Object(out)
}

/// The scrape config the Prometheus Operator writes for one PodMonitor
/// endpoint (its pkg/prometheus generatePodMonitorConfig, without TLS, auth
/// and sharding), with every container port of every pod in the monitor's
/// namespace as a static target carrying the meta labels Kubernetes
/// discovery would give it.
fn operator_scrape_config(
    monitor: &Value,
    index: usize,
    endpoint: &Value,
    workloads: &[(String, String, Value)],
) -> serde_json::Value {
    let ns = monitor["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let mname = name(monitor);
    let mut relabel = vec![
        json!({"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}),
        json!({"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"}),
    ];
    let mut keys: Vec<(String, String)> = monitor["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.as_str().unwrap_or_default().to_owned(),
                v.as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    keys.sort();
    for (k, v) in &keys {
        let s = sanitize(k);
        relabel.push(json!({"action": "keep",
            "source_labels": [format!("__meta_kubernetes_pod_label_{s}"), format!("__meta_kubernetes_pod_labelpresent_{s}")],
            "regex": format!("({v});true")}));
    }
    assert!(
        monitor["spec"]["selector"]["matchExpressions"].is_null(),
        "{mname}: matchExpressions are not emulated here"
    );
    let port = endpoint["port"].as_str().expect("endpoint port name");
    relabel.push(json!({"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port}));
    relabel.push(
        json!({"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"}),
    );
    relabel.push(json!({"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"}));
    relabel.push(json!({"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"}));
    relabel.push(json!({"target_label": "job", "replacement": format!("{ns}/{mname}")}));
    if let Some(l) = monitor["spec"]["jobLabel"].as_str() {
        relabel.push(
            json!({"source_labels": [format!("__meta_kubernetes_pod_label_{}", sanitize(l))],
            "target_label": "job", "regex": "(.+)", "replacement": "${1}"}),
        );
    }
    relabel.push(json!({"target_label": "endpoint", "replacement": port}));
    for r in endpoint["relabelings"].as_sequence().into_iter().flatten() {
        relabel.push(relabel_config(r));
    }
    let mut targets = Vec::new();
    let mut fake_port = 20000 + index as u32 * 100;
    for (what, wns, template) in workloads {
        if wns != ns {
            continue;
        }
        let pod_name = format!("{}-0", what.split('/').nth(1).unwrap_or_default());
        for (c, init) in containers(&template["spec"]) {
            for p in c["ports"].as_sequence().into_iter().flatten() {
                fake_port += 1;
                let mut labels = serde_json::Map::new();
                let mut set = |k: String, v: String| {
                    labels.insert(k, json!(v));
                };
                set("__meta_kubernetes_namespace".into(), wns.clone());
                set("__meta_kubernetes_pod_name".into(), pod_name.clone());
                set("__meta_kubernetes_pod_phase".into(), "Running".into());
                set("__meta_kubernetes_pod_node_name".into(), "node-a".into());
                set("__meta_kubernetes_pod_ip".into(), "127.0.0.1".into());
                set(
                    "__meta_kubernetes_pod_container_name".into(),
                    c["name"].as_str().unwrap_or_default().into(),
                );
                set(
                    "__meta_kubernetes_pod_container_init".into(),
                    init.to_string(),
                );
                set(
                    "__meta_kubernetes_pod_container_port_name".into(),
                    p["name"].as_str().unwrap_or_default().into(),
                );
                set(
                    "__meta_kubernetes_pod_container_port_number".into(),
                    p["containerPort"].as_u64().unwrap_or_default().to_string(),
                );
                for (k, v) in template["metadata"]["labels"]
                    .as_mapping()
                    .into_iter()
                    .flatten()
                {
                    let s = sanitize(k.as_str().unwrap_or_default());
                    set(
                        format!("__meta_kubernetes_pod_label_{s}"),
                        v.as_str().unwrap_or_default().into(),
                    );
                    set(
                        format!("__meta_kubernetes_pod_labelpresent_{s}"),
                        "true".into(),
                    );
                }
                // A port nothing listens on: only the labels matter here.
                targets
                    .push(json!({"targets": [format!("127.0.0.1:{fake_port}")], "labels": labels}));
            }
        }
    }
    json!({
        "job_name": format!("podMonitor/{ns}/{mname}/{index}"),
        "honor_labels": false,
        "metrics_path": endpoint["path"].as_str().unwrap_or("/metrics"),
        "scrape_interval": "1m",
        "static_configs": targets,
        "relabel_configs": relabel,
    })
}

/// The job names of prometheus/prometheus.yml (the compose stack's).
fn compose_jobs() -> BTreeSet<String> {
    let prom: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("prometheus/prometheus.yml")).expect("read"),
    )
    .expect("yaml");
    prom["scrape_configs"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|j| j["job_name"].as_str().map(str::to_owned))
        .collect()
}

/// Every label matcher on `job` in an expression.
fn job_matchers(e: &Expr, out: &mut Vec<(MatchOp, String)>) {
    match e {
        Expr::VectorSelector(vs) => {
            for m in &vs.matchers.matchers {
                if m.name == "job" {
                    out.push((m.op.clone(), m.value.clone()));
                }
            }
        }
        Expr::MatrixSelector(ms) => job_matchers(&Expr::VectorSelector(ms.vs.clone()), out),
        Expr::Aggregate(a) => {
            job_matchers(&a.expr, out);
            if let Some(p) = &a.param {
                job_matchers(p, out);
            }
        }
        Expr::Unary(u) => job_matchers(&u.expr, out),
        Expr::Binary(b) => {
            job_matchers(&b.lhs, out);
            job_matchers(&b.rhs, out);
        }
        Expr::Paren(p) => job_matchers(&p.expr, out),
        Expr::Subquery(s) => job_matchers(&s.expr, out),
        Expr::Call(c) => {
            for a in &c.args.args {
                job_matchers(a, out);
            }
        }
        _ => {}
    }
}

#[test]
fn monitors_give_the_jobs_the_rules_select_under_the_operators_relabeling() {
    let objs = example();
    let workloads = pods(&objs);
    let monitors: Vec<&Value> = objs.iter().filter(|o| kind(o) == "PodMonitor").collect();
    assert_eq!(monitors.len(), 5, "one PodMonitor per exporter");
    let mut scrape_configs = Vec::new();
    for m in &monitors {
        assert!(
            m["metadata"]["labels"]["release"].as_str().is_some(),
            "{}: no release label, kube-prometheus-stack would not select it",
            name(m)
        );
        for (i, ep) in m["spec"]["podMetricsEndpoints"]
            .as_sequence()
            .into_iter()
            .flatten()
            .enumerate()
        {
            scrape_configs.push(operator_scrape_config(m, i, ep, &workloads));
        }
    }
    let config = serde_yaml::to_string(&json!({
        "global": {"scrape_interval": "1m"},
        "scrape_configs": scrape_configs,
    }))
    .expect("yaml");
    let prom = Prometheus::start(&config, &[]);
    let pools: BTreeSet<String> = scrape_configs
        .iter()
        .map(|c| c["job_name"].as_str().unwrap_or_default().to_owned())
        .collect();
    let mut by_pool: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    let ok = wait_until(Duration::from_secs(30), || {
        let body = http_get(&format!("{}/api/v1/targets", prom.url())).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        by_pool.clear();
        for t in v["data"]["activeTargets"].as_array().into_iter().flatten() {
            by_pool
                .entry(t["scrapePool"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .push(t["labels"].clone());
        }
        pools.iter().all(|p| by_pool.contains_key(p))
    });
    assert!(
        ok,
        "a PodMonitor finds no pod (the selector or port name matches nothing): {:?} of {pools:?}",
        by_pool.keys().collect::<Vec<_>>()
    );
    let compose = compose_jobs();
    let mut jobs = BTreeSet::new();
    for (pool, targets) in &by_pool {
        assert_eq!(targets.len(), 1, "{pool}: one pod, one port: {targets:?}");
        let labels = &targets[0];
        let job = labels["job"].as_str().unwrap_or_default().to_owned();
        assert!(
            compose.contains(&job),
            "{pool}: job {job:?} is not one of the compose stack's {compose:?}"
        );
        let monitor = pool.split('/').nth(2).unwrap_or_default();
        assert_eq!(job, monitor, "{pool}: the job is the monitor's name");
        assert!(labels["namespace"].is_string() && labels["pod"].is_string());
        jobs.insert(job);
    }
    assert_eq!(jobs, compose, "every compose job has a monitor");
    // Node's instance is the node's name, as its dashboards show it.
    let node = &by_pool["podMonitor/sidewatch-example/sidewatch-node/0"][0];
    assert_eq!(node["instance"].as_str(), Some("node-a"));

    // Every job selector of every rule matches a job a monitor gives.
    let mut rules = 0;
    for r in objs.iter().filter(|o| kind(o) == "PrometheusRule") {
        for g in r["spec"]["groups"].as_sequence().into_iter().flatten() {
            for rule in g["rules"].as_sequence().into_iter().flatten() {
                let expr = rule["expr"].as_str().expect("expr");
                let parsed =
                    parser::parse(expr).unwrap_or_else(|e| panic!("{}: {expr}: {e}", name(r)));
                let mut matchers = Vec::new();
                job_matchers(&parsed, &mut matchers);
                for (op, value) in matchers {
                    let hit = match &op {
                        MatchOp::Equal => jobs.contains(&value),
                        MatchOp::Re(_) => {
                            let re = regex::Regex::new(&format!("^(?:{value})$")).expect("regex");
                            jobs.iter().any(|j| re.is_match(j))
                        }
                        _ => true,
                    };
                    assert!(
                        hit,
                        "{}: {expr}: job {op} {value:?} matches no monitor's job {jobs:?}",
                        name(r)
                    );
                }
                rules += 1;
            }
        }
    }
    assert!(rules > 20, "{rules} rules");
}

#[test]
fn prometheus_rules_pass_promtool() {
    let objs = objects(&render(&deploy().join("monitoring")));
    let tmp = tempfile::tempdir().expect("tempdir");
    let promtool =
        debian_program("sid", "promtool", "promtool").expect("sid's promtool (scripts/test.sh)");
    let mut n = 0;
    for r in objs.iter().filter(|o| kind(o) == "PrometheusRule") {
        let f = tmp.path().join(format!("{}.yml", name(r)));
        std::fs::write(&f, serde_yaml::to_string(&r["spec"]).expect("yaml")).expect("write");
        let out = Command::new(&promtool)
            .args(["check", "rules", "--lint-fatal"])
            .arg(&f)
            .output()
            .expect("promtool");
        assert!(
            out.status.success(),
            "{}: {}{}",
            name(r),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        n += 1;
    }
    assert_eq!(n, 7, "one PrometheusRule per alerts/*.yml");
}

/// `s` with every path that starts with a mount's path (at a word's start)
/// moved to where that mount's files are here.
fn relocate(s: &str, mounts: &[(String, PathBuf)]) -> String {
    let path_char = |c: char| c.is_ascii_alphanumeric() || "_.-/".contains(c);
    let mut out = String::new();
    let mut rest = s;
    let mut prev: Option<char> = None;
    'outer: while let Some(c) = rest.chars().next() {
        if prev.is_none_or(|p| !path_char(p)) {
            for (from, to) in mounts {
                if let Some(after) = rest.strip_prefix(from.as_str()) {
                    if after
                        .chars()
                        .next()
                        .is_none_or(|n| n == '/' || !path_char(n))
                    {
                        let to = to.display().to_string();
                        let to = to.trim_end_matches('/');
                        out.push_str(if to.is_empty() && !after.starts_with('/') {
                            "/"
                        } else {
                            to
                        });
                        prev = from.chars().last();
                        rest = after;
                        continue 'outer;
                    }
                }
            }
        }
        out.push(c);
        prev = Some(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[test]
fn relocate_moves_only_whole_mount_paths() {
    let mounts = vec![
        ("/pgdata".to_owned(), PathBuf::from("/tmp/m0")),
        ("/host/root".to_owned(), PathBuf::from("/")),
    ];
    assert_eq!(
        relocate("/pgdata/pgdata/pg_wal", &mounts),
        "/tmp/m0/pgdata/pg_wal"
    );
    assert_eq!(relocate("--x=/pgdata", &mounts), "--x=/tmp/m0");
    assert_eq!(relocate("/pgdatax", &mounts), "/pgdatax");
    assert_eq!(relocate("/host/root/run/udev", &mounts), "/run/udev");
    assert_eq!(
        relocate("--path.rootfs=/host/root", &mounts),
        "--path.rootfs=/"
    );
    assert_eq!(relocate("f: /pgdata/a\n", &mounts), "f: /tmp/m0/a\n");
}

#[test]
fn every_sidewatch_container_passes_its_own_config_check() {
    let objs = example();
    let bin = binaries();
    let mut checked = BTreeSet::new();
    for (what, _, template) in pods(&objs) {
        let spec = &template["spec"];
        for (c, _) in containers(spec) {
            let command = strings(&c["command"]);
            let Some(program) = command
                .first()
                .and_then(|p| p.strip_prefix("/usr/local/bin/"))
                .filter(|p| p.starts_with("sidewatch-"))
            else {
                continue;
            };
            let at = format!("{what}/{}", c["name"].as_str().unwrap_or_default());
            let tmp = tempfile::tempdir().expect("tempdir");
            let mut secrets = Vec::new();
            // Where each mount's files are here: (mountPath, local directory).
            let mut mounts: Vec<(String, PathBuf)> = Vec::new();
            let mut files: Vec<(PathBuf, String)> = Vec::new();
            for (i, m) in c["volumeMounts"]
                .as_sequence()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let mount_path = m["mountPath"].as_str().expect("mountPath").to_owned();
                let vol = spec["volumes"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .find(|v| v["name"] == m["name"])
                    .cloned();
                let local = tmp.path().join(format!("mount{i}"));
                std::fs::create_dir_all(&local).expect("mkdir");
                if let Some(host) = vol.as_ref().and_then(|v| v["hostPath"]["path"].as_str()) {
                    mounts.push((mount_path, PathBuf::from(host)));
                    continue;
                }
                // Volume claims and emptyDirs stay an empty directory.
                if let Some((items, secret)) = vol.as_ref().and_then(|v| volume_files(&objs, v)) {
                    for (path, value) in items {
                        if secret {
                            secrets.push(value.clone());
                        }
                        files.push((local.join(path), value));
                    }
                }
                mounts.push((mount_path, local));
            }
            // Longest mount first, so /host/root/run is not taken for /host/root.
            mounts.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
            let here = |s: &str| relocate(s, &mounts);
            for (path, text) in &files {
                std::fs::write(path, here(text)).expect("write mounted file");
            }
            let (env, env_secrets) = env_of(&objs, &c, here);
            secrets.extend(env_secrets);
            let args: Vec<String> = command[1..]
                .iter()
                .chain(strings(&c["args"]).iter())
                .map(|a| here(&expand(a, &env)))
                .collect();
            let out = Command::new(bin.join(program))
                .args(&args)
                .arg("--config.check")
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .output()
                .expect("run the exporter");
            let printed = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.status.success() && printed.contains("configuration is valid"),
                "{at}: {program} {args:?} with {:?}:\n{printed}",
                env.iter().map(|(k, _)| k).collect::<Vec<_>>()
            );
            for s in &secrets {
                assert!(!printed.contains(s.as_str()), "{at}: printed a secret");
            }
            checked.insert(program.to_owned());
        }
    }
    let all: BTreeSet<String> = [
        "sidewatch-node",
        "sidewatch-postgres",
        "sidewatch-redis",
        "sidewatch-wal",
        "sidewatch-queue",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(checked, all, "every exporter runs somewhere in the example");
}
