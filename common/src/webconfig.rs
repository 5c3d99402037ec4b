//! `--web.config.file` in the Prometheus exporter-toolkit format, so operators
//! reuse the files they already have:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert   # optional
//!   client_ca_file: ca.crt                         # optional
//!   min_version: TLS12                             # optional
//! http_server_config:
//!   headers: { X-Frame-Options: deny }             # optional
//! basic_auth_users:
//!   prometheus: $2y$10$...                         # bcrypt hashes only
//! ```
//!
//! Relative paths are resolved against the file's directory, as the toolkit does.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::server::WebPkiClientVerifier;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("web config {path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    /// TLS for the listener; absent means plain HTTP.
    tls_server_config: Option<RawTls>,
    /// Extra response headers.
    http_server_config: Option<RawHttp>,
    /// User name → bcrypt hash.
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    client_ca_file: Option<PathBuf>,
    min_version: Option<String>,
    max_version: Option<String>,
    // Accepted so existing files load; rustls chooses its own safe suites.
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(rename = "http2")]
    _http2: Option<bool>,
}

/// A validated web config: everything needed to serve, checked at start.
#[derive(Clone, Default)]
pub struct WebConfig {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub basic_auth: Option<Arc<BasicAuth>>,
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("basic_auth", &self.basic_auth.is_some())
            .field("headers", &self.headers)
            .finish()
    }
}

impl WebConfig {
    /// Loads and validates the file; any problem is one error naming the file.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let text = crate::cli::read_config_file(path).map_err(|e| WebConfigError::Invalid {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(
            &text,
            path.parent().unwrap_or(Path::new(".")),
            &path.display().to_string(),
        )
    }

    /// Parses a web config given as text; relative paths in it are taken
    /// from `base`, and errors name `origin` (a file or the flags it came from).
    pub fn parse(text: &str, base: &Path, origin: &str) -> Result<Self, WebConfigError> {
        let invalid = |message: String| WebConfigError::Invalid {
            path: origin.to_owned(),
            message,
        };
        let raw: RawWebConfig = if text.trim().is_empty() {
            RawWebConfig {
                tls_server_config: None,
                http_server_config: None,
                basic_auth_users: BTreeMap::new(),
            }
        } else {
            serde_yaml::from_str(text).map_err(|e| invalid(e.to_string()))?
        };
        let tls = match raw.tls_server_config {
            Some(t) => Some(Arc::new(build_tls(t, base).map_err(invalid)?)),
            None => None,
        };
        for (user, hash) in &raw.basic_auth_users {
            check_bcrypt_hash(hash)
                .map_err(|e| invalid(format!("basic_auth_users.{user}: {e}")))?;
        }
        let basic_auth = if raw.basic_auth_users.is_empty() {
            None
        } else {
            Some(Arc::new(BasicAuth::new(raw.basic_auth_users)))
        };
        let headers = raw
            .http_server_config
            .map(|h| h.headers.into_iter().collect())
            .unwrap_or_default();
        Ok(WebConfig {
            tls,
            basic_auth,
            headers,
        })
    }
}

/// TLS settings given as flags (a peer's `--tls-server-*`), for a web
/// config without a file.
#[derive(Debug, Clone, Default)]
pub struct TlsFlags {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// With it, clients must present a certificate signed by this CA.
    pub client_ca_file: Option<PathBuf>,
    /// `TLS12` or `TLS13`.
    pub min_version: Option<String>,
}

impl WebConfig {
    /// A web config with TLS only, from flags; errors name `origin`.
    pub fn from_tls_flags(flags: TlsFlags, origin: &str) -> Result<Self, WebConfigError> {
        let raw = RawTls {
            cert_file: Some(flags.cert_file),
            key_file: Some(flags.key_file),
            client_auth_type: flags
                .client_ca_file
                .as_ref()
                .map(|_| "RequireAndVerifyClientCert".to_owned()),
            client_ca_file: flags.client_ca_file,
            min_version: flags.min_version,
            max_version: None,
            cipher_suites: None,
            curve_preferences: None,
            prefer_server_cipher_suites: None,
        };
        let tls = build_tls(raw, Path::new(".")).map_err(|message| WebConfigError::Invalid {
            path: origin.to_owned(),
            message,
        })?;
        Ok(WebConfig {
            tls: Some(Arc::new(tls)),
            basic_auth: None,
            headers: Vec::new(),
        })
    }
}

fn build_tls(raw: RawTls, base: &Path) -> Result<rustls::ServerConfig, String> {
    let resolve = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            base.join(p)
        }
    };
    let cert_file = raw
        .cert_file
        .as_ref()
        .map(resolve)
        .ok_or("tls_server_config.cert_file is required")?;
    let key_file = raw
        .key_file
        .as_ref()
        .map(resolve)
        .ok_or("tls_server_config.key_file is required")?;
    if raw.cipher_suites.is_some()
        || raw.curve_preferences.is_some()
        || raw.prefer_server_cipher_suites.is_some()
    {
        tracing::warn!("web config: cipher_suites / curve_preferences are ignored; the TLS library's safe defaults apply");
    }
    let certs = crate::tls::load_certs(&cert_file, "tls_server_config.cert_file")?;
    let key = crate::tls::load_private_key(&key_file, "tls_server_config.key_file")?;
    let versions = protocol_versions(raw.min_version.as_deref(), raw.max_version.as_deref())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;

    let auth_type = raw
        .client_auth_type
        .as_deref()
        .unwrap_or(if raw.client_ca_file.is_some() {
            "RequireAndVerifyClientCert"
        } else {
            "NoClientCert"
        });
    let builder = match auth_type {
        "NoClientCert" => builder.with_no_client_auth(),
        "RequireAndVerifyClientCert" | "VerifyClientCertIfGiven" => {
            let ca_file = raw.client_ca_file.as_ref().map(resolve).ok_or_else(|| {
                format!("tls_server_config.client_ca_file is required for client_auth_type {auth_type}")
            })?;
            let roots = crate::tls::load_roots(&ca_file, "tls_server_config.client_ca_file")?;
            let mut verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
            if auth_type == "VerifyClientCertIfGiven" {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier
                .build()
                .map_err(|e| format!("tls_server_config.client_ca_file: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
        other => {
            return Err(format!(
                "tls_server_config.client_auth_type {other:?} is not supported (use NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
            ))
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls_server_config: certificate and key do not match: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn protocol_versions(
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let rank = |v: &str, field: &str| match v {
        "TLS10" | "TLS11" | "TLS12" => Ok(12),
        "TLS13" => Ok(13),
        other => Err(format!(
            "tls_server_config.{field}: unknown TLS version {other:?}"
        )),
    };
    let lo = min
        .map(|v| rank(v, "min_version"))
        .transpose()?
        .unwrap_or(12);
    let hi = max
        .map(|v| rank(v, "max_version"))
        .transpose()?
        .unwrap_or(13);
    if lo > hi {
        return Err("tls_server_config: min_version is above max_version".into());
    }
    let mut out = Vec::new();
    if lo <= 12 {
        out.push(&rustls::version::TLS12);
    }
    if hi >= 13 {
        out.push(&rustls::version::TLS13);
    }
    Ok(out)
}

/// Basic authentication against bcrypt hashes. Successful pairs are cached so
/// that a scrape does not pay bcrypt's deliberate cost every time, and bcrypt
/// runs for one request at a time, so a flood of wrong passwords waits its
/// turn instead of taking every blocking thread (the collectors' too) while
/// a scraper with cached credentials passes at once.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    verified: Mutex<HashSet<(String, String)>>,
    /// Unknown users are checked against this, hashed at the highest cost
    /// configured, so they take as long as a known user.
    dummy: std::sync::OnceLock<String>,
    dummy_cost: u32,
    bcrypt_slots: tokio::sync::Semaphore,
}

/// Bound on remembered successful logins.
const AUTH_CACHE_LIMIT: usize = 256;
/// bcrypt costs accepted at start (bcrypt defines 4 to 31).
pub const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=31;

/// A bcrypt hash with a cost in [`BCRYPT_COSTS`], or why not.
fn check_bcrypt_hash(hash: &str) -> Result<(), String> {
    let parts = hash
        .parse::<bcrypt::HashParts>()
        .map_err(|e| format!("not a bcrypt hash ({e})"))?;
    if !BCRYPT_COSTS.contains(&parts.get_cost()) {
        return Err(format!(
            "bcrypt cost {} is outside {}..={}",
            parts.get_cost(),
            BCRYPT_COSTS.start(),
            BCRYPT_COSTS.end()
        ));
    }
    Ok(())
}

impl BasicAuth {
    /// One user, from a peer's flags: `hash` a bcrypt hash, or with
    /// `plain` a password in clear, hashed here.
    pub fn single(user: &str, secret: &str, plain: bool) -> Result<Self, String> {
        let hash = if plain {
            bcrypt::hash(secret, bcrypt::DEFAULT_COST).map_err(|e| e.to_string())?
        } else {
            check_bcrypt_hash(secret)?;
            secret.to_owned()
        };
        Ok(Self::new(BTreeMap::from([(user.to_owned(), hash)])))
    }

    fn new(users: BTreeMap<String, String>) -> Self {
        let dummy_cost = users
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        Self {
            users,
            verified: Mutex::new(HashSet::new()),
            dummy: std::sync::OnceLock::new(),
            dummy_cost,
            bcrypt_slots: tokio::sync::Semaphore::new(1),
        }
    }

    /// Whether the pair already passed (cheap; no bcrypt).
    pub fn cached(&self, user: &str, password: &str) -> bool {
        self.verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&(user.to_owned(), password.to_owned()))
    }

    /// Checks a pair: the cache first, then bcrypt on the blocking pool, one
    /// request at a time.
    pub async fn check(self: &std::sync::Arc<Self>, user: String, password: String) -> bool {
        if self.cached(&user, &password) {
            return true;
        }
        let Ok(_slot) = self.bcrypt_slots.acquire().await else {
            return false;
        };
        let auth = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || auth.verify(&user, &password))
            .await
            .unwrap_or(false)
    }

    /// Checks a user / password pair (blocking: bcrypt is CPU-bound).
    pub fn verify(&self, user: &str, password: &str) -> bool {
        if self.cached(user, password) {
            return true;
        }
        let (hash, known) = match self.users.get(user) {
            Some(h) => (h.as_str(), true),
            None => (
                self.dummy
                    .get_or_init(|| bcrypt::hash("sidewatch", self.dummy_cost).unwrap_or_default())
                    .as_str(),
                false,
            ),
        };
        let ok = bcrypt::verify(password, hash).unwrap_or(false) && known;
        if ok {
            let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= AUTH_CACHE_LIMIT {
                cache.clear();
            }
            cache.insert((user.to_owned(), password.to_owned()));
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn basic_auth_checks_bcrypt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hash = bcrypt::hash("s3cret", 4).expect("hash");
        let p = write(
            dir.path(),
            "web.yml",
            &format!("basic_auth_users:\n  alice: {hash}\n"),
        );
        let cfg = WebConfig::load(&p).expect("load");
        let auth = cfg.basic_auth.expect("auth");
        assert!(auth.verify("alice", "s3cret"));
        assert!(auth.verify("alice", "s3cret"));
        assert!(!auth.verify("alice", "wrong"));
        assert!(!auth.verify("bob", "s3cret"));
        assert!(cfg.tls.is_none());
        // Unknown users pay the configured cost, not another one.
        assert_eq!(auth.dummy_cost, 4);
    }

    /// A flood of wrong passwords runs bcrypt one at a time and never holds up
    /// a caller whose credentials already passed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wrong_passwords_queue_behind_bcrypt_and_known_ones_pass() {
        let hash = bcrypt::hash("s3cret", 10).expect("hash");
        let cfg = WebConfig::parse(
            &format!("basic_auth_users:\n  alice: {hash}\n"),
            Path::new("."),
            "t",
        )
        .expect("parse");
        let auth = cfg.basic_auth.expect("auth");
        assert!(auth.check("alice".into(), "s3cret".into()).await);
        let flood: Vec<_> = (0..8)
            .map(|i| {
                let a = Arc::clone(&auth);
                tokio::spawn(async move { a.check("alice".into(), format!("wrong{i}")).await })
            })
            .collect();
        tokio::task::yield_now().await;
        // While the flood waits for bcrypt, the cached pair answers without it.
        assert!(auth.cached("alice", "s3cret"));
        assert!(auth.check("alice".into(), "s3cret".into()).await);
        assert!(auth.bcrypt_slots.available_permits() <= 1);
        for f in flood {
            assert!(!f.await.expect("join"));
        }
        assert_eq!(auth.bcrypt_slots.available_permits(), 1);
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = [
            (
                "basic_auth_users:\n  alice: plaintext\n",
                "not a bcrypt hash",
            ),
            (
                "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n",
                "nope.crt",
            ),
            (
                "tls_server_config:\n  key_file: k\n",
                "cert_file is required",
            ),
            ("unknown_key: 1\n", "unknown field"),
            ("basic_auth_users: [\n", "web.yml"),
        ];
        for (text, needle) in cases {
            let p = write(dir.path(), "web.yml", text);
            let err = WebConfig::load(&p).expect_err(text).to_string();
            assert!(err.contains(needle), "{text:?} gave {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
        // A well-formed hash whose cost bcrypt cannot use.
        let hash = bcrypt::hash("x", 4).expect("hash");
        for cost in ["99", "03"] {
            let text = format!(
                "basic_auth_users:\n  alice: {}\n",
                hash.replacen("$04$", &format!("${cost}$"), 1)
            );
            let p = write(dir.path(), "web.yml", &text);
            let err = WebConfig::load(&p).expect_err(&text).to_string();
            assert!(err.contains("bcrypt cost"), "{text:?} gave {err}");
        }
        let missing = WebConfig::load(&dir.path().join("absent.yml")).expect_err("missing");
        assert!(missing.to_string().contains("absent.yml"));
    }

    #[test]
    fn empty_file_means_no_security() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), "web.yml", "");
        let cfg = WebConfig::load(&p).expect("load");
        assert!(cfg.tls.is_none() && cfg.basic_auth.is_none());
    }
}
