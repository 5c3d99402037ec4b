//! `bonding`: configured and active (MII up) members of each bonded
//! interface, from /sys/class/net/bonding_masters.

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{Blocking, BlockingCollector, CollectError, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{attr, HostPaths};

/// `--collector.bonding`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "bonding",
    "bonded interfaces and their members (/sys/class/net)",
    |c| {
        Arc::new(Blocking::new(BondingCollector {
            paths: c.paths.clone(),
        }))
    },
);

pub struct BondingCollector {
    paths: Arc<HostPaths>,
}

impl BlockingCollector for BondingCollector {
    fn nothing_to_block_on(&self) -> bool {
        // No bonding driver: the run is one failed open.
        self.paths.kernel && !self.paths.sys("class/net/bonding_masters").exists()
    }

    fn name(&self) -> &'static str {
        "bonding"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let net = self.paths.sys("class/net");
        // No bonding driver loaded: nothing, and success.
        let Some(masters) = attr(&net, "bonding_masters") else {
            return Ok(Vec::new());
        };
        let mut slaves = Family::gauge(
            "node_bonding_slaves",
            "Number of configured slaves per bonding interface.",
        );
        let mut active = Family::gauge(
            "node_bonding_active",
            "Number of active slaves per bonding interface.",
        );
        for master in masters.split_ascii_whitespace() {
            let dir = net.join(master);
            let members = attr(&dir.join("bonding"), "slaves").unwrap_or_default();
            let (mut configured, mut up) = (0.0, 0.0);
            for member in members.split_ascii_whitespace() {
                // lower_<member> on today's kernels, slave_<member> on old ones.
                let status = ["lower_", "slave_"].iter().find_map(|prefix| {
                    attr(
                        &dir.join(format!("{prefix}{member}")).join("bonding_slave"),
                        "mii_status",
                    )
                });
                let Some(status) = status else {
                    return Err(CollectError::parse(format!(
                        "bonding: no mii_status for {member} of {master}"
                    )));
                };
                configured += 1.0;
                if status == "up" {
                    up += 1.0;
                }
            }
            slaves.add(&[("master", master)], configured);
            active.add(&[("master", master)], up);
        }
        Ok(vec![active, slaves])
    }
}
