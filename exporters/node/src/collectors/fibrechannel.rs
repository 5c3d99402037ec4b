//! `fibrechannel`: Fibre Channel host bus adapters of /sys/class/fc_host:
//! port identity and state, and the frame and error counters.

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{Blocking, BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{attr, entries, HostPaths};

/// `--collector.fibrechannel`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "fibrechannel",
    "Fibre Channel host adapters (/sys/class/fc_host)",
    |c| {
        Arc::new(Blocking::new(FibreChannelCollector {
            paths: c.paths.clone(),
        }))
    },
);

pub struct FibreChannelCollector {
    paths: Arc<HostPaths>,
}

/// (statistics file, metric suffix, help)
const COUNTERS: &[(&str, &str, &str)] = &[
    (
        "dumped_frames",
        "dumped_frames_total",
        "Number of dumped frames",
    ),
    (
        "error_frames",
        "error_frames_total",
        "Number of errors in frames",
    ),
    (
        "fcp_packet_aborts",
        "fcp_packet_aborts_total",
        "Number of aborted packets",
    ),
    (
        "invalid_crc_count",
        "invalid_crc_total",
        "Invalid Cyclic Redundancy Check count",
    ),
    (
        "invalid_tx_word_count",
        "invalid_tx_words_total",
        "Number of invalid words transmitted by host port",
    ),
    (
        "link_failure_count",
        "link_failure_total",
        "Number of times the host port link has failed",
    ),
    (
        "loss_of_signal_count",
        "loss_of_signal_total",
        "Number of times signal has been lost",
    ),
    (
        "loss_of_sync_count",
        "loss_of_sync_total",
        "Number of failures on either bit or transmission word boundaries",
    ),
    (
        "nos_count",
        "nos_total",
        "Number Not_Operational Primitive Sequence received by host port",
    ),
    ("rx_frames", "rx_frames_total", "Number of frames received"),
    (
        "rx_words",
        "rx_words_total",
        "Number of words received by host port",
    ),
    (
        "seconds_since_last_reset",
        "seconds_since_last_reset_total",
        "Number of seconds since last host port reset",
    ),
    (
        "tx_frames",
        "tx_frames_total",
        "Number of frames transmitted by host port",
    ),
    (
        "tx_words",
        "tx_words_total",
        "Number of words transmitted by host port",
    ),
];

/// The host attributes of `node_fibrechannel_info`, in label order.
const INFO: &[&str] = &[
    "dev_loss_tmo",
    "fabric_name",
    "port_id",
    "port_name",
    "port_state",
    "port_type",
    "speed",
    "supported_classes",
    "supported_speeds",
    "symbolic_name",
];

/// A counter as the HBA gives it (hexadecimal); all ones means the
/// firmware does not implement it.
fn counter(text: &str) -> Option<f64> {
    let v = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => text.parse().ok()?,
    };
    (v != u64::MAX).then_some(v as f64)
}

impl BlockingCollector for FibreChannelCollector {
    fn nothing_to_block_on(&self) -> bool {
        crate::paths::absent_or_empty(&self.paths, "class/fc_host")
    }

    fn name(&self) -> &'static str {
        "fibrechannel"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let mut out: Vec<Family> = COUNTERS
            .iter()
            .map(|(_, suffix, help)| Family::counter(format!("node_fibrechannel_{suffix}"), *help))
            .collect();
        let mut info = Family::gauge(
            "node_fibrechannel_info",
            "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
        );
        for (host, dir) in entries(&self.paths.sys("class/fc_host"), "host") {
            let values: Vec<String> = INFO
                .iter()
                .map(|f| attr(&dir, f).unwrap_or_default())
                .collect();
            let mut labels: Vec<(&'static str, &str)> = INFO
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            labels.push(("fc_host", &host));
            labels.sort();
            info.add(&labels, 1.0);
            let stats = dir.join("statistics");
            for ((file, _, _), family) in COUNTERS.iter().zip(out.iter_mut()) {
                if let Some(v) = attr(&stats, file).as_deref().and_then(counter) {
                    family.add(&[("fc_host", &host)], v);
                }
            }
        }
        out.push(info);
        Ok(out)
    }
}
