//! The operator kit held to its rules: promtool checks and unit tests pass,
//! every alert carries a severity, summary, description, a runbook anchor
//! that exists, and a `for:` duration.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use sidewatch_testkit::{debian_program, find_program};

mod support;
use support::{kit_tools_dir, root};

/// The Prometheus tools the kit is checked with: Debian's (2.x) and
/// sid's (3.5 / Alertmanager 0.33, scripts/setup-test-tools.sh).
fn versions(name: &str) -> Vec<PathBuf> {
    let package = if name == "amtool" {
        "prometheus-alertmanager"
    } else {
        name
    };
    vec![
        find_program(&[name]).unwrap_or_else(|| panic!("{name} (Debian's prometheus packages)")),
        debian_program("sid", package, name).unwrap_or_else(|| {
            panic!("sid's {name} missing: run scripts/setup-test-tools.sh (scripts/test.sh does)")
        }),
    ]
}

fn tool(name: &str, args: &[&str], cwd: &Path) -> String {
    let mut last = String::new();
    for program in versions(name) {
        last = run_tool(&program, args, cwd);
    }
    last
}

fn run_tool(program: &Path, args: &[&str], cwd: &Path) -> String {
    let name = program.display();
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

/// The rules' unit tests under one promtool (the SLO tests take tens of
/// seconds; one test per version lets them run side by side).
fn rule_unit_tests_pass(version: usize) {
    let root = root();
    let program = versions("promtool").swap_remove(version);
    for t in yaml_files(&root.join("alerts/tests")) {
        run_tool(
            &program,
            &["test", "rules", &t.display().to_string()],
            &root.join("alerts/tests"),
        );
    }
}

#[test]
fn rule_unit_tests_pass_under_debians_prometheus_2() {
    rule_unit_tests_pass(0);
}

#[test]
fn rule_unit_tests_pass_under_prometheus_3_5() {
    rule_unit_tests_pass(1);
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
    let dir = kit_tools_dir();
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
    run_tool(
        Path::new("python3"),
        &["dashboards/build.py", "--check"],
        &root,
    );
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
        for v in ["cluster", "job", "instance"] {
            assert_eq!(
                var(v).map(|x| x["multi"].clone()),
                Some(true.into()),
                "{uid}: {v} multi-select"
            );
        }
        // One Prometheus sets no cluster label: "All" must match its absence.
        assert_eq!(
            var("cluster").map(|x| x["allValue"].clone()),
            Some(".*".into()),
            "{uid}: cluster's All"
        );
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
                assert!(
                    expr.contains("cluster=~\"$cluster\", job=~\"$job\""),
                    "{uid}/{title}: {expr}"
                );
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

/// "1.88" or "1.88.0" as comparable numbers.
fn rust_version(v: &str) -> [u64; 3] {
    let mut out = [0; 3];
    for (slot, part) in out.iter_mut().zip(v.split('.')) {
        *slot = part.parse().unwrap_or(0);
    }
    out
}

#[test]
fn rust_version_is_true_and_the_dockerfile_builder_meets_it() {
    let root = root();
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(&root)
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata");
    let (highest, who) = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| {
            Some((
                rust_version(p["rust_version"].as_str()?),
                p["name"].as_str()?.to_owned(),
            ))
        })
        .max()
        .expect("some rust_version");
    // [workspace.package] rust-version, read without a TOML crate.
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let declared = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("rust-version in Cargo.toml");
    let ours = rust_version(&declared);
    assert!(
        ours >= highest,
        "workspace rust-version {declared} is below {who}'s {highest:?}"
    );
    // The Dockerfile's default builder: rust:<major.minor>-<suite>.
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).expect("Dockerfile");
    let builder = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("ARG BUILDER_IMAGE=rust:"))
        .expect("ARG BUILDER_IMAGE=rust:<version>-<suite> in the Dockerfile");
    let version = builder.split('-').next().unwrap_or_default();
    assert!(
        rust_version(version) >= highest && rust_version(version) >= ours,
        "builder rust:{version} is older than the lock needs ({highest:?}, {who})"
    );
    // The test's stand-in builder has the same toolchain version.
    let override_file =
        std::fs::read_to_string(root.join("testkit/compose.test.yml")).expect("override");
    assert!(
        override_file.contains(&format!("sidewatch-test/rust:{builder}")),
        "testkit/compose.test.yml builds with another builder than rust:{builder}"
    );
}

/// Keys of a service in testkit/compose.test.yml that may differ from the
/// shipped file: what image runs, nothing about how it runs.
const OVERRIDABLE: &[&str] = &["image", "build", "pull_policy"];

#[test]
fn the_test_override_changes_only_images() {
    let root = root();
    let shipped: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join("docker-compose.yml")).expect("read"),
    )
    .expect("yaml");
    let test: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join("testkit/compose.test.yml")).expect("read"),
    )
    .expect("yaml");
    let top: Vec<&str> = test
        .as_mapping()
        .expect("mapping")
        .keys()
        .filter_map(|k| k.as_str())
        .filter(|k| !k.starts_with("x-"))
        .collect();
    assert_eq!(top, ["services"], "the override may only name services");
    for (name, svc) in test["services"].as_mapping().expect("services") {
        assert!(
            shipped["services"][name].is_mapping(),
            "{name:?} is not a shipped service"
        );
        for key in svc.as_mapping().expect("service").keys() {
            let key = key.as_str().unwrap_or_default();
            assert!(OVERRIDABLE.contains(&key), "{name:?}: override of {key}");
        }
        if let Some(build) = svc.get("build") {
            for key in build.as_mapping().expect("build").keys() {
                let key = key.as_str().unwrap_or_default();
                assert!(["context", "args"].contains(&key), "{name:?}: build.{key}");
            }
            let args = build["args"].as_mapping().expect("build args");
            for arg in args.keys() {
                let arg = arg.as_str().unwrap_or_default();
                assert!(
                    ["BUILDER_IMAGE", "RUNTIME_IMAGE"].contains(&arg),
                    "{name:?}: build arg {arg} (only the base images)"
                );
            }
        }
    }
    // Every service that pulls an image has a local stand-in, except Grafana
    // (docs/docker-test-images.md).
    for (name, svc) in shipped["services"].as_mapping().expect("services") {
        let name = name.as_str().unwrap_or_default();
        if svc["image"].is_string() && name != "grafana" {
            assert!(
                test["services"][name].is_mapping(),
                "{name}: no stand-in in testkit/compose.test.yml"
            );
        }
    }
}

#[test]
fn every_exporter_checks_its_own_health() {
    let root = root();
    let doc: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join("docker-compose.yml")).expect("read"),
    )
    .expect("yaml");
    let mut exporters = 0;
    for (name, svc) in doc["services"].as_mapping().expect("services") {
        let Some(entry) = svc["entrypoint"][0].as_str() else {
            continue;
        };
        let Some(binary) = entry.strip_prefix("/usr/local/bin/") else {
            continue;
        };
        exporters += 1;
        let test: Vec<&str> = svc["healthcheck"]["test"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name:?}: no healthcheck"))
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(test, ["CMD", entry, "healthcheck"], "{name:?} ({binary})");
    }
    assert_eq!(exporters, 5);
}

#[test]
fn the_dockerfile_caches_the_dependencies_of_every_workspace_member() {
    let root = root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let members_line = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("members = "))
        .expect("members = [...] in Cargo.toml");
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).expect("Dockerfile");
    let mut members = 0;
    for member in members_line
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
    {
        members += 1;
        assert!(
            dockerfile.contains(&format!("COPY {member}/Cargo.toml {member}/")),
            "the Dockerfile's dependency layer misses {member}/Cargo.toml"
        );
    }
    assert!(members >= 8, "{members} members");
}

/// The shipped image is what bench/ measures (issue 17): the Dockerfile
/// builds with the same RUSTFLAGS as bench/run.sh and the soak script, and
/// both build the release profile that Cargo.toml defines.
#[test]
fn the_image_builds_the_binaries_bench_measures() {
    let root = root();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).expect("Dockerfile");
    let shipped = dockerfile
        .lines()
        .find_map(|l| l.trim().strip_prefix("ENV RUSTFLAGS="))
        .expect("ENV RUSTFLAGS=... in the Dockerfile")
        .trim_matches('"')
        .to_owned();
    assert!(
        shipped.contains("relocation-model=static") && shipped.contains("+crt-static"),
        "{shipped}"
    );
    for script in ["bench/run.sh", "bench/soak.sh", "bench/order.sh"] {
        let text = std::fs::read_to_string(root.join(script)).expect(script);
        let flags = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("RUSTFLAGS="))
            .unwrap_or_else(|| panic!("RUSTFLAGS=... in {script}"));
        let flags = flags.split('"').nth(1).unwrap_or(flags);
        assert_eq!(
            flags, shipped,
            "{script} builds with other flags than the image"
        );
        assert!(text.contains("cargo build --release"), "{script}");
        // One build of all five, as in the image: cargo unifies features
        // per build, and with them the code and its symbol names.
        assert!(
            text.contains(
                "-p sidewatch-node -p sidewatch-postgres -p sidewatch-redis -p sidewatch-wal -p sidewatch-queue"
            ),
            "{script} does not build the five exporters together, as the image does"
        );
    }
    assert!(dockerfile.contains("cargo build --release --locked"));
}

/// Every exporter is linked in the code order bench/order.sh wrote for it,
/// in the image too: its build script is common/symbol-order.rs, which the
/// Dockerfile's dependency layer copies, and its symbol-order.txt lists the
/// functions of a scrape first.
#[test]
fn every_exporter_is_linked_in_its_code_order() {
    let root = root();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).expect("Dockerfile");
    assert!(
        dockerfile.contains("COPY common/Cargo.toml common/symbol-order.rs common/"),
        "the Dockerfile's dependency layer misses common/symbol-order.rs"
    );
    let script = std::fs::read_to_string(root.join("common/symbol-order.rs")).expect("script");
    assert!(script.contains("--symbol-ordering-file=") && script.contains("--strip-all"));
    for name in ["node", "postgres", "redis", "wal", "queue"] {
        let dir = root.join("exporters").join(name);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
        assert!(
            manifest.contains("build = \"../../common/symbol-order.rs\""),
            "sidewatch-{name} does not use the shared build script"
        );
        let order = std::fs::read_to_string(dir.join("symbol-order.txt")).unwrap_or_else(|e| {
            panic!("sidewatch-{name}: symbol-order.txt: {e} (bench/order.sh {name})")
        });
        let names: Vec<&str> = order.lines().collect();
        assert!(names.len() > 200, "sidewatch-{name}: {} names", names.len());
        // The scrape's own functions are in it: the encoder of every exporter.
        assert!(
            names.iter().any(|n| n.contains("encode_text")),
            "sidewatch-{name}: no encoder in symbol-order.txt"
        );
    }
}
