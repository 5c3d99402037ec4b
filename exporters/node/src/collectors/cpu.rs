//! `cpu`: per-CPU time by mode from /proc/stat.

use std::sync::Arc;

use sidewatch_common::{BlockingCollector, CollectResult, Family};

use crate::paths::{number, read, HostPaths};
use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::Blocking;

use crate::config::NodeConfig;

/// `--collector.cpu`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("cpu", "seconds per CPU and mode (/proc/stat)", |c| {
        Arc::new(Blocking::new(CpuCollector::new(c.paths.clone())))
    });

pub struct CpuCollector {
    paths: Arc<HostPaths>,
}

impl CpuCollector {
    pub fn new(paths: Arc<HostPaths>) -> Self {
        Self { paths }
    }
}

const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

impl BlockingCollector for CpuCollector {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let text = read(&self.paths.proc("stat"))?;
        parse(&text, procfs::ticks_per_second() as f64)
    }
}

/// Parses the `cpuN` lines; times are in clock ticks.
pub fn parse(text: &str, ticks_per_second: f64) -> CollectResult {
    let mut seconds = Family::counter(
        "node_cpu_seconds_total",
        "Seconds the CPUs spent in each mode.",
    );
    let mut guest = Family::counter(
        "node_cpu_guest_seconds_total",
        "Seconds the CPUs spent in guests (VMs) for each mode.",
    );
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(cpu) = fields.next().and_then(|f| f.strip_prefix("cpu")) else {
            continue;
        };
        if cpu.is_empty() {
            continue; // the aggregate line
        }
        let values: Vec<f64> = fields
            .map(|v| number(v, "/proc/stat cpu time"))
            .collect::<Result<_, _>>()?;
        for (mode, ticks) in MODES.iter().zip(&values) {
            seconds.add(&[("cpu", cpu), ("mode", mode)], ticks / ticks_per_second);
        }
        if values.len() >= 10 {
            guest.add(
                &[("cpu", cpu), ("mode", "user")],
                values[8] / ticks_per_second,
            );
            guest.add(
                &[("cpu", cpu), ("mode", "nice")],
                values[9] / ticks_per_second,
            );
        }
    }
    Ok(vec![seconds, guest])
}
