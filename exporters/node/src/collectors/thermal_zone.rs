//! `thermal_zone`: temperatures of /sys/class/thermal's zones and the
//! throttle states of its cooling devices.

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{Blocking, BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{attr, attr_number, entries, HostPaths};

/// `--collector.thermal_zone`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "thermal_zone",
    "thermal zones and cooling devices (/sys/class/thermal)",
    |c| {
        Arc::new(Blocking::new(ThermalZoneCollector {
            paths: c.paths.clone(),
        }))
    },
);

pub struct ThermalZoneCollector {
    paths: Arc<HostPaths>,
}

impl BlockingCollector for ThermalZoneCollector {
    fn nothing_to_block_on(&self) -> bool {
        crate::paths::absent_or_empty(&self.paths, "class/thermal")
    }

    fn name(&self) -> &'static str {
        "thermal_zone"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let class = self.paths.sys("class/thermal");
        let mut temp = Family::gauge("node_thermal_zone_temp", "Zone temperature in Celsius");
        for (name, dir) in entries(&class, "thermal_zone") {
            // A zone whose sensor does not answer (EAGAIN, ENODATA) is left out.
            let Some(millis) = attr_number(&dir, "temp") else {
                continue;
            };
            let kind = attr(&dir, "type").unwrap_or_default();
            let zone = name.trim_start_matches("thermal_zone");
            temp.add(&[("type", &kind), ("zone", zone)], millis / 1000.0);
        }
        let mut cur = Family::gauge(
            "node_cooling_device_cur_state",
            "Current throttle state of the cooling device",
        );
        let mut max = Family::gauge(
            "node_cooling_device_max_state",
            "Maximum throttle state of the cooling device",
        );
        for (name, dir) in entries(&class, "cooling_device") {
            let (Some(c), Some(m)) = (
                attr_number(&dir, "cur_state"),
                attr_number(&dir, "max_state"),
            ) else {
                continue;
            };
            let kind = attr(&dir, "type").unwrap_or_default();
            let l = [
                ("name", name.trim_start_matches("cooling_device")),
                ("type", &kind),
            ];
            cur.add(&l, c);
            max.add(&l, m);
        }
        Ok(vec![cur, max, temp])
    }
}
