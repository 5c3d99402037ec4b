//! Where to connect: postgres_exporter's `DATA_SOURCE_*` variables turned into
//! a connection config. Nothing here is ever logged whole: the password only
//! lives inside [`tokio_postgres::Config`], whose `Debug` redacts it.

use std::collections::HashMap;
use std::str::FromStr;

use tokio_postgres::config::Host;

use crate::tls::{SslMode, SslSettings};

/// One PostgreSQL server to watch.
#[derive(Clone)]
pub struct Target {
    /// Connection settings; the database is replaced per connection.
    pub config: tokio_postgres::Config,
    /// The `server` label postgres_exporter puts on its series: `host:port`.
    pub server: String,
    /// The database named by the DSN; server-wide collectors run there.
    pub database: String,
    /// `sslmode` and the certificate files, as given.
    pub ssl: SslSettings,
    /// The TLS configuration they ask for (None: no TLS, `sslmode=disable`).
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("server", &self.server)
            .field("database", &self.database)
            .field("user", &self.config.get_user())
            .field("sslmode", &self.ssl.mode.as_str())
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
    let invalid = |message: String| DsnError::Invalid { var, message };
    let (rest, ssl) = split_ssl(dsn.trim()).map_err(invalid)?;
    let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| DsnError::Invalid {
        var,
        // tokio-postgres' parse errors name the bad part, never echo the DSN.
        message: e.to_string(),
    })?;
    // tokio-postgres knows disable, prefer and require; verification is ours.
    config.ssl_mode(match ssl.mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            tokio_postgres::config::SslMode::Require
        }
    });
    let tls = ssl.client_config().map_err(invalid)?;
    if let Some(u) = user {
        config.user(u);
    }
    if let Some(p) = password {
        config.password(p);
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
        ssl,
        tls,
    })
}

/// TLS settings tokio-postgres does not read: taken out of the DSN here.
const SSL_KEYS: &[&str] = &["sslmode", "sslrootcert", "sslcert", "sslkey"];
/// Settings a libpq DSN may carry that change nothing here (rustls speaks
/// TLS 1.2 and 1.3 only and sends SNI for host names).
const IGNORED_KEYS: &[&str] = &[
    "sslsni",
    "sslcompression",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
];
/// Settings that are refused rather than silently ignored.
const REFUSED_KEYS: &[(&str, &str)] = &[
    (
        "sslpassword",
        "encrypted client keys are not supported; give sslkey unencrypted (mode 0600)",
    ),
    ("sslcrl", "certificate revocation lists are not supported"),
    (
        "sslcrldir",
        "certificate revocation lists are not supported",
    ),
    (
        "sslcertmode",
        "is not supported; sslcert is sent when given",
    ),
];

/// Splits the TLS settings off a URI or key=value DSN: the rest (for
/// tokio-postgres) and the settings. Errors name the setting, never the DSN.
fn split_ssl(dsn: &str) -> Result<(String, SslSettings), String> {
    let mut ssl = SslSettings::default();
    let mut take = |key: &str, value: String| -> Result<bool, String> {
        if let Some((_, why)) = REFUSED_KEYS.iter().find(|(k, _)| *k == key) {
            return Err(format!("{key}: {why}"));
        }
        if IGNORED_KEYS.contains(&key) {
            return Ok(true);
        }
        if !SSL_KEYS.contains(&key) {
            return Ok(false);
        }
        match key {
            "sslmode" => {
                ssl.mode = SslMode::parse(&value).ok_or_else(|| {
                    format!("sslmode {value:?}: use disable, allow, prefer, require, verify-ca or verify-full")
                })?
            }
            "sslrootcert" => ssl.root_cert = Some(value.into()),
            "sslcert" => ssl.cert = Some(value.into()),
            _ => ssl.key = Some(value.into()),
        }
        Ok(true)
    };
    let rest = if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        match dsn.split_once('?') {
            None => dsn.to_owned(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    if !take(&percent_decode(k)?, percent_decode(v)?)? {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = String::new();
        for (key, value, text) in key_values(dsn)? {
            if !take(&key, value)? {
                kept.push_str(text);
                kept.push(' ');
            }
        }
        kept.trim_end().to_owned()
    };
    Ok((rest, ssl))
}

fn percent_decode(s: &str) -> Result<String, String> {
    // percent-encoding leaves a stray `%` as it is; libpq refuses it.
    let b = s.as_bytes();
    let stray = b.iter().enumerate().any(|(i, c)| {
        *c == b'%'
            && !b
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if stray {
        return Err("invalid percent-encoding in the connection URI".to_owned());
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| "the connection URI is not UTF-8".to_owned())
}

/// `key = value` pairs of a libpq key/value string: (key, unquoted value,
/// the pair's text as written).
fn key_values(dsn: &str) -> Result<Vec<(String, String, &str)>, String> {
    let b = dsn.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = dsn[start..i].to_owned();
        skip_ws(&mut i);
        if i >= b.len() || b[i] != b'=' {
            return Err(format!("{key:?} is not followed by '='"));
        }
        i += 1;
        skip_ws(&mut i);
        let mut value = Vec::new();
        if i < b.len() && b[i] == b'\'' {
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(format!("{key}: unterminated quoted value")),
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if i + 1 < b.len() => {
                        value.push(b[i + 1]);
                        i += 2;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                if b[i] == b'\\' && i + 1 < b.len() {
                    value.push(b[i + 1]);
                    i += 2;
                } else {
                    value.push(b[i]);
                    i += 1;
                }
            }
        }
        let value = String::from_utf8(value).map_err(|_| format!("{key}: value is not UTF-8"))?;
        out.push((key, value, &dsn[start..i]));
    }
    Ok(out)
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
    fn tls_settings_in_both_forms() {
        let t = parse(
            "x",
            "postgresql://u:p@db.example:6543/app?sslmode=require&application_name=a&sslsni=1",
            None,
            None,
        )
        .expect("uri");
        assert_eq!(t.ssl.mode, SslMode::Require);
        assert!(t.tls.is_some());
        assert_eq!(t.config.get_application_name(), Some("a"));
        assert_eq!(
            t.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        let t = parse(
            "x",
            "host=h user=u sslmode = 'disable' dbname='my db'",
            None,
            None,
        )
        .expect("key=value");
        assert_eq!(t.ssl.mode, SslMode::Disable);
        assert!(t.tls.is_none());
        assert_eq!(t.config.get_dbname(), Some("my db"));
        let t = parse("x", "host=h user=u", None, None).expect("default");
        assert_eq!(t.ssl.mode, SslMode::Prefer, "libpq's default");
        assert!(t.tls.is_some());
        let t = parse(
            "x",
            "host=h user=u sslmode=verify-full sslrootcert=system",
            None,
            None,
        )
        .expect("system bundle");
        assert_eq!(
            t.ssl.root_cert.as_deref(),
            Some(std::path::Path::new("system"))
        );
        assert_eq!(
            split_ssl("postgresql://h/db?sslrootcert=%2Ftmp%2Fca%20x.pem")
                .map(|(r, s)| (r, s.root_cert)),
            Ok(("postgresql://h/db".to_owned(), Some("/tmp/ca x.pem".into())))
        );
        assert!(split_ssl("postgresql://h/db?sslrootcert=%zz.pem").is_err());
        assert!(
            split_ssl("postgresql://h/db?sslrootcert=%FF").is_err(),
            "not UTF-8"
        );
        assert!(parse("x", "host=h user=u sslmode=sometimes", None, None).is_err());
        assert!(parse("x", "host=h user=u sslkey='unterminated", None, None).is_err());
    }

    #[test]
    fn errors_are_clear_and_secret_free() {
        assert_eq!(from_env(&env(&[])).err(), Some(DsnError::Missing));
        let e = from_env(&env(&[(
            "DATA_SOURCE_NAME",
            "postgresql://u:topsecret@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        )]))
        .expect_err("no CA file");
        assert!(
            e.to_string().contains("sslrootcert /nonexistent/ca.pem"),
            "{e}"
        );
        assert!(!e.to_string().contains("topsecret"));
        let e = from_env(&env(&[(
            "DATA_SOURCE_NAME",
            "host=h user=u password=topsecret sslmode=verify-ca",
        )]))
        .expect_err("verify-ca without a CA");
        assert!(e.to_string().contains("needs sslrootcert"), "{e}");
        assert!(!e.to_string().contains("topsecret"));
        let e = from_env(&env(&[(
            "DATA_SOURCE_NAME",
            "postgresql://u:topsecret@h/db?sslpassword=x",
        )]))
        .expect_err("refused");
        assert!(e.to_string().contains("sslpassword"), "{e}");
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
