//! `netdev`: per-interface traffic counters from /proc/net/dev.

use std::sync::Arc;

use crate::filter::Regex;
use sidewatch_common::{BlockingCollector, CollectResult, Family};

use crate::paths::{parse_with, HostPaths};
use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// `--collector.netdev`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "netdev",
    "network interface counters (/proc/net/dev)",
    |c| {
        crate::paths::reader(
            &c.paths,
            NetdevCollector::new(
                c.paths.clone(),
                c.cli.netdev.device_include.clone(),
                c.cli.netdev.device_exclude.clone(),
            ),
        )
    },
);

/// This collector's own flags.
#[derive(Debug, Clone, clap::Args)]
pub struct NetdevArgs {
    /// Network devices to include (regular expression); all when unset.
    #[arg(id = "collector.netdev.device-include", long = "collector.netdev.device-include", env = "SIDEWATCH_COLLECTOR_NETDEV_DEVICE_INCLUDE", value_parser = crate::config::parse_regex, value_name = "REGEX")]
    pub device_include: Option<Regex>,

    /// Network devices to exclude (regular expression).
    #[arg(id = "collector.netdev.device-exclude", long = "collector.netdev.device-exclude", env = "SIDEWATCH_COLLECTOR_NETDEV_DEVICE_EXCLUDE", value_parser = crate::config::parse_regex, value_name = "REGEX")]
    pub device_exclude: Option<Regex>,
}

pub struct NetdevCollector {
    paths: Arc<HostPaths>,
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl NetdevCollector {
    pub fn new(paths: Arc<HostPaths>, include: Option<Regex>, exclude: Option<Regex>) -> Self {
        Self {
            paths,
            include,
            exclude,
        }
    }
}

impl BlockingCollector for NetdevCollector {
    fn name(&self) -> &'static str {
        "netdev"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let status: procfs::net::InterfaceDeviceStatus = parse_with(&self.paths.proc("net/dev"))?;
        let mut devices: Vec<&procfs::net::DeviceStatus> = status
            .0
            .values()
            .filter(|d| self.include.as_ref().is_none_or(|r| r.is_match(&d.name)))
            .filter(|d| !self.exclude.as_ref().is_some_and(|r| r.is_match(&d.name)))
            .collect();
        devices.sort_by(|a, b| a.name.cmp(&b.name));
        type Field = fn(&procfs::net::DeviceStatus) -> u64;
        let fields: [(&str, Field); 16] = [
            ("receive_bytes", |d| d.recv_bytes),
            ("receive_packets", |d| d.recv_packets),
            ("receive_errs", |d| d.recv_errs),
            ("receive_drop", |d| d.recv_drop),
            ("receive_fifo", |d| d.recv_fifo),
            ("receive_frame", |d| d.recv_frame),
            ("receive_compressed", |d| d.recv_compressed),
            ("receive_multicast", |d| d.recv_multicast),
            ("transmit_bytes", |d| d.sent_bytes),
            ("transmit_packets", |d| d.sent_packets),
            ("transmit_errs", |d| d.sent_errs),
            ("transmit_drop", |d| d.sent_drop),
            ("transmit_fifo", |d| d.sent_fifo),
            ("transmit_colls", |d| d.sent_colls),
            ("transmit_carrier", |d| d.sent_carrier),
            ("transmit_compressed", |d| d.sent_compressed),
        ];
        let mut out: Vec<Family> = fields
            .iter()
            .map(|(field, get)| {
                let mut f = Family::counter(
                    sidewatch_common::intern_fmt(format_args!("node_network_{field}_total")),
                    sidewatch_common::intern_fmt(format_args!("Network device statistic {field}.")),
                );
                for d in &devices {
                    f.add(&[("device", d.name.as_str())], get(d) as f64);
                }
                f
            })
            .collect();
        // Packets dropped for want of a protocol handler: not a column of
        // /proc/net/dev, but in each device's sysfs statistics (Linux 4.6+),
        // as node_exporter's netlink mode reports it.
        let mut nohandler = Family::counter(
            "node_network_receive_nohandler_total",
            "Network device statistic receive_nohandler.",
        );
        for d in &devices {
            let stats = self.paths.sys(&format!("class/net/{}/statistics", d.name));
            if let Some(v) = crate::paths::attr_number(&stats, "rx_nohandler") {
                nohandler.add(&[("device", d.name.as_str())], v);
            }
        }
        out.push(nohandler);
        Ok(out)
    }
}
