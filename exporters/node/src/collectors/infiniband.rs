//! `infiniband`: InfiniBand (and RoCE) ports of /sys/class/infiniband:
//! state, rate and the port counters.

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{Blocking, BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{attr, attr_number, entries, HostPaths};

/// `--collector.infiniband`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "infiniband",
    "InfiniBand ports (/sys/class/infiniband)",
    |c| {
        Arc::new(Blocking::new(InfinibandCollector {
            paths: c.paths.clone(),
        }))
    },
);

pub struct InfinibandCollector {
    paths: Arc<HostPaths>,
}

/// (file under the port, metric suffix, multiplier, help); the *_data
/// counters count 4-octet words.
const COUNTERS: &[(&str, &str, f64, &str)] = &[
    ("counters_ext/port_multicast_rcv_packets", "legacy_multicast_packets_received_total", 1.0, "Number of multicast packets received"),
    ("counters_ext/port_multicast_xmit_packets", "legacy_multicast_packets_transmitted_total", 1.0, "Number of multicast packets transmitted"),
    ("counters_ext/port_rcv_data_64", "legacy_data_received_bytes_total", 4.0, "Number of data octets received on all links"),
    ("counters_ext/port_rcv_packets_64", "legacy_packets_received_total", 1.0, "Number of data packets received on all links"),
    ("counters_ext/port_unicast_rcv_packets", "legacy_unicast_packets_received_total", 1.0, "Number of unicast packets received"),
    ("counters_ext/port_unicast_xmit_packets", "legacy_unicast_packets_transmitted_total", 1.0, "Number of unicast packets transmitted"),
    ("counters_ext/port_xmit_data_64", "legacy_data_transmitted_bytes_total", 4.0, "Number of data octets transmitted on all links"),
    ("counters_ext/port_xmit_packets_64", "legacy_packets_transmitted_total", 1.0, "Number of data packets received on all links"),
    ("counters/link_downed", "link_downed_total", 1.0, "Number of times the link failed to recover from an error state and went down"),
    ("counters/link_error_recovery", "link_error_recovery_total", 1.0, "Number of times the link successfully recovered from an error state"),
    ("counters/multicast_rcv_packets", "multicast_packets_received_total", 1.0, "Number of multicast packets received (including errors)"),
    ("counters/multicast_xmit_packets", "multicast_packets_transmitted_total", 1.0, "Number of multicast packets transmitted (including errors)"),
    ("counters/port_rcv_constraint_errors", "port_constraint_errors_received_total", 1.0, "Number of packets received on the switch physical port that are discarded"),
    ("counters/port_xmit_constraint_errors", "port_constraint_errors_transmitted_total", 1.0, "Number of packets not transmitted from the switch physical port"),
    ("counters/port_rcv_data", "port_data_received_bytes_total", 4.0, "Number of data octets received on all links"),
    ("counters/port_xmit_data", "port_data_transmitted_bytes_total", 4.0, "Number of data octets transmitted on all links"),
    ("counters/port_rcv_discards", "port_discards_received_total", 1.0, "Number of inbound packets discarded by the port because the port is down or congested"),
    ("counters/port_xmit_discards", "port_discards_transmitted_total", 1.0, "Number of outbound packets discarded by the port because the port is down or congested"),
    ("counters/port_rcv_errors", "port_errors_received_total", 1.0, "Number of packets containing an error that were received on this port"),
    ("counters/port_rcv_packets", "port_packets_received_total", 1.0, "Number of packets received on all VLs by this port (including errors)"),
    ("counters/port_xmit_packets", "port_packets_transmitted_total", 1.0, "Number of packets transmitted on all VLs from this port (including errors)"),
    ("counters/port_xmit_wait", "port_transmit_wait_total", 1.0, "Number of ticks during which the port had data to transmit but no data was sent during the entire tick"),
    ("counters/unicast_rcv_packets", "unicast_packets_received_total", 1.0, "Number of unicast packets received (including errors)"),
    ("counters/unicast_xmit_packets", "unicast_packets_transmitted_total", 1.0, "Number of unicast packets transmitted (including errors)"),
];

/// `4: ACTIVE` → 4.
fn state_id(text: &str) -> Option<f64> {
    text.split(':').next()?.trim().parse().ok()
}

/// `100 Gb/sec (4X EDR)` → bytes per second.
fn rate(text: &str) -> Option<f64> {
    let gbit: f64 = text.split_ascii_whitespace().next()?.parse().ok()?;
    Some(gbit * 125_000_000.0)
}

impl BlockingCollector for InfinibandCollector {
    fn nothing_to_block_on(&self) -> bool {
        crate::paths::absent_or_empty(&self.paths, "class/infiniband")
    }

    fn name(&self) -> &'static str {
        "infiniband"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let g =
            |name: &str, help: &'static str| Family::gauge(format!("node_infiniband_{name}"), help);
        let mut state = g("state_id", "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)");
        let mut phys = g("physical_state_id", "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, 4: shift, 5: link up, 6: link error recover, 7: phytest)");
        let mut rates = g("rate_bytes_per_second", "Maximum signal transfer rate");
        let mut counters: Vec<Family> = COUNTERS
            .iter()
            .map(|(_, name, _, help)| Family::counter(format!("node_infiniband_{name}"), *help))
            .collect();
        for (device, dir) in entries(&self.paths.sys("class/infiniband"), "") {
            for (port, pdir) in entries(&dir.join("ports"), "") {
                let l = [("device", device.as_str()), ("port", port.as_str())];
                if let Some(v) = attr(&pdir, "state").as_deref().and_then(state_id) {
                    state.add(&l, v);
                }
                if let Some(v) = attr(&pdir, "phys_state").as_deref().and_then(state_id) {
                    phys.add(&l, v);
                }
                if let Some(v) = attr(&pdir, "rate").as_deref().and_then(rate) {
                    rates.add(&l, v);
                }
                for ((file, _, scale, _), family) in COUNTERS.iter().zip(counters.iter_mut()) {
                    if let Some(v) = attr_number(&pdir, file) {
                        family.add(&l, v * scale);
                    }
                }
            }
        }
        let mut out = vec![phys, rates, state];
        out.extend(counters);
        Ok(out)
    }
}
