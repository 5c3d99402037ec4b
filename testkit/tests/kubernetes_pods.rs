//! The example overlay's database pods, run on the real Docker engine the
//! way a kubelet runs a pod: one network namespace for all the pod's
//! containers (the sidecars reach the database on localhost), the native
//! sidecars started first, each container with its rendered command, args,
//! env (Secrets resolved, `$(VAR)` expanded), user and group, fsGroup as a
//! supplementary group and the volume's group, read-only root filesystem,
//! no capabilities and no privilege escalation; emptyDirs and the volume
//! claim as fresh volumes, Secrets and ConfigMaps as read-only files. Then
//! the exporters must report what the database holds: sidewatch-postgres
//! logs in with the Secret's role, sidewatch-wal counts the segments that
//! are in pg_wal through its read-only mount, sidewatch-redis reads Redis,
//! sidewatch-queue counts the jobs pushed. Images are the compose test's
//! local stand-ins (testkit/compose.test.yml) and the sidewatch image the
//! shipped Dockerfile builds (scripts/setup-docker.sh).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use serde_yaml::Value;
use sidewatch_testkit::container::{self, docker};
use sidewatch_testkit::exposition::Exposition;
use sidewatch_testkit::{http_get, wait_until};

mod support;
use support::k8s::{
    containers, data_of, env_of, example, expand, kind, name, pods, strings, volume_files,
};
use support::root;

fn docker_ok(args: &[&str]) -> String {
    docker(args).unwrap_or_else(|e| {
        panic!("{e}\n(scripts/setup-docker.sh starts dockerd and builds the images)")
    })
}

/// The shipped compose file's images mapped to the test override's local
/// stand-ins (the same upstream images the example overlay names).
fn image_map() -> BTreeMap<String, String> {
    let read = |f: &str| -> Value {
        serde_yaml::from_str(&std::fs::read_to_string(root().join(f)).expect("read")).expect("yaml")
    };
    let shipped = read("docker-compose.yml");
    let test = read("testkit/compose.test.yml");
    let mut out = BTreeMap::new();
    for (svc, s) in shipped["services"].as_mapping().into_iter().flatten() {
        if let (Some(from), Some(to)) =
            (s["image"].as_str(), test["services"][svc]["image"].as_str())
        {
            out.insert(from.to_owned(), to.to_owned());
        }
    }
    out
}

/// One pod's containers and volumes, removed on drop.
struct Pod {
    containers: Vec<(String, String)>,
    volumes: Vec<String>,
    _files: tempfile::TempDir,
    /// Published host port of each named container port.
    ports: BTreeMap<String, u16>,
    /// The first (workload) container's id.
    main: String,
}

impl Drop for Pod {
    fn drop(&mut self) {
        for (_, id) in self.containers.iter().rev() {
            let _ = docker(&["rm", "-f", "-v", id]);
        }
        for v in &self.volumes {
            let _ = docker(&["volume", "rm", "-f", v]);
        }
    }
}

impl Pod {
    fn logs(&self) -> String {
        let mut out = String::new();
        for (name, id) in &self.containers {
            let log = container::logs(id, Some(30));
            out.push_str(&format!("--- {name}\n{log}\n"));
        }
        out
    }

    /// What the liveness probes ask: `/health/live` on each port answers.
    fn assert_alive(&self, ports: &[&str]) {
        for port in ports {
            let live = http_get(&format!(
                "http://127.0.0.1:{}/health/live",
                self.ports[*port]
            ));
            assert!(live.is_ok(), "{port}: /health/live: {live:?}");
        }
    }

    fn metrics(&self, port: &str) -> String {
        http_get(&format!("http://127.0.0.1:{}/metrics", self.ports[port])).unwrap_or_default()
    }

    fn exec(&self, cmd: &[&str]) -> String {
        let mut args = vec!["exec", self.main.as_str()];
        args.extend_from_slice(cmd);
        docker_ok(&args)
    }

    /// Runs the workload `what` (Kind/name) of the rendered objects.
    fn run(objs: &[Value], what: &str) -> Pod {
        let images = image_map();
        let (_, _, template) = pods(objs)
            .into_iter()
            .find(|(w, _, _)| w == what)
            .unwrap_or_else(|| panic!("no {what} in the example"));
        let spec = &template["spec"];
        let tag = format!(
            "sidewatch-pod-{}-{}",
            what.replace('/', "-").to_lowercase(),
            std::process::id()
        );
        let files = tempfile::tempdir().expect("tempdir");
        let mut pod = Pod {
            containers: Vec::new(),
            volumes: Vec::new(),
            _files: files,
            ports: BTreeMap::new(),
            main: String::new(),
        };
        let all = containers(spec);
        let fs_group = spec["securityContext"]["fsGroup"].as_u64();

        // The pod's network namespace, with every container port published.
        let mut sandbox = vec![
            "run".to_owned(),
            "-d".into(),
            "--label".into(),
            "sidewatch.test=1".into(),
            "--name".into(),
            format!("{tag}-sandbox"),
        ];
        let mut port_names = Vec::new();
        for (c, _) in &all {
            for p in c["ports"].as_sequence().into_iter().flatten() {
                let number = p["containerPort"].as_u64().expect("containerPort");
                sandbox.push("-p".into());
                sandbox.push(format!("127.0.0.1::{number}"));
                port_names.push((p["name"].as_str().unwrap_or_default().to_owned(), number));
            }
        }
        sandbox.extend([
            "sidewatch-test/debian:trixie".into(),
            "sleep".into(),
            "infinity".into(),
        ]);
        let sandbox_id = docker(&sandbox.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap_or_else(|e| panic!("{e}"));
        pod.containers.push(("sandbox".into(), sandbox_id.clone()));
        for (port_name, number) in port_names {
            let mapped = docker_ok(&["port", &sandbox_id, &number.to_string()]);
            let host: u16 = mapped
                .lines()
                .find_map(|l| l.strip_prefix("127.0.0.1:"))
                .and_then(|p| p.trim().parse().ok())
                .expect("published port");
            pod.ports.insert(port_name, host);
        }

        // Volumes: claims and emptyDirs as fresh volumes (world-writable as
        // a kubelet makes an emptyDir; the fsGroup's, setgid, as a kubelet
        // makes a claim), Secrets and ConfigMaps as files.
        let mut mounts: BTreeMap<String, String> = BTreeMap::new();
        let claims: Vec<String> = template_claims(objs, what);
        for v in spec["volumes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|v| (v["name"].as_str().unwrap_or_default().to_owned(), v.clone()))
            .chain(claims.iter().map(|c| (c.clone(), Value::Null)))
        {
            let (vname, vol) = v;
            let source = if let Some((items, _)) = volume_files(objs, &vol) {
                let dir = pod._files.path().join(&vname);
                std::fs::create_dir_all(&dir).expect("mkdir");
                for (path, value) in items {
                    std::fs::write(dir.join(path), value).expect("write");
                }
                // Readable by the container's user, as the kubelet's 0644.
                let _ = Command::new("chmod")
                    .args(["-R", "a+rX"])
                    .arg(pod._files.path())
                    .status();
                format!("type=bind,source={},readonly", dir.display())
            } else if vol["hostPath"].is_null() {
                let volume = docker_ok(&["volume", "create", "--label", "sidewatch.test=1"]);
                pod.volumes.push(volume.clone());
                let setup = match (vol["emptyDir"].is_null(), fs_group) {
                    (false, _) => "chmod 0777 /v".to_owned(),
                    (true, Some(g)) => format!("chgrp {g} /v && chmod 2775 /v"),
                    (true, None) => "true".to_owned(),
                };
                docker_ok(&[
                    "run",
                    "--rm",
                    "-v",
                    &format!("{volume}:/v"),
                    "sidewatch-test/debian:trixie",
                    "sh",
                    "-c",
                    &setup,
                ]);
                format!("type=volume,source={volume}")
            } else {
                panic!("{what}: hostPath volumes are the node DaemonSet's, not run here");
            };
            mounts.insert(vname, source);
        }

        // Native sidecars first, then the containers, as the kubelet starts them.
        for (c, _) in &all {
            let cname = c["name"].as_str().expect("name");
            let image = c["image"].as_str().expect("image");
            let image = images.get(image).map(String::as_str).unwrap_or(image);
            let sc = &c["securityContext"];
            let pod_sc = &spec["securityContext"];
            let either = |k: &str| {
                if sc[k].is_null() {
                    pod_sc[k].clone()
                } else {
                    sc[k].clone()
                }
            };
            let mut args = vec![
                "run".to_owned(),
                "-d".into(),
                "--label".into(),
                "sidewatch.test=1".into(),
                "--name".into(),
                format!("{tag}-{cname}"),
                format!("--network=container:{sandbox_id}"),
            ];
            if let Some(uid) = either("runAsUser").as_u64() {
                let gid = either("runAsGroup").as_u64().unwrap_or(uid);
                args.push(format!("--user={uid}:{gid}"));
            }
            if let Some(g) = fs_group {
                args.push(format!("--group-add={g}"));
            }
            if sc["readOnlyRootFilesystem"].as_bool() == Some(true) {
                args.push("--read-only".into());
            }
            if sc["allowPrivilegeEscalation"].as_bool() == Some(false) {
                args.push("--security-opt=no-new-privileges".into());
            }
            for cap in sc["capabilities"]["drop"]
                .as_sequence()
                .into_iter()
                .flatten()
            {
                args.push(format!("--cap-drop={}", cap.as_str().unwrap_or_default()));
            }
            let (env, _) = env_of(objs, c, str::to_owned);
            for (k, v) in &env {
                args.push("-e".into());
                args.push(format!("{k}={v}"));
            }
            for m in c["volumeMounts"].as_sequence().into_iter().flatten() {
                let vname = m["name"].as_str().expect("mount name");
                let mut source = mounts
                    .get(vname)
                    .unwrap_or_else(|| panic!("{what}/{cname}: no volume {vname}"))
                    .clone();
                if m["readOnly"].as_bool() == Some(true) && !source.ends_with(",readonly") {
                    source.push_str(",readonly");
                }
                args.push("--mount".into());
                args.push(format!(
                    "{source},target={}",
                    m["mountPath"].as_str().expect("mountPath")
                ));
            }
            // command replaces the image's entrypoint, args its command.
            let command: Vec<String> = strings(&c["command"])
                .iter()
                .map(|s| expand(s, &env))
                .collect();
            let cargs: Vec<String> = strings(&c["args"])
                .iter()
                .map(|s| expand(s, &env))
                .collect();
            if let Some(first) = command.first() {
                args.push(format!("--entrypoint={first}"));
            }
            args.push(image.to_owned());
            args.extend(command.iter().skip(1).cloned());
            args.extend(cargs);
            let id = docker(&args.iter().map(String::as_str).collect::<Vec<_>>())
                .unwrap_or_else(|e| panic!("{what}/{cname}: {e}\n{}", pod.logs()));
            pod.containers.push((cname.to_owned(), id.clone()));
            if pod.main.is_empty() && !image.starts_with("sidewatch:") {
                pod.main = id;
            }
        }
        pod
    }
}

/// The names of a StatefulSet's volume claim templates.
fn template_claims(objs: &[Value], what: &str) -> Vec<String> {
    objs.iter()
        .filter(|o| format!("{}/{}", kind(o), name(o)) == what)
        .flat_map(|o| {
            o["spec"]["volumeClaimTemplates"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|c| c["metadata"]["name"].as_str().map(str::to_owned))
        .collect()
}

fn value(body: &str, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    Exposition::parse(body).value(family, labels)
}

#[test]
fn the_postgres_pod_runs_with_its_sidecars_as_rendered() {
    let objs = example();
    let pod = Pod::run(&objs, "StatefulSet/postgres");
    let ok = wait_until(Duration::from_secs(120), || {
        value(&pod.metrics("pg-metrics"), "pg_up", &[]) == Some(1.0)
    });
    assert!(
        ok,
        "pg_up is not 1:\n{}\n{}",
        pod.metrics("pg-metrics"),
        pod.logs()
    );
    pod.assert_alive(&["pg-metrics", "wal-metrics"]);
    // The exporter logged in as the Secret's role, which the init script
    // made a member of pg_monitor, not as the superuser.
    let user =
        data_of(&objs, "Secret", &secret_name(&objs, "sidewatch-postgres"))["username"].clone();
    let sessions = pod.exec(&[
        "psql",
        "-h",
        "/var/run/postgresql",
        "-U",
        "postgres",
        "-Atc",
        &format!("SELECT count(*) FROM pg_stat_activity WHERE usename = '{user}'"),
    ]);
    assert_ne!(sessions.trim(), "0", "no session of {user}");
    let max: f64 = pod
        .exec(&[
            "psql",
            "-h",
            "/var/run/postgresql",
            "-U",
            "postgres",
            "-Atc",
            "SHOW max_connections",
        ])
        .trim()
        .parse()
        .expect("max_connections");
    assert_eq!(
        value(
            &pod.metrics("pg-metrics"),
            "pg_settings_max_connections",
            &[]
        ),
        Some(max)
    );

    // The WAL sidecar, through the read-only mount of the data volume as
    // uid 999, counts what is in pg_wal.
    let pgdata = "/var/lib/postgresql/data/pgdata";
    let count_segments = || -> f64 {
        pod.exec(&[
            "sh",
            "-c",
            &format!("ls {pgdata}/pg_wal | grep -cE '^[0-9A-F]{{24}}$' || true"),
        ])
        .trim()
        .parse()
        .expect("count")
    };
    let ok = wait_until(Duration::from_secs(60), || {
        let want = count_segments();
        value(&pod.metrics("wal-metrics"), "sidewatch_wal_segments", &[]) == Some(want)
            && want > 0.0
    });
    assert!(
        ok,
        "sidewatch_wal_segments vs pg_wal ({}):\n{}\n{}",
        count_segments(),
        pod.metrics("wal-metrics"),
        pod.logs()
    );
    assert_eq!(
        value(&pod.metrics("wal-metrics"), "sidewatch_wal_up", &[]),
        Some(1.0)
    );
}

/// The rendered (hash-suffixed) name of a generated Secret.
fn secret_name(objs: &[Value], base: &str) -> String {
    objs.iter()
        .filter(|o| kind(o) == "Secret")
        .map(name)
        .find(|n| {
            n.strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('-') && rest.len() == 11)
        })
        .unwrap_or_else(|| panic!("no Secret {base}"))
}

#[test]
fn the_redis_pod_runs_with_its_sidecars_as_rendered() {
    let objs = example();
    let pod = Pod::run(&objs, "Deployment/redis");
    let ok = wait_until(Duration::from_secs(60), || {
        value(&pod.metrics("redis-metrics"), "redis_up", &[]) == Some(1.0)
    });
    assert!(ok, "redis_up is not 1:\n{}", pod.logs());
    pod.assert_alive(&["redis-metrics", "queue-metrics"]);
    let password =
        data_of(&objs, "Secret", &secret_name(&objs, "sidewatch-redis"))["password"].clone();
    let cli = |args: &[&str]| -> String {
        let mut cmd = vec!["redis-cli", "-a", password.as_str(), "--no-auth-warning"];
        cmd.extend_from_slice(args);
        pod.exec(&cmd)
    };
    cli(&["RPUSH", "jobs", "a", "b", "c", "d", "e"]);
    let ok = wait_until(Duration::from_secs(30), || {
        value(
            &pod.metrics("queue-metrics"),
            "sidewatch_queue_depth",
            &[("queue", "jobs"), ("state", "waiting")],
        ) == Some(5.0)
    });
    assert!(
        ok,
        "sidewatch_queue_depth for jobs:\n{}\n{}",
        pod.metrics("queue-metrics"),
        pod.logs()
    );
    let clients: f64 = cli(&["INFO", "clients"])
        .lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("connected_clients");
    let reported = value(
        &pod.metrics("redis-metrics"),
        "redis_connected_clients",
        &[],
    )
    .expect("redis_connected_clients");
    assert!((reported - clients).abs() <= 2.0, "{reported} vs {clients}");
    // The password reached Redis as requirepass: without it, no answer.
    let refused = Command::new("docker")
        .args(["exec", &pod.main, "redis-cli", "PING"])
        .output()
        .expect("docker exec");
    assert!(!String::from_utf8_lossy(&refused.stdout).contains("PONG"));
}
