//! Which targets a multi-target request (`/probe`, `/scrape`) may reach.
//!
//! The caller of `/probe?target=` chooses where the exporter connects. By
//! default any TCP host may be named, as with the peers; Unix sockets never,
//! since a socket path on the exporter's host reaches servers that trust local
//! peers. `--web.probe.allowed-targets` narrows both: TCP targets must match
//! one of its host patterns, and a Unix socket is allowed only when an entry
//! names its path.

use std::path::Path;

/// Flags of exporters that serve a multi-target endpoint.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProbeArgs {
    /// Targets a /probe or /scrape request may name (comma-separated).
    /// `host`, `host:port`, `[v6]:port`; `*` stands for one whole DNS label
    /// or port (`*.db.internal`, `10.0.0.*:5432`); an entry starting with `/`
    /// allows that Unix socket path (globs allowed). Empty: any TCP host, no
    /// Unix socket.
    #[arg(
        long = "web.probe.allowed-targets",
        env = "SIDEWATCH_WEB_PROBE_ALLOWED_TARGETS",
        value_delimiter = ',',
        value_name = "LIST"
    )]
    pub allowed_targets: Vec<String>,
}

/// Where a probe would connect.
#[derive(Debug, Clone, Copy)]
pub enum ProbeEndpoint<'a> {
    Tcp { host: &'a str, port: u16 },
    Unix { path: &'a Path },
}

/// One allowed TCP pattern: host labels and an optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPattern {
    host: String,
    port: Option<String>,
}

/// The checked form of `--web.probe.allowed-targets`.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    hosts: Vec<HostPattern>,
    sockets: Vec<String>,
}

impl TargetPolicy {
    /// Parses the flag; a malformed entry is a start-up error naming it.
    pub fn from_args(args: &ProbeArgs) -> Result<Self, String> {
        Self::new(&args.allowed_targets)
    }

    pub fn new(entries: &[String]) -> Result<Self, String> {
        let mut policy = Self::default();
        for raw in entries {
            let entry = raw.trim();
            if entry.is_empty() {
                continue;
            }
            if entry.starts_with('/') {
                policy.sockets.push(entry.to_owned());
                continue;
            }
            let bad = |why: &str| format!("--web.probe.allowed-targets {entry:?}: {why}");
            let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
                let (host, after) = rest.split_once(']').ok_or_else(|| bad("unclosed ["))?;
                let port = match after {
                    "" => None,
                    p => Some(
                        p.strip_prefix(':')
                            .ok_or_else(|| bad("expected :port after ]"))?,
                    ),
                };
                (host, port)
            } else {
                match entry.rsplit_once(':') {
                    Some((h, _)) if h.contains(':') => {
                        return Err(bad("write an IPv6 address as [addr] or [addr]:port"))
                    }
                    Some((h, p)) => (h, Some(p)),
                    None => (entry, None),
                }
            };
            if host.is_empty() {
                return Err(bad("no host"));
            }
            if let Some(p) = port {
                if p != "*" && p.parse::<u16>().is_err() {
                    return Err(bad("the port is not a number or *"));
                }
            }
            policy.hosts.push(HostPattern {
                host: host.to_ascii_lowercase(),
                port: port.map(str::to_owned),
            });
        }
        Ok(policy)
    }

    /// Whether no list was given (any TCP host allowed).
    pub fn is_open(&self) -> bool {
        self.hosts.is_empty() && self.sockets.is_empty()
    }

    /// `Ok` when `endpoint` may be reached; otherwise why not, in one line.
    pub fn check(&self, endpoint: ProbeEndpoint<'_>) -> Result<(), String> {
        match endpoint {
            ProbeEndpoint::Unix { path } => {
                let text = path.to_string_lossy();
                if self.sockets.iter().any(|p| crate::glob::matches(p, &text)) {
                    Ok(())
                } else {
                    Err(format!(
                        "target {text:?} is a Unix socket; name its path in --web.probe.allowed-targets to allow it"
                    ))
                }
            }
            ProbeEndpoint::Tcp { host, port } => {
                if self.hosts.is_empty() && self.sockets.is_empty() {
                    return Ok(());
                }
                let host_lc = host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_ascii_lowercase();
                let port_text = port.to_string();
                let allowed = self.hosts.iter().any(|p| {
                    labels_match(&p.host, &host_lc)
                        && p.port
                            .as_deref()
                            .is_none_or(|pp| pp == "*" || pp == port_text)
                });
                if allowed {
                    Ok(())
                } else {
                    Err(format!(
                        "target {host}:{port} is not in --web.probe.allowed-targets"
                    ))
                }
            }
        }
    }
}

/// Label by label: `*` in a label matches within that label only, so
/// `10.0.0.*` cannot match `10.0.0.1.elsewhere.example`.
fn labels_match(pattern: &str, host: &str) -> bool {
    // IPv6 literals have no labels; compare them whole.
    if pattern.contains(':') || host.contains(':') {
        return crate::glob::matches(pattern, host);
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let h: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    p.len() == h.len()
        && p.iter()
            .zip(&h)
            .all(|(pl, hl)| crate::glob::matches(pl, hl))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> TargetPolicy {
        TargetPolicy::new(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("policy")
    }

    fn tcp(p: &TargetPolicy, host: &str, port: u16) -> bool {
        p.check(ProbeEndpoint::Tcp { host, port }).is_ok()
    }

    fn unix(p: &TargetPolicy, path: &str) -> bool {
        p.check(ProbeEndpoint::Unix {
            path: Path::new(path),
        })
        .is_ok()
    }

    #[test]
    fn empty_list_allows_tcp_but_no_socket() {
        let p = policy(&[]);
        assert!(tcp(&p, "db.example", 5432));
        assert!(!unix(&p, "/run/postgresql"));
        let err = p
            .check(ProbeEndpoint::Unix {
                path: Path::new("/tmp"),
            })
            .expect_err("socket");
        assert!(err.contains("--web.probe.allowed-targets"), "{err}");
    }

    #[test]
    fn host_patterns_match_whole_labels() {
        let p = policy(&[
            "10.0.0.*:5432",
            "*.db.internal",
            "exact.example:6379",
            "[::1]",
        ]);
        assert!(tcp(&p, "10.0.0.7", 5432));
        assert!(!tcp(&p, "10.0.0.7", 5433));
        assert!(!tcp(&p, "10.0.0.7.evil.example", 5432));
        assert!(tcp(&p, "a.db.internal", 1));
        assert!(tcp(&p, "A.DB.Internal", 1));
        assert!(!tcp(&p, "a.b.db.internal", 1));
        assert!(!tcp(&p, "db.internal", 1));
        assert!(tcp(&p, "exact.example", 6379));
        assert!(!tcp(&p, "exact.example", 6380));
        assert!(tcp(&p, "::1", 9));
        assert!(tcp(&p, "[::1]", 9));
        assert!(!tcp(&p, "::2", 9));
        assert!(!tcp(&p, "127.0.0.1", 5432));
        // A list without socket entries still refuses sockets.
        assert!(!unix(&p, "/run/postgresql"));
    }

    #[test]
    fn socket_entries_allow_only_their_paths() {
        let p = policy(&["/run/postgresql", "/run/redis/*.sock"]);
        assert!(unix(&p, "/run/postgresql"));
        assert!(unix(&p, "/run/redis/a.sock"));
        assert!(!unix(&p, "/tmp"));
        // Naming sockets only closes TCP.
        assert!(!tcp(&p, "localhost", 5432));
    }

    #[test]
    fn malformed_entries_are_refused() {
        for bad in ["host:notaport", "[::1", "[::1]x", "::1:5432", ":5432"] {
            let e = TargetPolicy::new(&[bad.to_owned()]).expect_err(bad);
            assert!(e.starts_with("--web.probe.allowed-targets"), "{e}");
        }
    }
}
