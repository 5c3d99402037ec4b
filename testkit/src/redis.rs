//! A throwaway redis-server that keeps nothing on disk.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Service;
use crate::{find_program, free_port, wait_until};

pub struct Redis {
    pub port: u16,
    _dir: TempDir,
    /// The local redis-server (None for one in a container).
    service: Option<Service>,
    _container: Option<crate::container::Container>,
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
            service: Some(service),
            _container: None,
        };
        r.wait_ready();
        r
    }

    fn wait_ready(&self) {
        let ok = wait_until(Duration::from_secs(20), || {
            // With requirepass, NOAUTH also says the server is up.
            self.command(&["PING"])
                .map(|r| r.contains("PONG") || r.contains("NOAUTH"))
                .unwrap_or(false)
        });
        let log = match (&self.service, &self._container) {
            (Some(s), _) => s.log(),
            (None, Some(c)) => c.logs(),
            _ => String::new(),
        };
        assert!(ok, "redis did not start:\n{log}");
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

    /// Sends one command and parses the reply.
    pub fn query(&self, args: &[&str]) -> Reply {
        let mut replies = self.pipeline(std::iter::once(
            args.iter().map(|s| s.to_string()).collect(),
        ));
        replies.pop().expect("one reply")
    }

    /// An integer reply (or a string holding one).
    pub fn int(&self, args: &[&str]) -> i64 {
        match self.query(args) {
            Reply::Int(i) => i,
            Reply::Bulk(s) | Reply::Simple(s) => {
                s.parse().unwrap_or_else(|_| panic!("{args:?} gave {s:?}"))
            }
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    /// One field of INFO.
    pub fn info_field(&self, section: &str, field: &str) -> String {
        let Reply::Bulk(text) = self.query(&["INFO", section]) else {
            panic!("INFO failed")
        };
        text.lines()
            .find_map(|l| {
                l.trim_end()
                    .strip_prefix(&format!("{field}:"))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
    }

    /// Sends many commands in one write and reads every reply.
    pub fn pipeline(&self, cmds: impl IntoIterator<Item = Vec<String>>) -> Vec<Reply> {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut w = std::io::BufWriter::new(s.try_clone().expect("clone"));
        let mut n = 0;
        for c in cmds {
            write!(w, "*{}\r\n", c.len()).expect("write");
            for a in c {
                write!(w, "${}\r\n{a}\r\n", a.len()).expect("write");
            }
            n += 1;
        }
        w.flush().expect("flush");
        let mut r = BufReader::new(s);
        (0..n).map(|_| Reply::read(&mut r)).collect()
    }

    /// A Redis-compatible server from one of the kit's images (Redis 8,
    /// Valkey 8), with `args` to its server; the same queries as a local one.
    pub fn in_container(image: &str, args: &[&str]) -> Self {
        let mut all = vec!["--protected-mode", "no", "--save", "", "--appendonly", "no"];
        all.extend_from_slice(args);
        let c = crate::container::Container::run(image, &[], 6379, &all);
        let r = Self {
            port: c.port,
            _dir: tempfile::tempdir().expect("tempdir"),
            service: None,
            _container: Some(c),
        };
        r.wait_ready();
        r
    }

    fn local(&self) -> &Service {
        self.service.as_ref().expect("a local redis-server")
    }

    pub fn service(&mut self) -> &mut Service {
        self.service.as_mut().expect("a local redis-server")
    }

    pub fn stop(&mut self) {
        self.service().stop();
    }

    pub fn restart(&mut self) {
        self.service().restart().expect("restart redis");
        self.wait_ready();
    }

    pub fn pause(&self) {
        self.local().pause();
    }

    pub fn resume(&self) {
        self.local().resume();
    }
}

/// A RESP reply, for assertions.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(String),
    Nil,
    Array(Vec<Reply>),
}

impl Reply {
    fn read(r: &mut impl BufRead) -> Reply {
        let mut line = String::new();
        r.read_line(&mut line).expect("read reply");
        let body = line.trim_end_matches(['\r', '\n']);
        let (kind, rest) = body.split_at(1);
        match kind {
            "+" => Reply::Simple(rest.to_owned()),
            "-" => Reply::Error(rest.to_owned()),
            ":" => Reply::Int(rest.parse().expect("int")),
            "$" => {
                let n: i64 = rest.parse().expect("len");
                if n < 0 {
                    return Reply::Nil;
                }
                let mut buf = vec![0u8; n as usize + 2];
                r.read_exact(&mut buf).expect("bulk");
                buf.truncate(n as usize);
                Reply::Bulk(String::from_utf8_lossy(&buf).into_owned())
            }
            "*" => {
                let n: i64 = rest.parse().expect("len");
                if n < 0 {
                    return Reply::Nil;
                }
                Reply::Array((0..n).map(|_| Reply::read(r)).collect())
            }
            other => panic!("unexpected reply type {other:?}"),
        }
    }

    pub fn as_array(&self) -> &[Reply] {
        match self {
            Reply::Array(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }

    /// The value after `name` in a flat name/value array (XINFO replies).
    pub fn field(&self, name: &str) -> &Reply {
        self.as_array()
            .chunks(2)
            .find(|kv| matches!(&kv[0], Reply::Bulk(k) | Reply::Simple(k) if k == name))
            .map(|kv| &kv[1])
            .unwrap_or_else(|| panic!("no field {name} in {self:?}"))
    }

    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(i) => *i,
            Reply::Bulk(s) | Reply::Simple(s) => s.parse().expect("int"),
            other => panic!("not an integer: {other:?}"),
        }
    }

    pub fn text(&self) -> String {
        match self {
            Reply::Bulk(s) | Reply::Simple(s) => s.clone(),
            Reply::Int(i) => i.to_string(),
            other => panic!("not text: {other:?}"),
        }
    }
}
