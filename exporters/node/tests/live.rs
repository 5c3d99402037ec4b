//! The real sidewatch-node binary over HTTP: formats, health, security,
//! deadlines, exit codes, and a real Prometheus scraping it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sidewatch_testkit::prometheus::Prometheus;
use sidewatch_testkit::{wait_until, Exporter, Exposition};

const BIN: &str = env!("CARGO_BIN_EXE_sidewatch-node");

fn bin() -> &'static Path {
    Path::new(BIN)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

#[tokio::test]
async fn classic_text_openmetrics_and_gzip() {
    let exporter = Exporter::start(bin(), &[]);
    let c = client();

    let text = c
        .get(exporter.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(
        text.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = text.text().await.expect("body");
    let e = Exposition::parse(&body);
    let mem_total = std::fs::read_to_string("/proc/meminfo")
        .expect("meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .expect("MemTotal");
    assert_eq!(
        e.value("node_memory_MemTotal_bytes", &[]),
        Some(mem_total * 1024.0)
    );
    assert_eq!(
        e.types.get("node_cpu_seconds_total").map(String::as_str),
        Some("counter")
    );
    assert!(!body.contains("# EOF"));

    let om = c
        .get(exporter.url("/metrics"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .send()
        .await
        .expect("scrape");
    assert_eq!(
        om.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let body = om.text().await.expect("body");
    assert!(body.ends_with("# EOF\n"));
    assert!(body.contains("# TYPE node_cpu_seconds counter\n"));
    assert!(body.contains("# TYPE node_vmstat_pgfault unknown\n"));

    let gz = c
        .get(exporter.url("/metrics"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("scrape");
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let bytes = gz.bytes().await.expect("bytes");
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
}

#[tokio::test]
async fn promtool_accepts_everything_but_the_compatibility_names() {
    let exporter = Exporter::start(bin(), &[]);
    let body = client()
        .get(exporter.url("/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool output");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // node_exporter's names for /proc/meminfo and /proc/net/{netstat,snmp}
    // fields keep the kernel's CamelCase (see docs/node.md).
    // node_exporter's entropy families count bits, a unit promtool does
    // not know as a base unit (see docs/node.md).
    let kept = ["node_memory_", "node_netstat_"];
    for line in report.lines().filter(|l| !l.trim().is_empty()) {
        let camel = kept.iter().any(|p| line.starts_with(p)) && line.contains("camelCase");
        let bits = line.starts_with("node_entropy_") && line.contains("instead of \"bits\"");
        assert!(camel || bits, "promtool: {line}");
    }
}

#[tokio::test]
async fn health_landing_and_unknown_paths() {
    let exporter = Exporter::start(bin(), &[]);
    let c = client();
    assert_eq!(
        c.get(exporter.url("/health/live"))
            .send()
            .await
            .expect("live")
            .status(),
        200
    );
    assert_eq!(
        c.get(exporter.url("/health/ready"))
            .send()
            .await
            .expect("ready")
            .status(),
        200
    );
    let landing = c
        .get(exporter.url("/"))
        .send()
        .await
        .expect("landing")
        .text()
        .await
        .expect("body");
    assert!(landing.contains("sidewatch-node") && landing.contains("/metrics"));
    assert!(landing.contains("<li>filesystem</li>"), "{landing}");
    assert_eq!(
        c.get(exporter.url("/nope"))
            .send()
            .await
            .expect("404")
            .status(),
        404
    );
}

#[tokio::test]
async fn a_blocked_collector_cannot_hold_the_scrape() {
    // loadavg is a FIFO nobody writes: opening it blocks forever.
    let dir = tempfile::tempdir().expect("tempdir");
    let proc_dir = dir.path().join("proc");
    sidewatch_testkit::copy_dir(&fixtures().join("proc"), &proc_dir).expect("copy fixtures");
    std::fs::remove_file(proc_dir.join("loadavg")).expect("rm");
    let status = Command::new("mkfifo")
        .arg(proc_dir.join("loadavg"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let procfs = format!("--path.procfs={}", proc_dir.display());
    let exporter = Exporter::start(bin(), &[&procfs]);
    let c = client();
    for _ in 0..3 {
        let started = Instant::now();
        let body = c
            .get(exporter.url("/metrics"))
            .header("X-Prometheus-Scrape-Timeout-Seconds", "2")
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body");
        let took = started.elapsed();
        let e = Exposition::parse(&body);
        assert_eq!(
            e.value("node_scrape_collector_success", &[("collector", "loadavg")]),
            Some(0.0)
        );
        assert_eq!(
            e.value("node_scrape_collector_success", &[("collector", "cpu")]),
            Some(1.0)
        );
        assert_eq!(
            e.value("node_boot_time_seconds", &[]),
            Some(1_700_000_000.0)
        );
        assert!(e.value("node_load1", &[]).is_none());
        // Deadline = 2 s - 0.5 s offset; generous bound against a loaded machine.
        assert!(took < Duration::from_secs(5), "scrape took {took:?}");
    }
}

#[test]
fn sigterm_exits_zero_quickly() {
    let mut exporter = Exporter::start(bin(), &[]);
    let started = Instant::now();
    let status = exporter
        .service()
        .stop_within(Duration::from_secs(5))
        .expect("did not exit within 5 s");
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(exporter.log().contains("shutting down"));
}

fn run_expecting_failure(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).args(args).output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_flags_and_files_exit_2_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad_web = dir.path().join("web.yml");
    std::fs::write(&bad_web, "basic_auth_users:\n  admin: not-a-hash\n").expect("write");
    let web_arg = format!("--web.config.file={}", bad_web.display());
    let cases: [(&[&str], &str); 6] = [
        (&["--no-such-flag"], "--no-such-flag"),
        (&["--scrape.timeout=soon"], "--scrape.timeout"),
        (
            &["--collector.filesystem.mount-points-exclude=("],
            "--collector.filesystem.mount-points-exclude",
        ),
        (&["--log.level=loud"], "--log.level"),
        (&[&web_arg], "basic_auth_users.admin"),
        (
            &["--web.listen-address=127.0.0.1:99999"],
            "--web.listen-address",
        ),
    ];
    for (args, needle) in cases {
        let (code, stderr) = run_expecting_failure(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // A misspelt collector in the environment is refused too, and a
    // collector's own flag from the environment is fine.
    let env_case = Command::new(BIN)
        .args(["--config.check"])
        .env("SIDEWATCH_COLLECTOR_CPUU", "true")
        .output()
        .expect("run");
    assert_eq!(env_case.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&env_case.stderr);
    assert!(stderr.contains("SIDEWATCH_COLLECTOR_CPUU"), "{stderr}");
    let ok = Command::new(BIN)
        .args(["--config.check"])
        .env("SIDEWATCH_COLLECTOR_CPU", "false")
        .env("SIDEWATCH_COLLECTOR_VMSTAT_FIELDS", "^oom_kill$")
        .output()
        .expect("run");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Every default collector but cpu, which the environment turned off.
    let defaults = sidewatch_node::collectors::specs()
        .iter()
        .filter(|s| s.default_enabled)
        .count();
    let expected = format!("configuration is valid: {} collectors", defaults - 1);
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains(&expected),
        "{expected}"
    );
    let help = Command::new(BIN).arg("--help").output().expect("help");
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--web.listen-address",
        "--path.procfs",
        "--collector.cpu",
        "SIDEWATCH_PATH_ROOTFS",
        "--web.config.file",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

#[tokio::test]
async fn basic_auth_and_tls_with_client_certificates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    sidewatch_testkit::certs::TestCerts::create(d);

    // Basic auth over plain HTTP first.
    let hash = bcrypt::hash("hunter2", 4).expect("bcrypt");
    std::fs::write(
        d.join("auth.yml"),
        format!("basic_auth_users:\n  prometheus: {hash}\n"),
    )
    .expect("write");
    let arg = format!("--web.config.file={}", d.join("auth.yml").display());
    let exporter = Exporter::start_unchecked(bin(), &[&arg]);
    assert!(exporter.wait_listening());
    let c = client();
    let url = exporter.url("/metrics");
    assert_eq!(c.get(&url).send().await.expect("no auth").status(), 401);
    assert_eq!(
        c.get(&url)
            .basic_auth("prometheus", Some("wrong"))
            .send()
            .await
            .expect("wrong")
            .status(),
        401
    );
    assert_eq!(
        c.get(&url)
            .basic_auth("nobody", Some("hunter2"))
            .send()
            .await
            .expect("user")
            .status(),
        401
    );
    let ok = c
        .get(&url)
        .basic_auth("prometheus", Some("hunter2"))
        .send()
        .await
        .expect("ok");
    assert_eq!(ok.status(), 200);
    assert!(ok
        .text()
        .await
        .expect("body")
        .contains("node_boot_time_seconds"));
    assert!(!exporter.log().contains("hunter2"), "password in log");

    // TLS requiring a client certificate from our CA.
    std::fs::write(
        d.join("tls.yml"),
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n",
    )
    .expect("write");
    let arg = format!("--web.config.file={}", d.join("tls.yml").display());
    let exporter = Exporter::start_unchecked(bin(), &[&arg]);
    assert!(exporter.wait_listening());
    let ca = reqwest::Certificate::from_pem(&std::fs::read(d.join("ca.crt")).expect("ca"))
        .expect("ca pem");
    let mut identity_pem = std::fs::read(d.join("client.crt")).expect("crt");
    identity_pem.extend(std::fs::read(d.join("client.key")).expect("key"));
    let identity = reqwest::Identity::from_pem(&identity_pem).expect("identity");
    let url = format!("https://127.0.0.1:{}/metrics", exporter.port);
    let with_cert = reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .identity(identity)
        .build()
        .expect("client");
    let resp = with_cert.get(&url).send().await.expect("tls scrape");
    assert_eq!(resp.status(), 200);
    assert!(resp
        .text()
        .await
        .expect("body")
        .contains("node_boot_time_seconds"));
    let without_cert = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .expect("client");
    let refused = without_cert.get(&url).send().await;
    assert!(
        refused.is_err() || refused.is_ok_and(|r| r.status() != 200),
        "served without a client cert"
    );
    assert!(
        reqwest::get(exporter.url("/metrics")).await.is_err(),
        "plain HTTP answered on the TLS port"
    );
}

#[test]
fn prometheus_scrapes_it_with_openmetrics() {
    let exporter = Exporter::start(bin(), &[]);
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
        exporter.port
    );
    let prom = Prometheus::start(&config, &[]);
    let ok = wait_until(Duration::from_secs(30), || {
        prom.query("up{job=\"node\"}").first().map(|r| r.1) == Some(1.0)
            && !prom.query("node_boot_time_seconds").is_empty()
    });
    assert!(ok, "targets: {:?}", prom.targets());
    let boot = prom.query("node_boot_time_seconds")[0].1;
    let btime: f64 = std::fs::read_to_string("/proc/stat")
        .expect("stat")
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .expect("btime");
    assert_eq!(boot, btime);
    // Counters are stored under the names node_exporter users query.
    assert!(!prom
        .query("node_cpu_seconds_total{mode=\"idle\"}")
        .is_empty());
    assert!(!prom.query("node_vmstat_pgfault").is_empty());
    let defaults = sidewatch_node::collectors::specs()
        .iter()
        .filter(|s| s.default_enabled)
        .count();
    assert_eq!(
        prom.query("count(node_scrape_collector_success == 1)")[0].1,
        defaults as f64
    );
}

/// A connection that never finishes its headers, and one left idle after a
/// request, are closed by --web.read-header-timeout; a scrape still answers.
#[tokio::test]
async fn idle_and_half_sent_connections_are_closed() {
    use std::io::{Read, Write};
    let exporter = Exporter::start(bin(), &["--web.read-header-timeout=500ms"]);
    let addr = format!("127.0.0.1:{}", exporter.port);
    let closed = |mut s: std::net::TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut buf = [0u8; 4096];
        // Read until the server closes (0) or errors; what was answered is ignored.
        loop {
            match s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    };
    let mut half = std::net::TcpStream::connect(&addr).expect("connect");
    half.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    let mut idle = std::net::TcpStream::connect(&addr).expect("connect");
    idle.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let silent = std::net::TcpStream::connect(&addr).expect("connect");
    assert!(closed(half), "a half-sent request stays open");
    assert!(closed(idle), "an idle kept-alive connection stays open");
    assert!(closed(silent), "a connection that sends nothing stays open");
    let ok = client()
        .get(exporter.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(ok.status(), 200);
}

/// A caller's huge scrape-timeout header is clamped to --scrape.timeout.
#[tokio::test]
async fn huge_timeout_headers_are_clamped() {
    let exporter = Exporter::start(bin(), &[]);
    for header in ["1e308", "1e20", "inf", "-5", "garbage"] {
        let r = client()
            .get(exporter.url("/metrics"))
            .header("X-Prometheus-Scrape-Timeout-Seconds", header)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{header}: {e}"));
        assert_eq!(r.status(), 200, "{header}");
        assert!(r
            .text()
            .await
            .expect("body")
            .contains("node_scrape_collector_success"));
    }
    assert!(!exporter.log().contains("panicked"), "{}", exporter.log());
}

/// `sidewatch-node healthcheck` passes against a running exporter and fails
/// (exit 1) once it is stopped.
#[test]
fn healthcheck_subcommand_follows_the_process() {
    let mut exporter = Exporter::start(bin(), &[]);
    let listen = format!("--web.listen-address=127.0.0.1:{}", exporter.port);
    let check = || {
        Command::new(bin())
            .args(["healthcheck", &listen, "--timeout=1s"])
            .output()
            .expect("healthcheck")
    };
    let out = check();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exporter.service().signal(rustix::process::Signal::STOP);
    assert!(exporter.service().wait_stopped(Duration::from_secs(10)));
    let stopped = check();
    exporter.service().signal(rustix::process::Signal::CONT);
    assert_eq!(stopped.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stopped.stderr).contains("unhealthy"));
    assert!(check().status.success());
}

/// node_exporter's systemd flags: refused in one line with the reason (it
/// is not implemented); turning it off is accepted, since it never runs.
#[test]
fn systemd_flags_are_refused_with_the_reason() {
    for flag in ["--collector.systemd", "--collector.systemd.unit-include=.+"] {
        let out = Command::new(BIN)
            .args([flag, "--config.check"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("D-Bus"), "{stderr}");
    }
    let off = Command::new(BIN)
        .args(["--no-collector.systemd", "--config.check"])
        .output()
        .expect("run");
    assert_eq!(
        off.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
}
