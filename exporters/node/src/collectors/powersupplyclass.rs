//! `powersupplyclass`: batteries, mains and USB supplies of
//! /sys/class/power_supply: charge, energy, voltage, current, temperature
//! and what the supply says of itself.

use std::sync::Arc;

use crate::filter::Regex;
use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{Blocking, BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{attr, entries, HostPaths};

/// `--collector.powersupplyclass`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "powersupplyclass",
    "power supplies and batteries (/sys/class/power_supply)",
    |c| {
        Arc::new(Blocking::new(PowerSupplyCollector {
            paths: c.paths.clone(),
            ignored: c.cli.powersupply.ignored_supplies.clone(),
        }))
    },
);

/// This collector's own flags (node_exporter's names).
#[derive(Debug, Clone, clap::Args)]
pub struct PowerSupplyArgs {
    /// Power supplies to leave out (regular expression).
    #[arg(id = "collector.powersupply.ignored-supplies", long = "collector.powersupply.ignored-supplies", env = "SIDEWATCH_COLLECTOR_POWERSUPPLY_IGNORED_SUPPLIES", default_value = "^$", value_parser = crate::config::parse_regex, value_name = "REGEX")]
    pub ignored_supplies: Regex,
}

pub struct PowerSupplyCollector {
    paths: Arc<HostPaths>,
    ignored: Regex,
}

/// (sysfs file, metric suffix, divisor): counts as they are, µ-units to
/// base units, tenths of a degree to degrees.
const NUMBERS: &[(&str, &str, f64)] = &[
    ("authentic", "authentic", 1.0),
    ("calibrate", "calibrate", 1.0),
    ("capacity", "capacity", 1.0),
    ("capacity_alert_max", "capacity_alert_max", 1.0),
    ("capacity_alert_min", "capacity_alert_min", 1.0),
    ("cycle_count", "cyclecount", 1.0),
    ("online", "online", 1.0),
    ("present", "present", 1.0),
    ("time_to_empty_now", "time_to_empty_seconds", 1.0),
    ("time_to_full_now", "time_to_full_seconds", 1.0),
    ("current_boot", "current_boot", 1e6),
    ("current_max", "current_max", 1e6),
    ("current_now", "current_ampere", 1e6),
    ("energy_empty", "energy_empty", 1e6),
    ("energy_empty_design", "energy_empty_design", 1e6),
    ("energy_full", "energy_full", 1e6),
    ("energy_full_design", "energy_full_design", 1e6),
    ("energy_now", "energy_watthour", 1e6),
    ("voltage_boot", "voltage_boot", 1e6),
    ("voltage_max", "voltage_max", 1e6),
    ("voltage_max_design", "voltage_max_design", 1e6),
    ("voltage_min", "voltage_min", 1e6),
    ("voltage_min_design", "voltage_min_design", 1e6),
    ("voltage_now", "voltage_volt", 1e6),
    ("voltage_ocv", "voltage_ocv", 1e6),
    ("charge_control_limit", "charge_control_limit", 1e6),
    ("charge_control_limit_max", "charge_control_limit_max", 1e6),
    ("charge_counter", "charge_counter", 1e6),
    ("charge_empty", "charge_empty", 1e6),
    ("charge_empty_design", "charge_empty_design", 1e6),
    ("charge_full", "charge_full", 1e6),
    ("charge_full_design", "charge_full_design", 1e6),
    ("charge_now", "charge_ampere", 1e6),
    ("charge_term_current", "charge_term_current", 1e6),
    ("constant_charge_current", "constant_charge_current", 1e6),
    (
        "constant_charge_current_max",
        "constant_charge_current_max",
        1e6,
    ),
    ("constant_charge_voltage", "constant_charge_voltage", 1e6),
    (
        "constant_charge_voltage_max",
        "constant_charge_voltage_max",
        1e6,
    ),
    ("precharge_current", "precharge_current", 1e6),
    ("input_current_limit", "input_current_limit", 1e6),
    ("power_now", "power_watt", 1e6),
    ("temp", "temp_celsius", 10.0),
    ("temp_alert_max", "temp_alert_max_celsius", 10.0),
    ("temp_alert_min", "temp_alert_min_celsius", 10.0),
    ("temp_ambient", "temp_ambient_celsius", 10.0),
    ("temp_ambient_max", "temp_ambient_max_celsius", 10.0),
    ("temp_ambient_min", "temp_ambient_min_celsius", 10.0),
    ("temp_max", "temp_max_celsius", 10.0),
    ("temp_min", "temp_min_celsius", 10.0),
];

/// The text attributes of `node_power_supply_info`, in label order.
const TEXTS: &[&str] = &[
    "capacity_level",
    "charge_type",
    "health",
    "manufacturer",
    "model_name",
    "scope",
    "serial_number",
    "status",
    "technology",
    "type",
    "usb_type",
];

impl BlockingCollector for PowerSupplyCollector {
    fn nothing_to_block_on(&self) -> bool {
        crate::paths::absent_or_empty(&self.paths, "class/power_supply")
    }

    fn name(&self) -> &'static str {
        "powersupplyclass"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let supplies: Vec<(String, std::path::PathBuf)> =
            entries(&self.paths.sys("class/power_supply"), "")
                .into_iter()
                .filter(|(name, _)| !self.ignored.is_match(name))
                .collect();
        if supplies.is_empty() {
            // Most servers have none: no families to name (98 strings a scrape).
            return Ok(Vec::new());
        }
        let mut out: Vec<Family> = NUMBERS
            .iter()
            .map(|(_, suffix, _)| {
                Family::gauge(
                    sidewatch_common::intern_fmt(format_args!("node_power_supply_{suffix}")),
                    sidewatch_common::intern_fmt(format_args!(
                        "{suffix} value of /sys/class/power_supply/<power_supply>."
                    )),
                )
            })
            .collect();
        let mut info = Family::gauge(
            "node_power_supply_info",
            "info of /sys/class/power_supply/<power_supply>.",
        );
        for (name, dir) in supplies {
            for ((file, _, divisor), family) in NUMBERS.iter().zip(out.iter_mut()) {
                if let Some(v) = attr(&dir, file).and_then(|v| v.parse::<f64>().ok()) {
                    family.add(&[("power_supply", &name)], v / divisor);
                }
            }
            let texts: Vec<(&'static str, String)> = TEXTS
                .iter()
                .filter_map(|k| Some((*k, attr(&dir, k).filter(|v| !v.is_empty())?)))
                .collect();
            let mut labels: Vec<(&'static str, &str)> =
                texts.iter().map(|(k, v)| (*k, v.as_str())).collect();
            labels.push(("power_supply", &name));
            labels.sort();
            info.add(&labels, 1.0);
        }
        out.retain(|f| !f.samples.is_empty());
        out.push(info);
        Ok(out)
    }
}
