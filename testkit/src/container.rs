//! A server in a container of one of the test kit's images (built by
//! scripts/setup-docker.sh from Debian packages), its port published on
//! 127.0.0.1, removed on drop.

use std::process::Command;
use std::time::Duration;

use crate::wait_until;

pub struct Container {
    pub id: String,
    /// The published port on 127.0.0.1.
    pub port: u16,
}

/// A container's output and errors (its last `tail` lines), for failure
/// messages; empty when docker cannot say.
pub fn logs(id: &str, tail: Option<usize>) -> String {
    let mut cmd = Command::new("docker");
    cmd.arg("logs");
    if let Some(n) = tail {
        cmd.args(["--tail", &n.to_string()]);
    }
    cmd.arg(id)
        .output()
        .map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .unwrap_or_default()
}

/// `docker ARGS`: its output, trimmed, or what it printed on failure.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| format!("docker: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "docker {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Container {
    /// `docker run -d` of `image` with `env`, publishing `port`, then `cmd`.
    pub fn run(image: &str, env: &[(&str, &str)], port: u16, cmd: &[&str]) -> Self {
        Self::run_with(image, env, &[], port, cmd)
    }

    /// [`Container::run`] with more `docker run` options (`-v`, ...).
    pub fn run_with(
        image: &str,
        env: &[(&str, &str)],
        options: &[&str],
        port: u16,
        cmd: &[&str],
    ) -> Self {
        let mut args: Vec<String> = vec![
            "run".into(),
            "-d".into(),
            "--label".into(),
            "sidewatch.test=1".into(),
            "-p".into(),
            format!("127.0.0.1::{port}"),
        ];
        for (k, v) in env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        args.extend(options.iter().map(|s| (*s).to_owned()));
        args.push(image.into());
        args.extend(cmd.iter().map(|s| (*s).to_owned()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = docker(&refs).unwrap_or_else(|e| {
            panic!("{e}\n(scripts/setup-docker.sh starts dockerd and builds {image})")
        });
        let mapped = docker(&["port", &id, &port.to_string()]).expect("docker port");
        let port = mapped
            .lines()
            .find_map(|l| l.strip_prefix("127.0.0.1:"))
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no published port in {mapped:?}"));
        Self { id, port }
    }

    /// Waits until `ready` holds; panics with the container's log if not.
    pub fn wait(&self, what: &str, ready: impl FnMut() -> bool) {
        assert!(
            wait_until(Duration::from_secs(60), ready),
            "{what} did not start:\n{}",
            self.logs()
        );
    }

    pub fn logs(&self) -> String {
        logs(&self.id, None)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "-v", &self.id]);
    }
}
