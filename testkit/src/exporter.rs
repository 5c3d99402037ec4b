//! A sidewatch exporter binary under test, on a free port.

use std::path::Path;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Service;
use crate::{free_port, http_get, wait_until};

pub struct Exporter {
    pub port: u16,
    _dir: TempDir,
    service: Service,
}

impl Exporter {
    /// Starts `binary` with `args` plus `--web.listen-address=127.0.0.1:PORT`
    /// and waits until `/health/ready` answers (plain HTTP only; TLS tests use
    /// [`Exporter::start_unchecked`]).
    pub fn start(binary: &Path, args: &[&str]) -> Self {
        Self::start_env(binary, args, &[])
    }

    /// [`Exporter::start`] with environment variables (e.g. `DATA_SOURCE_NAME`).
    pub fn start_env(binary: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let e = Self::start_unchecked_env(binary, args, envs);
        let ok = wait_until(Duration::from_secs(20), || {
            http_get(&format!("http://127.0.0.1:{}/health/ready", e.port)).is_ok()
        });
        assert!(ok, "exporter did not become ready:\n{}", e.service.log());
        e
    }

    /// Starts without waiting for readiness.
    pub fn start_unchecked(binary: &Path, args: &[&str]) -> Self {
        Self::start_unchecked_env(binary, args, &[])
    }

    /// [`Exporter::start_unchecked`] with environment variables.
    pub fn start_unchecked_env(binary: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sidewatch-exp")
            .tempdir()
            .expect("tempdir");
        let log = dir.path().join("exporter.log");
        // A free port can be taken (by another test, or a container's
        // published port) before the exporter binds it; it then exits at
        // once saying so, and starts again on another port.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port();
            let _ = std::fs::remove_file(&log);
            let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            all.push(format!("--web.listen-address=127.0.0.1:{port}"));
            let mut service = Service::start_env(
                "exporter",
                binary,
                all,
                envs.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                None,
                log.clone(),
            )
            .expect("start exporter");
            wait_until(Duration::from_secs(2), || {
                service.exited() || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            let lost_port = service.exited() && service.log().contains("Address already in use");
            if !lost_port || attempt == 5 {
                return Self {
                    port,
                    _dir: dir,
                    service,
                };
            }
        }
    }

    /// Waits until the port accepts connections.
    pub fn wait_listening(&self) -> bool {
        wait_until(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn log(&self) -> String {
        self.service.log()
    }

    pub fn service(&mut self) -> &mut Service {
        &mut self.service
    }
}
