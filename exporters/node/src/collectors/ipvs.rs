//! `ipvs`: the IP Virtual Server (Linux load balancer): totals from
//! /proc/net/ip_vs_stats and each backend's connections and weight from
//! /proc/net/ip_vs, summed over the labels `--collector.ipvs.backend-labels`
//! keeps.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::HostPaths;

/// `--collector.ipvs`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("ipvs", "IPVS load balancer (/proc/net/ip_vs)", |c| {
        crate::paths::reader(
            &c.paths,
            IpvsCollector {
                paths: c.paths.clone(),
                labels: c.cli.ipvs.backend_labels.0.clone(),
            },
        )
    });

/// The backend labels, in their fixed order.
pub const BACKEND_LABELS: &[&str] = &[
    "local_address",
    "local_port",
    "remote_address",
    "remote_port",
    "proto",
    "local_mark",
];

/// This collector's own flags (node_exporter's names).
#[derive(Debug, Clone, clap::Args)]
pub struct IpvsArgs {
    /// Comma-separated labels of the backend series; series that differ
    /// only in the others are summed.
    #[arg(id = "collector.ipvs.backend-labels", long = "collector.ipvs.backend-labels", env = "SIDEWATCH_COLLECTOR_IPVS_BACKEND_LABELS", default_value = "local_address,local_port,remote_address,remote_port,proto,local_mark", value_parser = parse_labels, value_name = "LABELS")]
    pub backend_labels: BackendLabels,
}

/// The labels kept, in [`BACKEND_LABELS`] order.
#[derive(Debug, Clone)]
pub struct BackendLabels(pub Vec<&'static str>);

fn parse_labels(s: &str) -> Result<BackendLabels, String> {
    let wanted: Vec<&str> = s.split(',').filter(|l| !l.is_empty()).collect();
    let unknown: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|l| !BACKEND_LABELS.contains(l))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "unknown IPVS backend labels: {:?}",
            unknown.join(", ")
        ));
    }
    Ok(BackendLabels(
        BACKEND_LABELS
            .iter()
            .copied()
            .filter(|l| wanted.contains(l))
            .collect(),
    ))
}

pub struct IpvsCollector {
    paths: Arc<HostPaths>,
    labels: Vec<&'static str>,
}

impl IpvsCollector {
    pub fn new(paths: Arc<HostPaths>, labels: Vec<&'static str>) -> Self {
        Self { paths, labels }
    }
}

fn hex(s: &str) -> Result<u64, CollectError> {
    u64::from_str_radix(s, 16)
        .map_err(|_| CollectError::parse(format!("ip_vs: {s:?} is not hexadecimal")))
}

/// `C0A80016:0CEA` or `[2620:0000:...:0001]:0050` → (address, port).
pub fn address(s: &str) -> Result<(String, u64), CollectError> {
    let bad = || CollectError::parse(format!("ip_vs: bad address {s:?}"));
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, port) = rest.split_once("]:").ok_or_else(bad)?;
        let ip: Ipv6Addr = ip.parse().map_err(|_| bad())?;
        return Ok((ip.to_string(), hex(port)?));
    }
    let (ip, port) = s.split_once(':').ok_or_else(bad)?;
    if ip.len() != 8 {
        return Err(bad());
    }
    Ok((Ipv4Addr::from(hex(ip)? as u32).to_string(), hex(port)?))
}

/// (labels in BACKEND_LABELS order, active, inactive, weight) per backend.
pub type Backend = ([String; 6], f64, f64, f64);

pub fn backends(text: &str) -> Result<Vec<Backend>, CollectError> {
    let mut out = Vec::new();
    let (mut local, mut port, mut proto, mut mark) =
        (String::new(), 0, String::new(), String::new());
    for line in text.lines().skip(3) {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        match f.as_slice() {
            [p @ ("TCP" | "UDP" | "SCTP"), addr, ..] => {
                (local, port) = address(addr)?;
                proto = (*p).to_owned();
                mark.clear();
            }
            ["FWM", m, ..] => {
                (local, port) = (String::new(), 0);
                proto = "FWM".to_owned();
                mark = (*m).to_owned();
            }
            ["->", addr, _forward, weight, active, inactive, ..] => {
                let (remote, rport) = address(addr)?;
                let n = |v: &str| {
                    v.parse::<f64>()
                        .map_err(|_| CollectError::parse(format!("ip_vs: {v:?} is not a number")))
                };
                out.push((
                    [
                        local.clone(),
                        port.to_string(),
                        remote,
                        rport.to_string(),
                        proto.clone(),
                        mark.clone(),
                    ],
                    n(active)?,
                    n(inactive)?,
                    n(weight)?,
                ));
            }
            _ => {}
        }
    }
    Ok(out)
}

impl BlockingCollector for IpvsCollector {
    fn name(&self) -> &'static str {
        "ipvs"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let stats_path = self.paths.proc("net/ip_vs_stats");
        let stats = match crate::paths::read_text(&stats_path) {
            Ok(t) => t,
            // No ip_vs module: nothing, and success.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(CollectError::io(stats_path.display().to_string(), e)),
        };
        let totals: Vec<u64> = stats
            .lines()
            .nth(2)
            .ok_or_else(|| CollectError::parse("ip_vs_stats: no totals line"))?
            .split_ascii_whitespace()
            .map(hex)
            .collect::<Result<_, _>>()?;
        let [conns, in_pkts, out_pkts, in_bytes, out_bytes] = totals[..] else {
            return Err(CollectError::parse("ip_vs_stats: not 5 totals"));
        };
        let c = |name: &str, help: &'static str, v: u64| {
            Family::counter(format!("node_ipvs_{name}"), help).with(&[], v as f64)
        };
        let text_path = self.paths.proc("net/ip_vs");
        let text = crate::paths::read_text(&text_path)
            .map_err(|e| CollectError::io(text_path.display().to_string(), e))?;
        // Sum the backends that the kept labels do not tell apart.
        let keep: Vec<usize> = self
            .labels
            .iter()
            .filter_map(|l| BACKEND_LABELS.iter().position(|b| b == l))
            .collect();
        let mut sums: BTreeMap<Vec<String>, (f64, f64, f64)> = BTreeMap::new();
        for (labels, active, inactive, weight) in backends(&text)? {
            let key: Vec<String> = keep.iter().map(|i| labels[*i].clone()).collect();
            let s = sums.entry(key).or_default();
            s.0 += active;
            s.1 += inactive;
            s.2 += weight;
        }
        let g = |name: &str, help: &'static str| Family::gauge(format!("node_ipvs_{name}"), help);
        let mut active = g(
            "backend_connections_active",
            "The current active connections by local and remote address.",
        );
        let mut inactive = g(
            "backend_connections_inactive",
            "The current inactive connections by local and remote address.",
        );
        let mut weight = g(
            "backend_weight",
            "The current backend weight by local and remote address.",
        );
        for (key, (a, i, w)) in &sums {
            let labels: Vec<(&'static str, &str)> = self
                .labels
                .iter()
                .copied()
                .zip(key.iter().map(String::as_str))
                .collect();
            active.add(&labels, *a);
            inactive.add(&labels, *i);
            weight.add(&labels, *w);
        }
        Ok(vec![
            active,
            inactive,
            weight,
            c(
                "connections_total",
                "The total number of connections made.",
                conns,
            ),
            c(
                "incoming_bytes_total",
                "The total amount of incoming data.",
                in_bytes,
            ),
            c(
                "incoming_packets_total",
                "The total number of incoming packets.",
                in_pkts,
            ),
            c(
                "outgoing_bytes_total",
                "The total amount of outgoing data.",
                out_bytes,
            ),
            c(
                "outgoing_packets_total",
                "The total number of outgoing packets.",
                out_pkts,
            ),
        ])
    }
}
