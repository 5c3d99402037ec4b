//! `udp_queues`: memory queued in UDP sockets, summed over /proc/net/udp and
//! /proc/net/udp6 (`tx_queue:rx_queue`, hexadecimal bytes).

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::HostPaths;

/// `--collector.udp_queues`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "udp_queues",
    "UDP socket queues (/proc/net/udp, /proc/net/udp6)",
    |c| {
        crate::paths::reader(
            &c.paths,
            UdpQueuesCollector {
                paths: c.paths.clone(),
            },
        )
    },
);

pub struct UdpQueuesCollector {
    paths: Arc<HostPaths>,
}

/// (tx, rx) bytes summed over the sockets of one /proc/net/udp* file.
pub fn queued(text: &str) -> Result<(f64, f64), CollectError> {
    let (mut tx, mut rx) = (0u64, 0u64);
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        // sl local_address rem_address st tx_queue:rx_queue ...
        let field = line
            .split_ascii_whitespace()
            .nth(4)
            .ok_or_else(|| CollectError::parse(format!("udp: short line {line:?}")))?;
        let (t, r) = field
            .split_once(':')
            .ok_or_else(|| CollectError::parse(format!("udp: {field:?} is not tx:rx")))?;
        let hex = |v: &str| {
            u64::from_str_radix(v, 16)
                .map_err(|_| CollectError::parse(format!("udp: {v:?} is not hexadecimal")))
        };
        tx += hex(t)?;
        rx += hex(r)?;
    }
    Ok((tx as f64, rx as f64))
}

impl BlockingCollector for UdpQueuesCollector {
    fn name(&self) -> &'static str {
        "udp_queues"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let mut f = Family::gauge(
            "node_udp_queues",
            "Number of allocated memory in the kernel for UDP datagrams in bytes.",
        );
        for (ip, file) in [("v4", "net/udp"), ("v6", "net/udp6")] {
            // Without IPv6 there is no udp6 file: only v4 is reported.
            let Ok(text) = crate::paths::read_text(self.paths.proc(file)) else {
                continue;
            };
            let (tx, rx) = queued(&text)?;
            f.add(&[("ip", ip), ("queue", "rx")], rx);
            f.add(&[("ip", ip), ("queue", "tx")], tx);
        }
        Ok(vec![f])
    }
}
