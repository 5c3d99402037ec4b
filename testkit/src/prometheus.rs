//! A throwaway Prometheus server and its query API.

use std::path::PathBuf;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Service;
use crate::{find_program, free_port, http_get, http_get_query, wait_until};

pub struct Prometheus {
    pub port: u16,
    dir: TempDir,
    service: Service,
}

impl Prometheus {
    /// Starts Prometheus with `config` (prometheus.yml text) and extra files
    /// written beside it (e.g. rule files), by relative name.
    pub fn start(config: &str, files: &[(&str, &str)]) -> Self {
        let program: PathBuf = find_program(&["prometheus"]).expect("prometheus is not installed");
        Self::start_program(&program, config, files, false, &[])
    }

    /// Starts `program` (another Prometheus release) with `config`; in
    /// agent mode (`--agent`, Prometheus 3) when `agent`, with `extra`
    /// flags after the kit's own.
    pub fn start_program(
        program: &std::path::Path,
        config: &str,
        files: &[(&str, &str)],
        agent: bool,
        extra: &[&str],
    ) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sidewatch-prom")
            .tempdir()
            .expect("tempdir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write file");
        }
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write config");
        let data = dir.path().join("data").display().to_string();
        // A free port can be taken by another test (or a container's
        // published port) before Prometheus binds it: then another one.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let _ = std::fs::remove_file(dir.path().join("prometheus.log"));
            let mut args = vec![
                format!("--config.file={}", config_path.display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--web.enable-lifecycle".to_owned(),
            ];
            if agent {
                args.push("--agent".to_owned());
                args.push(format!("--storage.agent.path={data}"));
            } else {
                args.push(format!("--storage.tsdb.path={data}"));
            }
            args.extend(extra.iter().map(|a| (*a).to_owned()));
            let service = Service::start(
                "prometheus",
                program,
                args,
                None,
                dir.path().join("prometheus.log"),
            )
            .expect("start prometheus");
            let in_use = |s: &Service| s.log().contains("address already in use");
            let ok = wait_until(Duration::from_secs(30), || {
                in_use(&service) || http_get(&format!("http://127.0.0.1:{port}/-/ready")).is_ok()
            });
            if ok && !in_use(&service) {
                return Self { port, dir, service };
            }
            last_log = service.log();
            if !in_use(&service) {
                break;
            }
        }
        panic!("prometheus did not start:\n{last_log}");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn get(&self, path: &str) -> Result<String, String> {
        http_get(&format!("{}{path}", self.url()))
    }

    /// Instant query; each result as (labels, value).
    pub fn query(&self, promql: &str) -> Vec<(serde_json::Map<String, serde_json::Value>, f64)> {
        let body = http_get_query(
            &format!("{}/api/v1/query", self.url()),
            &[("query", promql)],
        )
        .unwrap_or_else(|e| panic!("query {promql}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&body).expect("query JSON");
        v["data"]["result"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .map(|r| {
                        let labels = r["metric"].as_object().cloned().unwrap_or_default();
                        let value = r["value"][1]
                            .as_str()
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(f64::NAN);
                        (labels, value)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Active targets' (job, health, lastError).
    pub fn targets(&self) -> Vec<(String, String, String)> {
        let body = self.get("/api/v1/targets").unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["data"]["activeTargets"]
            .as_array()
            .map(|ts| {
                ts.iter()
                    .map(|t| {
                        (
                            t["labels"]["job"].as_str().unwrap_or_default().to_owned(),
                            t["health"].as_str().unwrap_or_default().to_owned(),
                            t["lastError"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn service(&mut self) -> &mut Service {
        &mut self.service
    }
}
