//! `nfs`: the NFS client's RPC statistics from /proc/net/rpc/nfs: packets,
//! connections, RPCs, retransmissions and each procedure of NFS v2, v3 and
//! v4 (the method names node_exporter gives them).

use std::collections::HashMap;
use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::HostPaths;

/// `--collector.nfs`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("nfs", "NFS client statistics (/proc/net/rpc/nfs)", |c| {
        crate::paths::reader(
            &c.paths,
            NfsCollector {
                paths: c.paths.clone(),
            },
        )
    });

pub struct NfsCollector {
    paths: Arc<HostPaths>,
}

impl NfsCollector {
    pub fn new(paths: Arc<HostPaths>) -> Self {
        Self { paths }
    }
}

pub const V2: &[&str] = &[
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write",
    "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];

pub const V3: &[&str] = &[
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];

/// The client's proc4 line, in the kernel's order.
pub const CLIENT_V4: &[&str] = &[
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    "LayoutGet",
    "GetDeviceInfo",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];

/// Each line of an rpc statistics file: its tag → its numbers.
pub fn parse(text: &str) -> Result<HashMap<&str, Vec<f64>>, CollectError> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let mut f = line.split_ascii_whitespace();
        let Some(tag) = f.next() else {
            continue;
        };
        let values = f
            .map(|v| v.parse::<f64>())
            .collect::<Result<Vec<f64>, _>>()
            .map_err(|_| {
                CollectError::parse(format!("rpc statistics: not a number in {line:?}"))
            })?;
        out.insert(tag, values);
    }
    Ok(out)
}

/// A `procN` line: its first number is how many follow. Fewer than the
/// names (an older kernel) count as 0, more (a newer one) are left out.
pub fn procedures(lines: &HashMap<&str, Vec<f64>>, tag: &str) -> Vec<f64> {
    lines
        .get(tag)
        .map(|v| v.iter().skip(1).copied().collect())
        .unwrap_or_default()
}

/// Field `i` of a line, 0 when the kernel does not print it.
pub fn field(lines: &HashMap<&str, Vec<f64>>, tag: &str, i: usize) -> f64 {
    lines
        .get(tag)
        .and_then(|v| v.get(i))
        .copied()
        .unwrap_or(0.0)
}

/// Reads an rpc statistics file; `None` when the module is not loaded.
pub fn read(path: &std::path::Path) -> Result<Option<String>, CollectError> {
    match crate::paths::read_text(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CollectError::io(path.display().to_string(), e)),
    }
}

impl BlockingCollector for NfsCollector {
    fn name(&self) -> &'static str {
        "nfs"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let Some(text) = read(&self.paths.proc("net/rpc/nfs"))? else {
            return Ok(Vec::new());
        };
        let l = parse(&text)?;
        let c = |name: &str, help: &'static str| Family::counter(format!("node_nfs_{name}"), help);
        let mut packets = c(
            "packets_total",
            "Total NFSd network packets (sent+received) by protocol type.",
        );
        packets.add(&[("protocol", "udp")], field(&l, "net", 1));
        packets.add(&[("protocol", "tcp")], field(&l, "net", 2));
        let mut requests = c("requests_total", "Number of NFS procedures invoked.");
        for (proto, tag, names) in [
            ("2", "proc2", V2),
            ("3", "proc3", V3),
            ("4", "proc4", CLIENT_V4),
        ] {
            let values = procedures(&l, tag);
            for (i, method) in names.iter().enumerate() {
                let v = values.get(i).copied().unwrap_or(0.0);
                requests.add(&[("method", method), ("proto", proto)], v);
            }
        }
        Ok(vec![
            c("connections_total", "Total number of NFSd TCP connections.")
                .with(&[], field(&l, "net", 3)),
            packets,
            requests,
            c(
                "rpc_authentication_refreshes_total",
                "Number of RPC authentication refreshes performed.",
            )
            .with(&[], field(&l, "rpc", 2)),
            c(
                "rpc_retransmissions_total",
                "Number of RPC transmissions performed.",
            )
            .with(&[], field(&l, "rpc", 1)),
            c("rpcs_total", "Total number of RPCs performed.").with(&[], field(&l, "rpc", 0)),
        ])
    }
}
