//! `nfsd`: the kernel NFS server's statistics from /proc/net/rpc/nfsd:
//! reply cache, file handles, disk bytes, threads, packets, RPC errors and
//! each procedure of NFS v2, v3 and the v4 operations.

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectResult, Family};

use crate::collectors::nfs::{field, parse, procedures, read, V2, V3};
use crate::config::NodeConfig;
use crate::paths::HostPaths;

/// `--collector.nfsd`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("nfsd", "NFS server statistics (/proc/net/rpc/nfsd)", |c| {
        crate::paths::reader(
            &c.paths,
            NfsdCollector {
                paths: c.paths.clone(),
            },
        )
    });

pub struct NfsdCollector {
    paths: Arc<HostPaths>,
}

impl NfsdCollector {
    pub fn new(paths: Arc<HostPaths>) -> Self {
        Self { paths }
    }
}

/// The v4 operations reported, with their operation numbers (RFC 7530).
const V4_OPS: &[(&str, usize)] = &[
    ("Access", 3),
    ("Close", 4),
    ("Commit", 5),
    ("Create", 6),
    ("DelegPurge", 7),
    ("DelegReturn", 8),
    ("GetAttr", 9),
    ("GetFH", 10),
    ("Link", 11),
    ("Lock", 12),
    ("Lockt", 13),
    ("Locku", 14),
    ("Lookup", 15),
    ("LookupRoot", 16),
    ("Nverify", 17),
    ("Open", 18),
    ("OpenAttr", 19),
    ("OpenConfirm", 20),
    ("OpenDgrd", 21),
    ("PutFH", 22),
    ("Read", 25),
    ("ReadDir", 26),
    ("ReadLink", 27),
    ("Remove", 28),
    ("Rename", 29),
    ("Renew", 30),
    ("RestoreFH", 31),
    ("SaveFH", 32),
    ("SecInfo", 33),
    ("SetAttr", 34),
    ("Verify", 37),
    ("Write", 38),
    ("RelLockOwner", 39),
];

impl BlockingCollector for NfsdCollector {
    fn name(&self) -> &'static str {
        "nfsd"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let Some(text) = read(&self.paths.proc("net/rpc/nfsd"))? else {
            return Ok(Vec::new());
        };
        let l = parse(&text)?;
        let c = |name: &str, help: &'static str, v: f64| {
            Family::counter(format!("node_nfsd_{name}"), help).with(&[], v)
        };
        let g = |name: &str, help: &'static str, v: f64| {
            Family::gauge(format!("node_nfsd_{name}"), help).with(&[], v)
        };
        let mut packets = Family::counter(
            "node_nfsd_packets_total",
            "Total NFSd network packets (sent+received) by protocol type.",
        );
        packets.add(&[("proto", "udp")], field(&l, "net", 1));
        packets.add(&[("proto", "tcp")], field(&l, "net", 2));
        let mut errors = Family::counter(
            "node_nfsd_rpc_errors_total",
            "Total number of NFSd RPC errors by error type.",
        );
        errors.add(&[("error", "fmt")], field(&l, "rpc", 2));
        errors.add(&[("error", "auth")], field(&l, "rpc", 3));
        errors.add(&[("error", "cInt")], field(&l, "rpc", 4));
        let mut requests = Family::counter(
            "node_nfsd_requests_total",
            "Total number NFSd Requests by method and protocol.",
        );
        // v2 and v3 without Null, as node_exporter reports them.
        for (proto, tag, names) in [("2", "proc2", V2), ("3", "proc3", V3)] {
            let values = procedures(&l, tag);
            for (i, method) in names.iter().enumerate().skip(1) {
                let v = values.get(i).copied().unwrap_or(0.0);
                requests.add(&[("method", method), ("proto", proto)], v);
            }
        }
        let ops = procedures(&l, "proc4ops");
        for (method, op) in V4_OPS {
            let v = ops.get(*op).copied().unwrap_or(0.0);
            requests.add(&[("method", method), ("proto", "4")], v);
        }
        // The ra line: cache size, ten histogram buckets, not found.
        let ra_not_found = l.get("ra").and_then(|v| v.last()).copied().unwrap_or(0.0);
        Ok(vec![
            c(
                "connections_total",
                "Total number of NFSd TCP connections.",
                field(&l, "net", 3),
            ),
            c(
                "disk_bytes_read_total",
                "Total NFSd bytes read.",
                field(&l, "io", 0),
            ),
            c(
                "disk_bytes_written_total",
                "Total NFSd bytes written.",
                field(&l, "io", 1),
            ),
            c(
                "file_handles_stale_total",
                "Total number of NFSd stale file handles",
                field(&l, "fh", 0),
            ),
            packets,
            c(
                "read_ahead_cache_not_found_total",
                "Total number of NFSd read ahead cache not found.",
                ra_not_found,
            ),
            g(
                "read_ahead_cache_size_blocks",
                "How large the read ahead cache is in blocks.",
                field(&l, "ra", 0),
            ),
            c(
                "reply_cache_hits_total",
                "Total number of NFSd Reply Cache hits (client lost server response).",
                field(&l, "rc", 0),
            ),
            c(
                "reply_cache_misses_total",
                "Total number of NFSd Reply Cache an operation that requires caching (idempotent).",
                field(&l, "rc", 1),
            ),
            c(
                "reply_cache_nocache_total",
                "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).",
                field(&l, "rc", 2),
            ),
            requests,
            errors,
            c(
                "server_rpcs_total",
                "Total number of NFSd RPCs.",
                field(&l, "rpc", 0),
            ),
            g(
                "server_threads",
                "Total number of NFSd kernel threads that are running.",
                field(&l, "th", 0),
            ),
        ])
    }
}
