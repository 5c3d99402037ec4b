//! The kit's services start, answer, stop, restart, pause and resume.

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use sidewatch_testkit::alertmanager::Alertmanager;
use sidewatch_testkit::prometheus::Prometheus;
use sidewatch_testkit::{Blackhole, Postgres, Redis};

#[test]
fn postgres_runs_unprivileged_and_survives_stop_pause_restart() {
    let mut pg = Postgres::start();
    assert_eq!(pg.psql("postgres", "SELECT 41 + 1"), "42");
    let version: u32 = pg
        .psql("postgres", "SHOW server_version_num")
        .parse()
        .expect("version");
    assert!(version >= 150000, "{version}");
    // The server process is not root's.
    let pid = pg.service().pid().expect("pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).expect("uid");
    let uid: u32 = uid_line
        .split_whitespace()
        .nth(1)
        .and_then(|u| u.parse().ok())
        .expect("uid");
    assert_ne!(uid, 0, "postgres runs as root");

    pg.pause();
    assert!(
        pg.psql_try("postgres", "SELECT 1").is_err(),
        "a paused server answered"
    );
    pg.resume();
    assert_eq!(pg.psql("postgres", "SELECT 1"), "1");

    pg.psql(
        "postgres",
        "CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)",
    );
    pg.stop();
    assert!(pg.psql_try("postgres", "SELECT 1").is_err());
    pg.restart();
    assert_eq!(pg.psql("postgres", "SELECT v FROM kept"), "7");
}

#[test]
fn redis_answers_and_restarts() {
    let mut r = Redis::start();
    assert!(r.command(&["SET", "k", "v"]).expect("set").contains("OK"));
    assert!(r.command(&["GET", "k"]).expect("get").contains("v"));
    r.stop();
    assert!(r.command(&["PING"]).is_err());
    r.restart();
    assert!(r.command(&["PING"]).expect("ping").contains("PONG"));
}

#[test]
fn blackhole_accepts_and_never_answers() {
    let hole = Blackhole::start();
    let mut conn = TcpStream::connect(hole.addr()).expect("connect");
    conn.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let started = Instant::now();
    let mut buf = [0u8; 8];
    let err = conn.read(&mut buf).expect_err("the blackhole answered");
    assert!(matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(sidewatch_testkit::wait_until(
        Duration::from_secs(2),
        || hole.connections() == 1
    ));
}

#[test]
fn prometheus_and_alertmanager_start() {
    let am = Alertmanager::start(
        "route:\n  receiver: devnull\nreceivers:\n  - name: devnull\n",
        &[],
    );
    assert_eq!(am.alerts().trim(), "[]");
    let prom = Prometheus::start(
        &format!(
            "global:\n  scrape_interval: 1s\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{}']\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{{PORT}}']\n",
            am.port
        )
        .replace("{PORT}", "9"),
        &[],
    );
    let result = prom.query("vector(3)");
    assert_eq!(result.len(), 1);
    assert_eq!(result[0].1, 3.0);
}
