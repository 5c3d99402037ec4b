//! The operator kit held to its rules: promtool checks and unit tests pass,
//! every alert carries a severity, summary, description, a runbook anchor
//! that exists, and a `for:` duration.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use sidewatch_testkit::find_program;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tool(name: &str, args: &[&str], cwd: &Path) -> String {
    let program =
        find_program(&[name]).unwrap_or_else(|| panic!("{name} (Debian's prometheus packages)"));
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{name} {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn promtool(args: &[&str], cwd: &Path) {
    tool("promtool", args, cwd);
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    v.sort();
    v
}

/// GitHub-style anchors of a Markdown file's headings.
fn anchors(md: &Path) -> Vec<String> {
    std::fs::read_to_string(md)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|h| {
            h.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ')
                .collect::<String>()
                .replace(' ', "-")
        })
        .collect()
}

#[test]
fn rules_pass_promtool_and_carry_what_operators_need() {
    let root = root();
    let rules = yaml_files(&root.join("alerts"));
    assert!(!rules.is_empty());
    for f in &rules {
        promtool(
            &["check", "rules", "--lint-fatal", &f.display().to_string()],
            &root,
        );
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(f).expect("read")).expect("yaml");
        for group in doc["groups"].as_sequence().expect("groups") {
            for rule in group["rules"].as_sequence().expect("rules") {
                let Some(name) = rule["alert"].as_str() else {
                    continue;
                };
                let sev = rule["labels"]["severity"].as_str().unwrap_or_default();
                assert!(
                    ["critical", "warning", "info"].contains(&sev),
                    "{name}: severity {sev:?}"
                );
                assert!(rule["for"].as_str().is_some(), "{name}: no for:");
                for a in ["summary", "description", "runbook_url"] {
                    assert!(rule["annotations"][a].as_str().is_some(), "{name}: no {a}");
                }
                let url = rule["annotations"]["runbook_url"]
                    .as_str()
                    .unwrap_or_default();
                let (file, anchor) = url.split_once('#').expect("runbook_url has an anchor");
                assert!(
                    anchors(&root.join(file)).iter().any(|a| a == anchor),
                    "{name}: {url} has no such heading"
                );
            }
        }
    }
    for t in yaml_files(&root.join("alerts/tests")) {
        promtool(
            &["test", "rules", &t.display().to_string()],
            &root.join("alerts/tests"),
        );
    }
    promtool(
        &[
            "check",
            "config",
            "--syntax-only",
            "prometheus/prometheus.yml",
        ],
        &root,
    );
}

#[test]
fn alertmanager_routes_each_severity_to_its_receiver() {
    let root = root();
    let cfg = "--config.file=alertmanager/alertmanager.yml";
    tool(
        "amtool",
        &["check-config", "alertmanager/alertmanager.yml"],
        &root,
    );
    for (labels, receiver) in [
        (
            &[
                "alertname=RedisDown",
                "severity=critical",
                "job=sidewatch-redis",
            ][..],
            "pager",
        ),
        (
            &[
                "alertname=RedisEvictingKeys",
                "severity=warning",
                "job=sidewatch-redis",
            ][..],
            "chat",
        ),
        (&["alertname=Anything", "severity=info"][..], "chat-info"),
        (&["alertname=Watchdog", "severity=info"][..], "heartbeat"),
    ] {
        let verify = format!("--verify.receivers={receiver}");
        let mut args = vec!["config", "routes", "test", cfg, verify.as_str()];
        args.extend_from_slice(labels);
        let out = tool("amtool", &args, &root);
        assert_eq!(out.trim(), receiver, "{labels:?}");
    }
    // Credentials come from files, never inline.
    let text = std::fs::read_to_string(root.join("alertmanager/alertmanager.yml")).expect("read");
    for inline in ["routing_key:", "service_key:", "api_url:"] {
        assert!(!text.contains(inline), "inline credential {inline}");
    }
}

fn kit_tools() -> PathBuf {
    let dir = std::env::var_os("SIDEWATCH_KIT_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/sidewatch/kit-tools")
        });
    assert!(
        dir.join("docker-compose").exists() && dir.join("py/.done").exists(),
        "docker-compose and yamllint missing in {}: run scripts/setup-test-tools.sh (scripts/test.sh does)",
        dir.display()
    );
    dir
}

#[test]
fn compose_file_validates_and_agrees_with_prometheus() {
    let root = root();
    let tools = kit_tools();
    let compose = tools.join("docker-compose");
    let out = Command::new(&compose)
        .args([
            "--env-file",
            ".env.example",
            "-f",
            "docker-compose.yml",
            "config",
            "-q",
        ])
        .current_dir(&root)
        .output()
        .expect("docker-compose");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("python3")
        .args(["-m", "yamllint", "-d", "{extends: default, rules: {line-length: disable, document-start: disable, truthy: {check-keys: false}}}", "docker-compose.yml"])
        .env("PYTHONPATH", tools.join("py"))
        .current_dir(&root)
        .output()
        .expect("yamllint");
    assert!(
        out.status.success(),
        "yamllint:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let doc: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join("docker-compose.yml")).expect("read"),
    )
    .expect("yaml");
    assert!(
        doc.get("version").is_none(),
        "the Compose spec has no version key"
    );
    let services = doc["services"].as_mapping().expect("services");
    // Every file or directory it mounts from the checkout exists.
    for (name, svc) in services {
        for v in svc["volumes"].as_sequence().into_iter().flatten() {
            let spec = v.as_str().unwrap_or_default();
            if let Some(local) = spec.strip_prefix("./") {
                let path = local.split(':').next().unwrap_or_default();
                assert!(root.join(path).exists(), "{name:?} mounts missing {path}");
                assert!(spec.ends_with(":ro"), "{name:?} mounts {path} writable");
            }
        }
        if svc["image"].as_str().is_some() {
            let image = svc["image"].as_str().unwrap_or_default();
            assert!(
                image.contains(':') && !image.ends_with(":latest"),
                "{name:?}: unpinned {image}"
            );
        }
    }
    // Scrape targets are compose services on the ports they publish.
    let prom: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join("prometheus/prometheus.yml")).expect("read"),
    )
    .expect("yaml");
    let jobs = prom["scrape_configs"]
        .as_sequence()
        .expect("scrape_configs");
    assert_eq!(jobs.len(), 5);
    for job in jobs {
        let name = job["job_name"].as_str().unwrap_or_default();
        assert!(name.starts_with("sidewatch-"), "{name}");
        for t in job["static_configs"][0]["targets"]
            .as_sequence()
            .expect("targets")
        {
            let t = t.as_str().unwrap_or_default();
            let (host, port) = t.split_once(':').expect("host:port");
            let svc = &doc["services"][host];
            assert!(svc.is_mapping(), "{name}: no compose service {host}");
            let ports: Vec<String> = svc["ports"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect();
            assert!(
                ports.iter().any(|p| p.ends_with(&format!(":{port}"))),
                "{name}: {host} does not publish {port} ({ports:?})"
            );
        }
    }
}

#[test]
fn dashboards_are_built_portable_and_complete() {
    let root = root();
    tool("python3", &["dashboards/build.py", "--check"], &root);
    let mut uids = BTreeSet::new();
    let dir = root.join("dashboards/json");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("dashboards")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "fleet, postgres, redis, node, wal, queues");
    for f in files {
        let d: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).expect("read")).expect("json");
        let uid = d["uid"].as_str().expect("uid");
        assert_eq!(
            Some(uid),
            f.file_stem().and_then(|s| s.to_str()),
            "stable uid = file name"
        );
        assert!(uids.insert(uid.to_owned()), "duplicate uid {uid}");
        let vars = d["templating"]["list"].as_array().expect("templating");
        let var = |name: &str| vars.iter().find(|v| v["name"] == name).cloned();
        assert_eq!(
            var("datasource").map(|v| v["type"].clone()),
            Some("datasource".into()),
            "{uid}"
        );
        for v in ["job", "instance"] {
            assert_eq!(
                var(v).map(|x| x["multi"].clone()),
                Some(true.into()),
                "{uid}: {v} multi-select"
            );
        }
        for p in d["panels"].as_array().expect("panels") {
            if p["type"] == "row" {
                continue;
            }
            let title = p["title"].as_str().unwrap_or_default();
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{uid}/{title}");
            assert!(
                p["fieldConfig"]["defaults"]["unit"].as_str().is_some(),
                "{uid}/{title}: no unit"
            );
            for t in p["targets"].as_array().expect("targets") {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{uid}/{title}");
                let expr = t["expr"].as_str().unwrap_or_default();
                // Ranges use $__rate_interval; selectors use the variables with =~.
                for range in expr.split('[').skip(1) {
                    assert!(
                        range.starts_with("$__rate_interval]"),
                        "{uid}/{title}: {expr}"
                    );
                }
                assert!(expr.contains("job=~\"$job\""), "{uid}/{title}: {expr}");
            }
        }
    }
}

#[test]
fn job_names_come_from_prometheus_yml() {
    let root = root();
    let prom: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join("prometheus/prometheus.yml")).expect("read"),
    )
    .expect("yaml");
    let jobs: BTreeSet<String> = prom["scrape_configs"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|j| j["job_name"].as_str().map(str::to_owned))
        .collect();
    let exact = regex::Regex::new(r#"job="([^"]+)""#).expect("regex");
    let mut texts: Vec<(PathBuf, String)> = Vec::new();
    for dir in ["alerts", "dashboards/json"] {
        for f in std::fs::read_dir(root.join(dir)).expect("dir").flatten() {
            if f.path().is_file() {
                texts.push((
                    f.path(),
                    std::fs::read_to_string(f.path()).unwrap_or_default(),
                ));
            }
        }
    }
    for (path, text) in texts {
        for c in exact.captures_iter(&text) {
            assert!(
                jobs.contains(&c[1]),
                "{}: job {:?} is not in prometheus.yml",
                path.display(),
                &c[1]
            );
        }
    }
}
