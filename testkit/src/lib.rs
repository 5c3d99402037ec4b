//! sidewatch-testkit: real services for tests, started fresh in temp dirs on
//! free loopback ports, and helpers to scrape and parse exposition text.
//!
//! Every service can be stopped, restarted, paused (SIGSTOP) and killed, and is
//! killed and cleaned up on drop, also when a test panics.

pub mod alertmanager;
pub mod blackhole;
pub mod certs;
pub mod container;
pub mod exporter;
pub mod exposition;
pub mod peerflags;
pub mod postgres;
pub mod process;
pub mod prometheus;
pub mod redis;

pub use blackhole::Blackhole;
pub use exporter::Exporter;
pub use exposition::Exposition;
pub use postgres::{Pgbouncer, Postgres};
pub use process::Service;
pub use redis::Redis;

use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Polls `check` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if check() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Finds a program on PATH or in the usual Debian places.
pub fn find_program(names: &[&str]) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path).chain(["/usr/sbin".into(), "/usr/bin".into()]) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Resident memory of a process in bytes, from `/proc/<pid>/status` (0 when
/// the process is gone).
pub fn rss_bytes(pid: u32) -> u64 {
    status_bytes(pid, "VmRSS:")
}

/// The most resident memory the process has had (`VmHWM`), in bytes.
pub fn peak_rss_bytes(pid: u32) -> u64 {
    status_bytes(pid, "VmHWM:")
}

fn status_bytes(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A program from another Debian suite's package, unpacked by
/// `scripts/fetch-debian.sh SUITE PACKAGE` into the cache (the newest version
/// there): `debian_program("sid", "promtool", "promtool")`.
pub fn debian_program(suite: &str, package: &str, program: &str) -> Option<std::path::PathBuf> {
    let cache = std::env::var_os("SIDEWATCH_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/sidewatch")
        });
    let mut found: Vec<std::path::PathBuf> =
        std::fs::read_dir(cache.join("debian").join(suite).join("pkgs"))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix(package))
                    .is_some_and(|rest| {
                        rest.starts_with('-') && rest[1..].starts_with(|c: char| c.is_ascii_digit())
                    })
                    && p.join(".done").exists()
            })
            .map(|p| p.join("usr/bin").join(program))
            .filter(|p| p.is_file())
            .collect();
    found.sort();
    found.pop()
}

/// A plain blocking `GET` over HTTP/1.0 for polling the kit's own services;
/// the body when the status is 200, the status line otherwise.
pub fn http_get(url: &str) -> Result<String, String> {
    http_get_headers(url, &[])
}

/// [`http_get`] with one extra request header (e.g. the scrape timeout).
pub fn http_get_header(url: &str, header: (&str, &str)) -> Result<String, String> {
    http_get_headers(url, &[header])
}

fn http_get_headers(url: &str, headers: &[(&str, &str)]) -> Result<String, String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h, format!("/{p}")),
        None => (rest, "/".to_owned()),
    };
    let mut s = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
    // A backstop against a hung exporter, longer than any scrape deadline a
    // test sets (the million-row test allows 25 s), so a slow CI machine
    // fails on the exporter's own deadline rather than on this one.
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n{extra}\r\n").map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    let buf = String::from_utf8_lossy(&buf);
    let (head, body) = buf.split_once("\r\n\r\n").ok_or("no HTTP body")?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(status.to_owned());
    }
    Ok(body.to_owned())
}

/// [`http_get`] with URL-encoded query parameters.
pub fn http_get_query(url: &str, params: &[(&str, &str)]) -> Result<String, String> {
    http_get(&with_query(url, params))
}

/// [`http_get_query`] with one extra request header.
pub fn http_get_query_header(
    url: &str,
    params: &[(&str, &str)],
    header: (&str, &str),
) -> Result<String, String> {
    http_get_header(&with_query(url, params), header)
}

fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let qs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    format!("{url}?{}", qs.join("&"))
}

/// Runs `command` to its end and returns its standard output; panics,
/// naming the program, its arguments and what it wrote to standard error,
/// when it cannot start or exits unsuccessfully.
pub fn output_ok(command: &mut std::process::Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copies a directory tree (fixtures into a temp dir a test may change).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
