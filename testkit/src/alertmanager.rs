//! A throwaway Alertmanager (single node, no clustering).

use std::path::PathBuf;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Service;
use crate::{find_program, free_port, http_get, wait_until};

pub struct Alertmanager {
    pub port: u16,
    dir: TempDir,
    service: Service,
}

impl Alertmanager {
    /// Starts with `config` (alertmanager.yml text) and extra files beside it.
    pub fn start(config: &str, files: &[(&str, &str)]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sidewatch-am")
            .tempdir()
            .expect("tempdir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write file");
        }
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config).expect("write config");
        let port = free_port();
        let program: PathBuf = find_program(&["prometheus-alertmanager", "alertmanager"])
            .expect("alertmanager is not installed");
        let args = vec![
            format!("--config.file={}", config_path.display()),
            format!("--storage.path={}", dir.path().join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=".to_owned(),
        ];
        let service = Service::start(
            "alertmanager",
            &program,
            args,
            None,
            dir.path().join("am.log"),
        )
        .expect("start alertmanager");
        let am = Self { port, dir, service };
        let ok = wait_until(Duration::from_secs(30), || {
            http_get(&format!("{}/-/ready", am.url())).is_ok()
        });
        assert!(ok, "alertmanager did not start:\n{}", am.service.log());
        am
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The alerts it holds, as JSON text.
    pub fn alerts(&self) -> String {
        http_get(&format!("{}/api/v2/alerts", self.url())).unwrap_or_default()
    }

    pub fn service(&mut self) -> &mut Service {
        &mut self.service
    }
}
