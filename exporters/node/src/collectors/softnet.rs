//! `softnet`: per-CPU packet processing from /proc/net/softnet_stat (one line
//! per online CPU, hexadecimal columns; column 12 is the CPU's index on
//! kernels that write it, else the line number is).

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{read, HostPaths};

/// `--collector.softnet`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "softnet",
    "per-CPU packet processing (/proc/net/softnet_stat)",
    |c| {
        crate::paths::reader(
            &c.paths,
            SoftnetCollector {
                paths: c.paths.clone(),
            },
        )
    },
);

pub struct SoftnetCollector {
    paths: Arc<HostPaths>,
}

/// (column, name, help, counter?)
const COLUMNS: &[(usize, &str, &str, bool)] = &[
    (0, "processed_total", "Number of processed packets", true),
    (1, "dropped_total", "Number of dropped packets", true),
    (
        2,
        "times_squeezed_total",
        "Number of times processing packets ran out of quota",
        true,
    ),
    (
        8,
        "cpu_collision_total",
        "Number of collision occur while obtaining device lock while transmitting",
        true,
    ),
    (
        9,
        "received_rps_total",
        "Number of times cpu woken up received_rps",
        true,
    ),
    (
        10,
        "flow_limit_count_total",
        "Number of times flow limit has been reached",
        true,
    ),
    (11, "backlog_len", "Softnet backlog status", false),
];

/// Index of the CPU a line is about, where the kernel writes it.
const CPU_INDEX: usize = 12;

impl BlockingCollector for SoftnetCollector {
    fn name(&self) -> &'static str {
        "softnet"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let text = read(&self.paths.proc("net/softnet_stat"))?;
        let mut families: Vec<Family> = COLUMNS
            .iter()
            .map(|(_, name, help, counter)| {
                let name = format!("node_softnet_{name}");
                if *counter {
                    Family::counter(name, *help)
                } else {
                    Family::gauge(name, *help)
                }
            })
            .collect();
        for (line_no, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            let values: Vec<u64> = line
                .split_ascii_whitespace()
                .map(|v| u64::from_str_radix(v, 16))
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    CollectError::parse(format!("softnet_stat: {line:?} is not hexadecimal"))
                })?;
            if values.len() < 3 {
                return Err(CollectError::parse(format!(
                    "softnet_stat: {} columns in {line:?}",
                    values.len()
                )));
            }
            let cpu = values
                .get(CPU_INDEX)
                .map_or(line_no as u64, |v| *v)
                .to_string();
            for ((column, ..), family) in COLUMNS.iter().zip(families.iter_mut()) {
                if let Some(v) = values.get(*column) {
                    family.add(&[("cpu", &cpu)], *v as f64);
                }
            }
        }
        Ok(families)
    }
}
