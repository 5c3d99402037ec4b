//! `watchdog`: the hardware and software watchdogs of /sys/class/watchdog:
//! timeout, time left, and what the driver says of itself.

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{Blocking, BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{attr, attr_number, entries, HostPaths};

/// `--collector.watchdog`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("watchdog", "watchdog devices (/sys/class/watchdog)", |c| {
        Arc::new(Blocking::new(WatchdogCollector {
            paths: c.paths.clone(),
        }))
    });

pub struct WatchdogCollector {
    paths: Arc<HostPaths>,
}

/// (sysfs attribute, metric suffix)
const NUMBERS: &[(&str, &str)] = &[
    ("access_cs0", "access_cs0"),
    ("bootstatus", "bootstatus"),
    ("fw_version", "fw_version"),
    ("nowayout", "nowayout"),
    ("pretimeout", "pretimeout_seconds"),
    ("timeleft", "timeleft_seconds"),
    ("timeout", "timeout_seconds"),
];

impl BlockingCollector for WatchdogCollector {
    fn nothing_to_block_on(&self) -> bool {
        crate::paths::absent_or_empty(&self.paths, "class/watchdog")
    }

    fn name(&self) -> &'static str {
        "watchdog"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let devices = entries(&self.paths.sys("class/watchdog"), "watchdog");
        let mut out: Vec<Family> = NUMBERS
            .iter()
            .map(|(file, suffix)| {
                Family::gauge(
                    format!("node_watchdog_{suffix}"),
                    format!("Value of /sys/class/watchdog/<watchdog>/{file}"),
                )
            })
            .collect();
        let mut info = Family::gauge(
            "node_watchdog_info",
            "Info of /sys/class/watchdog/<watchdog>",
        );
        for (name, dir) in &devices {
            for ((file, _), family) in NUMBERS.iter().zip(out.iter_mut()) {
                if let Some(v) = attr_number(dir, file) {
                    family.add(&[("name", name)], v);
                }
            }
            let a = |f: &str| attr(dir, f).unwrap_or_default();
            info.add(
                &[
                    ("identity", &a("identity")),
                    ("name", name),
                    ("options", &a("options")),
                    ("pretimeout_governor", &a("pretimeout_governor")),
                    ("state", &a("state")),
                    ("status", &a("status")),
                ],
                1.0,
            );
        }
        out.push(info);
        Ok(out)
    }
}
