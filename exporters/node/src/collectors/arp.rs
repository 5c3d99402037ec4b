//! `arp`: neighbour table entries per device, from /proc/net/arp.

use std::collections::BTreeMap;
use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{read, HostPaths};

/// `--collector.arp`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("arp", "ARP entries per device (/proc/net/arp)", |c| {
        crate::paths::reader(
            &c.paths,
            ArpCollector {
                paths: c.paths.clone(),
            },
        )
    });

pub struct ArpCollector {
    paths: Arc<HostPaths>,
}

impl BlockingCollector for ArpCollector {
    fn name(&self) -> &'static str {
        "arp"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let text = read(&self.paths.proc("net/arp"))?;
        let mut by_device: BTreeMap<&str, u64> = BTreeMap::new();
        // IP address, HW type, Flags, HW address, Mask, Device.
        for line in text.lines().skip(1) {
            if let Some(device) = line.split_ascii_whitespace().nth(5) {
                *by_device.entry(device).or_default() += 1;
            }
        }
        let mut f = Family::gauge("node_arp_entries", "ARP entries by device");
        for (device, n) in by_device {
            f.add(&[("device", device)], n as f64);
        }
        Ok(vec![f])
    }
}
