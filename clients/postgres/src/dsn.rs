//! Where to connect: postgres_exporter's `DATA_SOURCE_*` variables turned into
//! a connection config. Nothing here is ever logged whole: the password only
//! lives inside [`tokio_postgres::Config`], whose `Debug` redacts it.

use std::collections::HashMap;
use std::str::FromStr;

use tokio_postgres::config::{Host, SslMode};

/// One PostgreSQL server to watch.
#[derive(Clone)]
pub struct Target {
    /// Connection settings; the database is replaced per connection.
    pub config: tokio_postgres::Config,
    /// The `server` label postgres_exporter puts on its series: `host:port`.
    pub server: String,
    /// The database named by the DSN; server-wide collectors run there.
    pub database: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("server", &self.server)
            .field("database", &self.database)
            .field("user", &self.config.get_user())
            .finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DsnError {
    #[error("no data source: set DATA_SOURCE_NAME, or DATA_SOURCE_URI with DATA_SOURCE_USER and DATA_SOURCE_PASS")]
    Missing,
    #[error("{var}: {message}")]
    Invalid { var: &'static str, message: String },
    #[error("{var}: cannot read {path}: {message}")]
    File {
        var: &'static str,
        path: String,
        message: String,
    },
    #[error("{var}: sslmode=require needs TLS, which sidewatch-postgres does not speak yet; use sslmode=disable or prefer (or a TLS-terminating sidecar)")]
    TlsRequired { var: &'static str },
}

/// Reads the data source from an environment (a map, so tests need not touch
/// the process environment).
pub fn from_env(env: &HashMap<String, String>) -> Result<Target, DsnError> {
    let get = |k: &str| env.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let read_file = |var: &'static str| -> Result<Option<String>, DsnError> {
        match get(var) {
            None => Ok(None),
            Some(path) => std::fs::read_to_string(path)
                .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_owned()))
                .map_err(|e| DsnError::File {
                    var,
                    path: path.to_owned(),
                    message: e.to_string(),
                }),
        }
    };
    if let Some(dsn) = get("DATA_SOURCE_NAME") {
        return parse("DATA_SOURCE_NAME", dsn, None, None);
    }
    let Some(uri) = get("DATA_SOURCE_URI") else {
        return Err(DsnError::Missing);
    };
    let user = match read_file("DATA_SOURCE_USER_FILE")? {
        Some(u) => Some(u),
        None => get("DATA_SOURCE_USER").map(str::to_owned),
    };
    let pass = match read_file("DATA_SOURCE_PASS_FILE")? {
        Some(p) => Some(p),
        None => get("DATA_SOURCE_PASS").map(str::to_owned),
    };
    let uri = if uri.contains("://") {
        uri.to_owned()
    } else {
        format!("postgresql://{uri}")
    };
    parse("DATA_SOURCE_URI", &uri, user, pass)
}

/// Parses a URI or key=value DSN; `user`/`password` override what it names.
pub fn parse(
    var: &'static str,
    dsn: &str,
    user: Option<String>,
    password: Option<String>,
) -> Result<Target, DsnError> {
    let mut config =
        tokio_postgres::Config::from_str(dsn.trim()).map_err(|e| DsnError::Invalid {
            var,
            // tokio-postgres' parse errors name the bad part, never echo the DSN.
            message: e.to_string(),
        })?;
    if let Some(u) = user {
        config.user(u);
    }
    if let Some(p) = password {
        config.password(p);
    }
    if config.get_ssl_mode() == SslMode::Require {
        return Err(DsnError::TlsRequired { var });
    }
    if config.get_hosts().is_empty() {
        config.host("localhost");
    }
    if config.get_user().is_none() {
        return Err(DsnError::Invalid {
            var,
            message: "no user given".to_owned(),
        });
    }
    let host = match &config.get_hosts()[0] {
        Host::Tcp(h) => h.clone(),
        Host::Unix(p) => p.display().to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres")
        .to_owned();
    if config.get_application_name().is_none() {
        config.application_name("sidewatch-postgres");
    }
    Ok(Target {
        server: format!("{host}:{port}"),
        database,
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn uri_and_key_value_forms() {
        let t = from_env(&env(&[(
            "DATA_SOURCE_NAME",
            "postgresql://mon:s3cret@db.example:6543/app?sslmode=disable",
        )]))
        .expect("uri");
        assert_eq!(t.server, "db.example:6543");
        assert_eq!(t.database, "app");
        assert_eq!(t.config.get_user(), Some("mon"));
        let t = from_env(&env(&[(
            "DATA_SOURCE_NAME",
            "host=/run/postgresql user=prometheus dbname=postgres",
        )]))
        .expect("kv");
        assert_eq!(t.server, "/run/postgresql:5432");
        assert_eq!(t.database, "postgres");
    }

    #[test]
    fn uri_user_pass_and_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let pass = dir.path().join("pass");
        std::fs::write(&pass, "from-file\n").expect("write");
        let t = from_env(&env(&[
            ("DATA_SOURCE_URI", "127.0.0.1:5433/postgres?sslmode=disable"),
            ("DATA_SOURCE_USER", "mon"),
            ("DATA_SOURCE_PASS", "ignored"),
            ("DATA_SOURCE_PASS_FILE", pass.to_str().expect("utf8")),
        ]))
        .expect("uri parts");
        assert_eq!(t.server, "127.0.0.1:5433");
        assert_eq!(t.config.get_password(), Some(&b"from-file"[..]));
        // The password never shows in Debug output.
        assert!(!format!("{t:?}").contains("from-file"));
    }

    #[test]
    fn errors_are_clear_and_secret_free() {
        assert_eq!(from_env(&env(&[])).err(), Some(DsnError::Missing));
        let e = from_env(&env(&[(
            "DATA_SOURCE_NAME",
            "postgresql://u:topsecret@h/db?sslmode=require",
        )]))
        .expect_err("tls");
        assert!(!e.to_string().contains("topsecret"));
        let e = from_env(&env(&[(
            "DATA_SOURCE_NAME",
            "host=h port=notaport password=topsecret",
        )]))
        .expect_err("bad port");
        assert!(e.to_string().starts_with("DATA_SOURCE_NAME:"), "{e}");
        assert!(!e.to_string().contains("topsecret"), "{e}");
    }
}
