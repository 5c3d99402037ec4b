//! `nvme`: NVMe controllers of /sys/class/nvme (model, serial, firmware,
//! state) and their namespaces (size, use, block size, ANA state).

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{Blocking, BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{attr, attr_number, entries, HostPaths};

/// `--collector.nvme`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "nvme",
    "NVMe controllers and namespaces (/sys/class/nvme)",
    |c| {
        Arc::new(Blocking::new(NvmeCollector {
            paths: c.paths.clone(),
        }))
    },
);

pub struct NvmeCollector {
    paths: Arc<HostPaths>,
}

/// The kernel's `size` attribute counts 512-byte sectors, whatever the
/// namespace's logical block size.
const SECTOR: f64 = 512.0;

impl BlockingCollector for NvmeCollector {
    fn nothing_to_block_on(&self) -> bool {
        crate::paths::absent_or_empty(&self.paths, "class/nvme")
    }

    fn name(&self) -> &'static str {
        "nvme"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let g = |name: &str, help: &'static str| Family::gauge(format!("node_nvme_{name}"), help);
        let mut info = g(
            "info",
            "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
        );
        let mut ns_info = g(
            "namespace_info",
            "Information about NVMe namespaces. Value is always 1",
        );
        let mut capacity = g("namespace_capacity_bytes", "Capacity of the NVMe namespace in bytes. Computed as namespace_size * namespace_logical_block_size");
        let mut size = g("namespace_size_bytes", "Size of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/size");
        let mut used = g("namespace_used_bytes", "Used space of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/nuse");
        let mut block = g("namespace_logical_block_size_bytes", "Logical block size of the NVMe namespace in bytes. Usually 4Kb. Available in /sys/class/nvme/<device>/<namespace>/queue/logical_block_size");
        for (name, dir) in entries(&self.paths.sys("class/nvme"), "nvme") {
            let a = |f: &str| attr(&dir, f).unwrap_or_default();
            info.add(
                &[
                    ("cntlid", &a("cntlid")),
                    ("device", &name),
                    ("firmware_revision", &a("firmware_rev")),
                    ("model", &a("model")),
                    ("serial", &a("serial")),
                    ("state", &a("state")),
                ],
                1.0,
            );
            // Namespaces: nvme0n1, or nvme0c0n1 under native multipath.
            for (_, ns) in entries(&dir, &name) {
                let Some(nsid) = attr(&ns, "nsid") else {
                    continue;
                };
                let lbs = attr_number(&ns, "queue/logical_block_size").unwrap_or(SECTOR);
                let sectors = attr_number(&ns, "size").unwrap_or(0.0);
                let nuse = attr_number(&ns, "nuse").unwrap_or(0.0);
                let ana = attr(&ns, "ana_state").unwrap_or_default();
                let l = [("device", name.as_str()), ("nsid", nsid.as_str())];
                ns_info.add(
                    &[("ana_state", &ana), ("device", &name), ("nsid", &nsid)],
                    1.0,
                );
                capacity.add(&l, sectors * SECTOR);
                size.add(&l, sectors * SECTOR);
                used.add(&l, nuse * lbs);
                block.add(&l, lbs);
            }
        }
        Ok(vec![info, capacity, ns_info, block, size, used])
    }
}
