//! Where a Redis server is: `redis://`, `rediss://` (TLS), `unix://` or bare
//! `host:port`, as redis_exporter accepts them. The password is kept out of
//! every Debug and Display form.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Tcp { host: String, port: u16, tls: bool },
    Unix { path: String },
}

/// A password that never prints.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub endpoint: Endpoint,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub db: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct TargetError(String);

impl Target {
    /// Parses an address. `redis://user:pass@host:port/db`, `rediss://...`,
    /// `unix:///run/redis.sock`, or `host:port` (taken as `redis://`).
    pub fn parse(addr: &str) -> Result<Self, TargetError> {
        let bad = |why: &str| TargetError(format!("redis address {:?}: {why}", redact(addr)));
        let addr = addr.trim();
        if addr.is_empty() {
            return Err(bad("empty"));
        }
        let (scheme, rest) = match addr.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None => ("redis".to_owned(), addr),
        };
        if scheme == "unix" {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if !path.starts_with('/') {
                return Err(bad("a unix socket path must be absolute"));
            }
            let db = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("db="))
                .map(|d| d.parse::<u32>().map_err(|_| bad("db is not a number")))
                .transpose()?
                .unwrap_or(0);
            return Ok(Target {
                endpoint: Endpoint::Unix {
                    path: path.to_owned(),
                },
                user: None,
                password: None,
                db,
            });
        }
        let tls = match scheme.as_str() {
            "redis" | "valkey" => false,
            "rediss" | "valkeys" => true,
            other => return Err(bad(&format!("unknown scheme {other:?}"))),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(u) => {
                let (user, pass) = match u.split_once(':') {
                    Some((user, pass)) => (user, Some(pass)),
                    None => (u, None),
                };
                (
                    Some(percent_decode(user)).filter(|u| !u.is_empty()),
                    pass.map(|p| Secret(percent_decode(p))),
                )
            }
            None => (None, None),
        };
        let (host, port) = split_host_port(hostport).ok_or_else(|| bad("bad host:port"))?;
        let db = path.split('?').next().unwrap_or_default();
        let db = if db.is_empty() {
            0
        } else {
            db.parse::<u32>().map_err(|_| bad("db is not a number"))?
        };
        Ok(Target {
            endpoint: Endpoint::Tcp { host, port, tls },
            user,
            password,
            db,
        })
    }

    /// The address without credentials, for logs and the landing page.
    pub fn display(&self) -> String {
        match &self.endpoint {
            Endpoint::Tcp { host, port, tls } => {
                let scheme = if *tls { "rediss" } else { "redis" };
                if host.contains(':') {
                    format!("{scheme}://[{host}]:{port}")
                } else {
                    format!("{scheme}://{host}:{port}")
                }
            }
            Endpoint::Unix { path } => format!("unix://{path}"),
        }
    }
}

fn split_host_port(s: &str) -> Option<(String, u16)> {
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, tail) = rest.split_once(']')?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if tail.is_empty() => 6379,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h.to_owned(), p.parse().ok()?)),
        Some(_) => None,
        None => Some((s.to_owned(), 6379)),
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// An address with any password replaced, for error messages.
pub fn redact(addr: &str) -> String {
    match (addr.find("://"), addr.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &addr[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:xxx{}", &addr[..s + 3], &addr[at..]),
                None => addr.to_owned(),
            }
        }
        _ => addr.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_redis_exporter_accepts() {
        let t = Target::parse("redis://localhost:6379").expect("plain");
        assert_eq!(
            t.endpoint,
            Endpoint::Tcp {
                host: "localhost".into(),
                port: 6379,
                tls: false
            }
        );
        let t = Target::parse("rediss://bob:s%40cret@cache.internal:6380/3").expect("tls");
        assert_eq!(t.user.as_deref(), Some("bob"));
        assert_eq!(t.password, Some(Secret("s@cret".into())));
        assert_eq!(t.db, 3);
        assert!(matches!(t.endpoint, Endpoint::Tcp { tls: true, .. }));
        let t = Target::parse("10.0.0.1:7000").expect("bare");
        assert_eq!(t.display(), "redis://10.0.0.1:7000");
        let t = Target::parse("redis://:pw@[::1]:6379").expect("v6");
        assert_eq!(t.user, None);
        assert_eq!(t.display(), "redis://[::1]:6379");
        let t = Target::parse("unix:///run/redis.sock?db=2").expect("unix");
        assert_eq!(t.db, 2);
        assert_eq!(t.display(), "unix:///run/redis.sock");
        assert_eq!(
            Target::parse("redis://h").map(|t| t.endpoint),
            Ok(Endpoint::Tcp {
                host: "h".into(),
                port: 6379,
                tls: false
            })
        );
    }

    #[test]
    fn errors_name_the_problem_without_the_password() {
        for bad in [
            "",
            "http://h:1",
            "redis://h:notaport",
            "redis://u:hunter2@h:1/x",
            "unix://rel",
        ] {
            let e = Target::parse(bad).expect_err(bad).to_string();
            assert!(!e.contains("hunter2"), "{e}");
        }
        assert!(format!("{:?}", Target::parse("redis://u:hunter2@h:1")).contains("redacted"));
        assert!(!format!("{:?}", Target::parse("redis://u:hunter2@h:1")).contains("hunter2"));
    }
}
