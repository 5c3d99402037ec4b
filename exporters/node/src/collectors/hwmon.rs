//! `hwmon`: the hardware sensors of /sys/class/hwmon (what lm-sensors
//! shows): temperatures, voltages, fans, currents, power and energy, named
//! and converted as node_exporter does.
//!
//! A chip is named after its device (`<bus>_<device>`, stable across boots),
//! else its `name` file, else `hwmonN`. Each sensor file is
//! `<type><n>_<property>`; the value is converted to the base unit by type.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::filter::Regex;
use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::metrics::{FamilySet, MetricKind};
use sidewatch_common::{Blocking, BlockingCollector, CollectResult};

use crate::config::NodeConfig;
use crate::paths::{attr, entries, HostPaths};

/// `--collector.hwmon`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("hwmon", "hardware sensors (/sys/class/hwmon)", |c| {
        Arc::new(Blocking::new(HwmonCollector {
            paths: c.paths.clone(),
            chips: Filter::new(
                c.cli.hwmon.chip_include.clone(),
                c.cli.hwmon.chip_exclude.clone(),
            ),
            sensors: Filter::new(
                c.cli.hwmon.sensor_include.clone(),
                c.cli.hwmon.sensor_exclude.clone(),
            ),
        }))
    });

/// This collector's own flags (node_exporter's names).
#[derive(Debug, Clone, clap::Args)]
pub struct HwmonArgs {
    /// Chips to read (regular expression); the others are left out.
    #[arg(id = "collector.hwmon.chip-include", long = "collector.hwmon.chip-include", env = "SIDEWATCH_COLLECTOR_HWMON_CHIP_INCLUDE", value_parser = crate::config::parse_regex, value_name = "REGEX", conflicts_with = "collector.hwmon.chip-exclude")]
    pub chip_include: Option<Regex>,
    /// Chips to leave out (regular expression).
    #[arg(id = "collector.hwmon.chip-exclude", long = "collector.hwmon.chip-exclude", env = "SIDEWATCH_COLLECTOR_HWMON_CHIP_EXCLUDE", value_parser = crate::config::parse_regex, value_name = "REGEX")]
    pub chip_exclude: Option<Regex>,
    /// Sensors to read, matched against `<chip>;<sensor>` (e.g. `platform_coretemp_0;temp1`).
    #[arg(id = "collector.hwmon.sensor-include", long = "collector.hwmon.sensor-include", env = "SIDEWATCH_COLLECTOR_HWMON_SENSOR_INCLUDE", value_parser = crate::config::parse_regex, value_name = "REGEX", conflicts_with = "collector.hwmon.sensor-exclude")]
    pub sensor_include: Option<Regex>,
    /// Sensors to leave out, matched against `<chip>;<sensor>`.
    #[arg(id = "collector.hwmon.sensor-exclude", long = "collector.hwmon.sensor-exclude", env = "SIDEWATCH_COLLECTOR_HWMON_SENSOR_EXCLUDE", value_parser = crate::config::parse_regex, value_name = "REGEX")]
    pub sensor_exclude: Option<Regex>,
}

/// An include or an exclude pattern (the flags are exclusive).
pub struct Filter {
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl Filter {
    pub fn new(include: Option<Regex>, exclude: Option<Regex>) -> Self {
        Self { include, exclude }
    }

    pub fn ignored(&self, name: &str) -> bool {
        self.exclude.as_ref().is_some_and(|r| r.is_match(name))
            || self.include.as_ref().is_some_and(|r| !r.is_match(name))
    }
}

pub struct HwmonCollector {
    paths: Arc<HostPaths>,
    chips: Filter,
    sensors: Filter,
}

/// The sensor types read; other files (name, uevent, ...) are not sensors.
const TYPES: &[&str] = &[
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
    "freq",
];

/// Lower case, `[^a-z0-9:_]` to `_`, no leading or trailing `_`.
pub fn clean(name: &str) -> String {
    let lower: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    lower.trim_matches('_').to_owned()
}

/// `temp1_crit_alarm` → ("temp", 1, "crit_alarm"); `pwm1` → ("pwm", 1, "").
pub fn split_sensor_file(file: &str) -> Option<(&str, u32, &str)> {
    // `<non-digits><digits>[_<property>]`; without digits the whole name is
    // the type (`beep_enable`, `update_interval`, `vrm`).
    let (kind, rest) = match file.find(|c: char| c.is_ascii_digit()) {
        Some(0) => return None,
        Some(i) => file.split_at(i),
        None => return Some((file, 0, "")),
    };
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let num = if end == 0 {
        0
    } else {
        rest[..end].parse().ok()?
    };
    let property = match &rest[end..] {
        "" => "",
        p => p.strip_prefix('_').filter(|p| !p.is_empty())?,
    };
    Some((kind, num, property))
}

/// sensor (`temp1`) → property (`input`, `label`, `""` for the bare file) → value.
type SensorData = BTreeMap<String, BTreeMap<String, String>>;

fn read_sensors(dir: &Path, data: &mut SensorData) {
    for (file, path) in entries(dir, "") {
        let Some((kind, num, property)) = split_sensor_file(&file) else {
            continue;
        };
        if !TYPES.contains(&kind) || !path.is_file() {
            continue;
        }
        // A broken driver answers EAGAIN: the sensor is left out.
        let Ok(text) = crate::paths::read_text(&path) else {
            continue;
        };
        data.entry(format!("{kind}{num}"))
            .or_default()
            .insert(property.to_owned(), text.trim_end_matches('\n').to_owned());
    }
}

/// The stable name of a chip: `<bus>_<device>` of its device, else its
/// `name` file, else the `hwmonN` directory's own name.
fn chip_name(dir: &Path) -> Option<String> {
    if let Ok(device) = std::fs::canonicalize(dir.join("device")) {
        let dev = device.file_name().map(|n| clean(&n.to_string_lossy()));
        let bus = device
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| clean(&n.to_string_lossy()));
        match (bus, dev) {
            (Some(b), Some(d)) if !b.is_empty() && !d.is_empty() => {
                return Some(format!("{b}_{d}"))
            }
            (_, Some(d)) if !d.is_empty() => return Some(d),
            _ => {}
        }
    }
    if let Some(name) = attr(dir, "name")
        .map(|n| clean(&n))
        .filter(|n| !n.is_empty())
    {
        return Some(name);
    }
    let real = std::fs::canonicalize(dir).ok()?;
    Some(clean(&real.file_name()?.to_string_lossy())).filter(|n| !n.is_empty())
}

/// Families by name, each created with the help of its first sample.
fn sensor_families(
    out: &mut FamilySet,
    chip: &str,
    sensor: &str,
    props: &BTreeMap<String, String>,
) {
    let kind = sensor.trim_end_matches(|c: char| c.is_ascii_digit());
    let labels = [("chip", chip), ("sensor", sensor)];
    let gauge = MetricKind::Gauge;
    if let Some(label) = props.get("label") {
        out.add(
            "node_hwmon_sensor_label",
            "Label for given chip and sensor",
            gauge,
            &[("chip", chip), ("label", label), ("sensor", sensor)],
            1.0,
        );
    }
    let bare = props.get("");
    match kind {
        "beep_enable" => {
            let on = if bare.map(String::as_str) == Some("1") {
                1.0
            } else {
                0.0
            };
            out.add(
                "node_hwmon_beep_enabled",
                "Hardware beep enabled",
                gauge,
                &labels,
                on,
            );
            return;
        }
        "vrm" => {
            if let Some(v) = bare.and_then(|v| v.parse::<f64>().ok()) {
                out.add(
                    "node_hwmon_voltage_regulator_version",
                    "Hardware voltage regulator",
                    gauge,
                    &labels,
                    v,
                );
            }
            return;
        }
        "update_interval" => {
            if let Some(v) = bare.and_then(|v| v.parse::<f64>().ok()) {
                out.add(
                    "node_hwmon_update_interval_seconds",
                    "Hardware monitor update interval",
                    gauge,
                    &labels,
                    v * 0.001,
                );
            }
            return;
        }
        _ => {}
    }
    let prefix = format!("node_hwmon_{kind}");
    for (element, value) in props {
        if element == "label" {
            continue;
        }
        let name = match element.as_str() {
            "input" if bare.is_some() => format!("{prefix}_input"),
            "input" | "" => prefix.clone(),
            e => format!("{prefix}_{}", clean(e)),
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        let e = element.as_str();
        let (name, help, value, mkind) = match (kind, e) {
            (_, "fault" | "alarm") => (name, format!("Hardware sensor {e} status ({kind})"), v, gauge),
            (_, "beep") => (format!("{name}_enabled"), "Hardware monitor sensor has beeping enabled".to_owned(), v, gauge),
            ("in" | "cpu", _) => (format!("{name}_volts"), format!("Hardware monitor for voltage ({e})"), v * 0.001, gauge),
            ("temp", t) if t != "type" => {
                let e = if e.is_empty() { "input" } else { e };
                (format!("{name}_celsius"), format!("Hardware monitor for temperature ({e})"), v * 0.001, gauge)
            }
            ("curr", _) => (format!("{name}_amps"), format!("Hardware monitor for current ({e})"), v * 0.001, gauge),
            ("energy", _) => (format!("{name}_joule_total"), format!("Hardware monitor for joules used so far ({e})"), v / 1e6, MetricKind::Counter),
            ("power", "accuracy") => (name, "Hardware monitor power meter accuracy, as a ratio".to_owned(), v / 1e6, gauge),
            ("power", "average_interval" | "average_interval_min" | "average_interval_max") => {
                (format!("{name}_seconds"), format!("Hardware monitor power usage update interval ({e})"), v * 0.001, gauge)
            }
            ("power", _) => (format!("{name}_watt"), format!("Hardware monitor for power usage in watts ({e})"), v / 1e6, gauge),
            ("humidity", _) => (name, format!("Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({e})"), v / 1e6, gauge),
            ("fan", "input" | "min" | "max" | "target") => (format!("{name}_rpm"), format!("Hardware monitor for fan revolutions per minute ({e})"), v, gauge),
            ("freq", "input") => {
                // A GPU clock: named after its label, in MHz.
                if let Some(label) = props.get("label") {
                    let sensor = clean(label);
                    out.add(format!("{name}_freq_mhz"), "Hardware monitor for GPU frequency in MHz", gauge, &[("chip", chip), ("sensor", &sensor)], v / 1e6);
                }
                continue;
            }
            _ => (name, format!("Hardware monitor {kind} element {e}"), v, gauge),
        };
        out.add(name, help, mkind, &labels, value);
    }
}

impl BlockingCollector for HwmonCollector {
    fn nothing_to_block_on(&self) -> bool {
        crate::paths::absent_or_empty(&self.paths, "class/hwmon")
    }

    fn name(&self) -> &'static str {
        "hwmon"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let mut out = FamilySet::default();
        for (_, dir) in entries(&self.paths.sys("class/hwmon"), "") {
            if !dir.is_dir() {
                continue;
            }
            let Some(chip) = chip_name(&dir) else {
                continue;
            };
            if self.chips.ignored(&chip) {
                continue;
            }
            let mut data = SensorData::new();
            read_sensors(&dir, &mut data);
            if dir.join("device").is_dir() {
                read_sensors(&dir.join("device"), &mut data);
            }
            if let Some(name) = attr(&dir, "name")
                .map(|n| clean(&n))
                .filter(|n| !n.is_empty())
            {
                out.add(
                    "node_hwmon_chip_names",
                    "Annotation metric for human-readable chip names",
                    MetricKind::Gauge,
                    &[("chip", &chip), ("chip_name", &name)],
                    1.0,
                );
            }
            for (sensor, props) in &data {
                if self.sensors.ignored(&format!("{chip};{sensor}")) {
                    continue;
                }
                sensor_families(&mut out, &chip, sensor, props);
            }
        }
        Ok(out.into_families())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_file_names() {
        assert_eq!(split_sensor_file("temp1_input"), Some(("temp", 1, "input")));
        assert_eq!(
            split_sensor_file("temp1_crit_alarm"),
            Some(("temp", 1, "crit_alarm"))
        );
        assert_eq!(split_sensor_file("pwm2"), Some(("pwm", 2, "")));
        assert_eq!(split_sensor_file("in10_min"), Some(("in", 10, "min")));
        assert_eq!(
            split_sensor_file("beep_enable"),
            Some(("beep_enable", 0, ""))
        );
        assert_eq!(
            split_sensor_file("update_interval"),
            Some(("update_interval", 0, ""))
        );
        assert_eq!(split_sensor_file("vrm"), Some(("vrm", 0, "")));
        assert_eq!(split_sensor_file("name"), Some(("name", 0, "")));
        assert_eq!(split_sensor_file("temp_x"), Some(("temp_x", 0, "")));
        assert_eq!(split_sensor_file("temp1x"), None);
        assert_eq!(split_sensor_file("temp1_"), None);
        assert_eq!(split_sensor_file("1abc"), None);
        assert_eq!(clean("Package id 0"), "package_id_0");
        assert_eq!(clean("coretemp.0"), "coretemp_0");
        assert_eq!(clean("__X__"), "x");
    }
}
