//! `sidewatch-<x> healthcheck`: the binary checks its own liveness, so a
//! container without a shell (distroless) has a healthcheck that can fail.
//!
//! It GETs `/health/live` (or `/health/ready` with `--ready`) at the
//! exporter's listen address, over TLS when the web config enables it, and
//! exits 0 only when the server answers in time. A server that demands basic
//! auth and answers 401 is alive: the hashes in the web config cannot be
//! turned back into a password, and a process that parses and refuses the
//! request is answering. A stopped, hung or absent server fails the check.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Arg, ArgAction, Command};

use crate::cli::{parse_duration, EXIT_CONFIG};
use crate::http::resolve_listen_address;
use crate::tls::{client_config, TlsClientOptions};
use crate::webconfig::WebConfig;

/// The first argument that selects the healthcheck instead of serving.
pub const SUBCOMMAND: &str = "healthcheck";

/// What to check, from the healthcheck's flags.
#[derive(Debug, Clone)]
pub struct HealthcheckOptions {
    /// The exporter's listen address (`:9100`, `host:port`); the first one
    /// when several are given.
    pub listen_address: String,
    pub web_config_file: Option<PathBuf>,
    /// Bound of the whole check: connect, handshake, request and answer.
    pub timeout: Duration,
    /// Check `/health/ready` (the target answers) instead of `/health/live`.
    pub ready: bool,
}

fn command(name: &str, default_listen: &str, listen_env: &'static str) -> Command {
    // The exporter's own environment name, so the check sees what the server saw.
    let listen = Arg::new("listen")
        .long("web.listen-address")
        .env(listen_env)
        .value_name("ADDR")
        .default_value(default_listen.to_owned())
        .help("Listen address of the exporter to check (the first of a comma-separated list)");
    Command::new(format!("{name} {SUBCOMMAND}"))
        .about("Check that this exporter answers on its listen address; exit 0 when it does, 1 when not")
        .disable_version_flag(true)
        .arg(listen)
        .arg(
            Arg::new("web_config")
                .long("web.config.file")
                .env("SIDEWATCH_WEB_CONFIG_FILE")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("The exporter's web config file (TLS, basic auth)"),
        )
        .arg(
            Arg::new("timeout")
                .long("timeout")
                .env("SIDEWATCH_HEALTHCHECK_TIMEOUT")
                .default_value("3s")
                .value_parser(parse_duration)
                .value_name("DURATION")
                .help("Fail when no answer arrives within this time"),
        )
        .arg(
            Arg::new("ready")
                .long("ready")
                .action(ArgAction::SetTrue)
                .help("Check /health/ready (the target answers) instead of /health/live"),
        )
}

/// Parses the healthcheck's flags (the arguments after `healthcheck`).
pub fn parse<I, T>(
    name: &str,
    default_listen: &str,
    listen_env: &'static str,
    args: I,
) -> Result<HealthcheckOptions, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let m = command(name, default_listen, listen_env).try_get_matches_from(args)?;
    let listen = m
        .get_one::<String>("listen")
        .cloned()
        .unwrap_or_else(|| default_listen.to_owned());
    let first = listen
        .split(',')
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or(default_listen)
        .to_owned();
    Ok(HealthcheckOptions {
        listen_address: first,
        web_config_file: m.get_one::<PathBuf>("web_config").cloned(),
        timeout: m
            .get_one::<Duration>("timeout")
            .copied()
            .unwrap_or(Duration::from_secs(3)),
        ready: m.get_flag("ready"),
    })
}

/// When the first argument is `healthcheck`, runs the check and exits
/// (0 healthy, 1 unhealthy, 2 bad flags); otherwise returns and the
/// exporter starts as usual. Called first thing in every exporter's `main`.
pub fn run_if_requested(name: &str, default_listen: &str, listen_env: &'static str) {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).and_then(|a| a.to_str()) != Some(SUBCOMMAND) {
        return;
    }
    let rest = std::iter::once(args[0].clone()).chain(args.into_iter().skip(2));
    let options = match parse(name, default_listen, listen_env, rest) {
        Ok(o) => o,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            std::process::exit(0);
        }
        Err(e) => {
            let msg = e.to_string();
            eprintln!(
                "error: {}",
                msg.lines()
                    .next()
                    .unwrap_or("bad flags")
                    .trim_start_matches("error: ")
            );
            std::process::exit(EXIT_CONFIG);
        }
    };
    match check(&options) {
        Ok(status) => {
            println!("{name}: healthy ({status})");
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("{name}: unhealthy: {e}");
            std::process::exit(1);
        }
    }
}

/// Where to connect for a listen address: an unspecified address (`:9100`,
/// `0.0.0.0`, `[::]`) means this host's loopback.
fn target_addresses(listen: &str) -> Result<Vec<SocketAddr>, String> {
    let addrs = resolve_listen_address(listen).map_err(|e| e.to_string())?;
    Ok(addrs
        .into_iter()
        .map(|a| match a.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => {
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), a.port())
            }
            IpAddr::V6(ip) if ip.is_unspecified() => {
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), a.port())
            }
            _ => a,
        })
        .collect())
}

/// Runs the check; `Ok` carries the HTTP status line's code and reason.
pub fn check(options: &HealthcheckOptions) -> Result<String, String> {
    let deadline = Instant::now() + options.timeout;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("no answer within {:?}", options.timeout))
    };
    let web = match &options.web_config_file {
        Some(path) => Some(WebConfig::load(path).map_err(|e| e.to_string())?),
        None => None,
    };
    let tls = web.as_ref().is_some_and(|w| w.tls.is_some());
    let basic_auth = web.as_ref().is_some_and(|w| w.basic_auth.is_some());

    let mut last_error = String::from("no address to connect to");
    let mut stream = None;
    for addr in target_addresses(&options.listen_address)? {
        match TcpStream::connect_timeout(&addr, left()?) {
            Ok(s) => {
                stream = Some((s, addr));
                break;
            }
            Err(e) => last_error = format!("cannot connect to {addr}: {e}"),
        }
    }
    let (tcp, addr) = stream.ok_or(last_error)?;
    tcp.set_read_timeout(Some(left()?))
        .map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(left()?))
        .map_err(|e| e.to_string())?;
    let path = if options.ready {
        "/health/ready"
    } else {
        "/health/live"
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: sidewatch-healthcheck\r\nConnection: close\r\n\r\n"
    );
    let head = if tls {
        // Our own server: the handshake must succeed, its certificate names
        // whatever the operator's clients use, not necessarily this address.
        let config = client_config(&TlsClientOptions {
            skip_verify: true,
            ..TlsClientOptions::default()
        })?;
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let conn = rustls::ClientConnection::new(Arc::clone(&config), name)
            .map_err(|e| format!("TLS: {e}"))?;
        let mut s = rustls::StreamOwned::new(conn, tcp);
        exchange(&mut s, &request, addr)?
    } else {
        let mut s = tcp;
        exchange(&mut s, &request, addr)?
    };
    let mut parts = head.splitn(3, ' ');
    let (proto, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !proto.starts_with("HTTP/") {
        return Err(format!("{addr} did not answer HTTP: {head:?}"));
    }
    let status = head[proto.len()..].trim().to_owned();
    match code.parse::<u16>() {
        Ok(200..=299) => Ok(status),
        Ok(401) if basic_auth => Ok(format!("{status}; basic auth required")),
        _ => Err(format!("{addr}{path} answered {status}")),
    }
}

/// Sends the request and returns the status line.
fn exchange(s: &mut impl ReadWrite, request: &str, addr: SocketAddr) -> Result<String, String> {
    s.write_all(request.as_bytes())
        .and_then(|()| s.flush())
        .map_err(|e| describe(e, addr))?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    // Only the status line is wanted; never read more than a few KiB.
    while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 4096 {
        let n = s.read(&mut chunk).map_err(|e| describe(e, addr))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = buf
        .split(|b| *b == b'\n')
        .next()
        .map(|l| String::from_utf8_lossy(l).trim().to_owned())
        .unwrap_or_default();
    if line.is_empty() {
        return Err(format!("{addr} closed the connection without answering"));
    }
    Ok(line)
}

fn describe(e: std::io::Error, addr: SocketAddr) -> String {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            format!("{addr} did not answer in time")
        }
        _ => format!("{addr}: {e}"),
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_become_loopback() {
        assert_eq!(
            target_addresses(":9100").expect("addr"),
            vec!["127.0.0.1:9100".parse::<SocketAddr>().expect("addr")]
        );
        assert_eq!(
            target_addresses("[::]:9100").expect("addr"),
            vec!["[::1]:9100".parse::<SocketAddr>().expect("addr")]
        );
        assert_eq!(
            target_addresses("127.0.0.2:1").expect("addr"),
            vec!["127.0.0.2:1".parse::<SocketAddr>().expect("addr")]
        );
    }

    #[test]
    fn flags_take_the_first_listen_address() {
        let o = parse(
            "x",
            ":9100",
            "SIDEWATCH_TEST_UNSET_LISTEN",
            ["x", "--web.listen-address=127.0.0.1:1,:2", "--timeout=1s"],
        )
        .expect("parse");
        assert_eq!(o.listen_address, "127.0.0.1:1");
        assert_eq!(o.timeout, Duration::from_secs(1));
        assert!(!o.ready);
        assert!(parse(
            "x",
            ":9100",
            "SIDEWATCH_TEST_UNSET_LISTEN",
            ["x", "--bogus"]
        )
        .is_err());
    }

    #[test]
    fn a_closed_port_fails_and_a_listening_server_passes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nOK\n");
            // A second connection that never answers.
            let (_hung, _) = listener.accept().expect("accept");
            std::thread::sleep(Duration::from_secs(2));
        });
        let options = HealthcheckOptions {
            listen_address: addr.to_string(),
            web_config_file: None,
            timeout: Duration::from_millis(500),
            ready: false,
        };
        assert_eq!(check(&options).expect("healthy"), "200 OK");
        let err = check(&options).expect_err("a server that does not answer");
        assert!(err.contains("did not answer in time"), "{err}");
        server.join().expect("server");
        let err = check(&options).expect_err("nothing listens");
        assert!(err.contains("cannot connect"), "{err}");
    }
}
