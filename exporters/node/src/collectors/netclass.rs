//! `netclass`: network device properties from /sys/class/net/<iface>:
//! link state, carrier, MTU, speed, queue length and the device's names, as
//! node_exporter's netclass collector gives them. A property the kernel does
//! not answer for a device (EINVAL on a down or virtual link) is left out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::filter::Regex;
use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{Blocking, BlockingCollector, CollectError, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::HostPaths;

/// `--collector.netclass`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "netclass",
    "network device properties (/sys/class/net)",
    |c| {
        Arc::new(Blocking::new(NetclassCollector {
            paths: c.paths.clone(),
            ignored: c.cli.netclass.ignored_devices.clone(),
            ignore_invalid_speed: c.cli.netclass.ignore_invalid_speed,
            ifindex: Mutex::new(HashMap::new()),
        }))
    },
);

/// This collector's own flags (node_exporter's names).
#[derive(Debug, Clone, clap::Args)]
pub struct NetclassArgs {
    /// Network devices to leave out (regular expression).
    #[arg(id = "collector.netclass.ignored-devices", long = "collector.netclass.ignored-devices", env = "SIDEWATCH_COLLECTOR_NETCLASS_IGNORED_DEVICES", default_value = "^$", value_parser = crate::config::parse_regex, value_name = "REGEX")]
    pub ignored_devices: Regex,

    /// No node_network_speed_bytes for a device whose speed is invalid (-1).
    #[arg(
        id = "collector.netclass.ignore-invalid-speed",
        long = "collector.netclass.ignore-invalid-speed",
        env = "SIDEWATCH_COLLECTOR_NETCLASS_IGNORE_INVALID_SPEED"
    )]
    pub ignore_invalid_speed: bool,
}

pub struct NetclassCollector {
    paths: Arc<HostPaths>,
    ignored: Regex,
    ignore_invalid_speed: bool,
    /// Each device's ifindex at the last scrape. A device's files are kept
    /// open between scrapes (`paths::kept`), and an open file follows the
    /// device, not its name: a name whose ifindex changed (renamed away,
    /// another device under it) has its files closed and opened again.
    ifindex: Mutex<HashMap<String, String>>,
}

/// (sysfs file, metric suffix, counter?, hexadecimal?)
const PROPERTIES: &[(&str, &str, bool, bool)] = &[
    ("addr_assign_type", "address_assign_type", false, false),
    ("carrier", "carrier", false, false),
    ("carrier_changes", "carrier_changes_total", true, false),
    ("carrier_up_count", "carrier_up_changes_total", true, false),
    (
        "carrier_down_count",
        "carrier_down_changes_total",
        true,
        false,
    ),
    ("dev_id", "device_id", false, true),
    ("dormant", "dormant", false, false),
    ("flags", "flags", false, true),
    ("ifindex", "iface_id", false, false),
    ("iflink", "iface_link", false, false),
    ("link_mode", "iface_link_mode", false, false),
    ("mtu", "mtu_bytes", false, false),
    ("name_assign_type", "name_assign_type", false, false),
    ("netdev_group", "net_dev_group", false, false),
    ("type", "protocol_type", false, false),
    ("tx_queue_len", "transmit_queue_length", false, false),
];

/// IFF_UP in the device's flags: the administrative state.
const IFF_UP: u64 = 0x1;

fn parse(text: &str, hex: bool) -> Option<f64> {
    let t = text.trim();
    if hex {
        u64::from_str_radix(t.strip_prefix("0x").unwrap_or(t), 16)
            .ok()
            .map(|v| v as f64)
    } else {
        t.parse::<i64>().ok().map(|v| v as f64)
    }
}

impl BlockingCollector for NetclassCollector {
    fn name(&self) -> &'static str {
        "netclass"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let dir = self.paths.sys("class/net");
        let entries =
            std::fs::read_dir(&dir).map_err(|e| CollectError::io(dir.display().to_string(), e))?;
        let mut devices: Vec<String> = entries
            .flatten()
            // Devices are symlinks (directories in a copied tree);
            // bonding_masters is a regular file. The entry's own type, as
            // node_exporter's procfs does: no stat per device.
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|d| !self.ignored.is_match(d))
            .collect();
        devices.sort();
        // Each device's ifindex, read through its name afresh; a device
        // whose name now means another one (or none) starts over.
        let mut known = self.ifindex.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen = HashMap::with_capacity(devices.len());
        for device in &devices {
            let base = dir.join(device);
            let Ok(index) = crate::paths::read_fresh(&base.join("ifindex")) else {
                crate::paths::kept::forget(&base);
                continue;
            };
            let index = index.trim().to_owned();
            if known.get(device) != Some(&index) {
                crate::paths::kept::forget(&base);
            }
            seen.insert(device.clone(), index);
        }
        for gone in known.keys().filter(|d| !seen.contains_key(*d)) {
            crate::paths::kept::forget(&dir.join(gone));
        }
        known.clone_from(&seen);
        drop(known);
        let mut families: Vec<Family> = PROPERTIES
            .iter()
            .map(|(_, suffix, counter, _)| {
                let name = format!("node_network_{suffix}");
                let help = format!("Network device property: {suffix}");
                if *counter {
                    Family::counter(name, help)
                } else {
                    Family::gauge(name, help)
                }
            })
            .collect();
        let mut speed = Family::gauge(
            "node_network_speed_bytes",
            "Network device property: speed_bytes",
        );
        let mut up = Family::gauge(
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
        );
        let mut info = Family::gauge(
            "node_network_info",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        );
        for device in &devices {
            let base = dir.join(device);
            // A device that goes away mid-scrape just has fewer series.
            let file = |name: &str| crate::paths::read_text_renamable(base.join(name)).ok();
            let labels = [("device", device.as_str())];
            let mut flags = None;
            for ((name, _, _, hex), family) in PROPERTIES.iter().zip(families.iter_mut()) {
                let text = match *name {
                    // Read above, through the name.
                    "ifindex" => seen.get(device).cloned(),
                    _ => file(name),
                };
                if let Some(v) = text.and_then(|t| parse(&t, *hex)) {
                    if *name == "flags" {
                        flags = Some(v as u64);
                    }
                    family.add(&labels, v);
                }
            }
            if let Some(s) = file("speed").and_then(|t| parse(&t, false)) {
                if s >= 0.0 || !self.ignore_invalid_speed {
                    // Mbit/s to bytes per second.
                    speed.add(&labels, s * 1_000_000.0 / 8.0);
                }
            }
            let operstate = file("operstate").map(|s| s.trim().to_owned());
            if let Some(state) = &operstate {
                up.add(&labels, if state == "up" { 1.0 } else { 0.0 });
            }
            let text = |name: &str| file(name).map(|s| s.trim().to_owned()).unwrap_or_default();
            let adminstate = match flags {
                Some(f) if f & IFF_UP != 0 => "up",
                Some(_) => "down",
                None => "",
            };
            info.add(
                &[
                    ("address", &text("address")),
                    ("adminstate", adminstate),
                    ("broadcast", &text("broadcast")),
                    ("device", device),
                    ("duplex", &text("duplex")),
                    ("ifalias", &text("ifalias")),
                    ("operstate", operstate.as_deref().unwrap_or_default()),
                ],
                1.0,
            );
        }
        families.push(info);
        families.push(speed);
        families.push(up);
        Ok(families)
    }
}
