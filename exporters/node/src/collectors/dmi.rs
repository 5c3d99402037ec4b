//! `dmi`: the machine's firmware, board, chassis and product identity from
//! /sys/class/dmi/id, read once at start (it changes only with a reboot).

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{attr, HostPaths};

/// `--collector.dmi`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "dmi",
    "firmware and hardware identity (/sys/class/dmi/id)",
    |c| crate::paths::reader(&c.paths, DmiCollector::new(&c.paths)),
);

/// (label, file under /sys/class/dmi/id), in label order.
const FIELDS: &[(&str, &str)] = &[
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("system_vendor", "sys_vendor"),
];

pub struct DmiCollector {
    /// The fields the kernel gave (serials and the UUID only to root).
    labels: Vec<(&'static str, String)>,
}

impl DmiCollector {
    pub fn new(paths: &HostPaths) -> Self {
        let dir = paths.sys("class/dmi/id");
        let labels = FIELDS
            .iter()
            .filter_map(|(label, file)| Some((*label, attr(&dir, file)?)))
            .collect();
        Self { labels }
    }
}

impl BlockingCollector for DmiCollector {
    fn name(&self) -> &'static str {
        "dmi"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        if self.labels.is_empty() {
            return Ok(Vec::new());
        }
        let labels: Vec<(&'static str, &str)> =
            self.labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok(vec![Family::gauge(
            "node_dmi_info",
            "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, product_sku, product_uuid, product_version, system_vendor if provided by DMI.",
        )
        .with(&labels, 1.0)])
    }
}
