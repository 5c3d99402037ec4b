//! A throwaway redis-server that keeps nothing on disk.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Service;
use crate::{find_program, free_port, wait_until};

pub struct Redis {
    pub port: u16,
    _dir: TempDir,
    service: Service,
}

impl Redis {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts with extra `--name value` settings.
    pub fn start_with(settings: &[(&str, &str)]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sidewatch-redis")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir.path().display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (k, v) in settings {
            args.push(format!("--{k}"));
            args.push(v.to_string());
        }
        let program: PathBuf =
            find_program(&["redis-server"]).expect("redis-server is not installed");
        let service = Service::start("redis", &program, args, None, dir.path().join("redis.log"))
            .expect("start redis");
        let r = Self {
            port,
            _dir: dir,
            service,
        };
        r.wait_ready();
        r
    }

    fn wait_ready(&self) {
        let ok = wait_until(Duration::from_secs(20), || {
            self.command(&["PING"])
                .map(|r| r.contains("PONG"))
                .unwrap_or(false)
        });
        assert!(ok, "redis did not start:\n{}", self.service.log());
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends one command (RESP) and returns the raw reply.
    pub fn command(&self, args: &[&str]) -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes())?;
        let mut buf = vec![0u8; 1 << 16];
        let n = s.read(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    pub fn service(&mut self) -> &mut Service {
        &mut self.service
    }

    pub fn stop(&mut self) {
        self.service.stop();
    }

    pub fn restart(&mut self) {
        self.service.restart().expect("restart redis");
        self.wait_ready();
    }

    pub fn pause(&self) {
        self.service.pause();
    }

    pub fn resume(&self) {
        self.service.resume();
    }
}
