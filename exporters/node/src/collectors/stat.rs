//! `stat`: boot time, context switches, forks, interrupts, process states.

use std::sync::Arc;

use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::paths::{number_of, read, HostPaths};
use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// `--collector.stat`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "stat",
    "boot time, context switches, forks, interrupts (/proc/stat)",
    |c| crate::paths::reader(&c.paths, StatCollector::new(c.paths.clone())),
);

pub struct StatCollector {
    paths: Arc<HostPaths>,
}

impl StatCollector {
    pub fn new(paths: Arc<HostPaths>) -> Self {
        Self { paths }
    }
}

impl BlockingCollector for StatCollector {
    fn name(&self) -> &'static str {
        "stat"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        parse(&read(&self.paths.proc("stat"))?)
    }
}

pub fn parse(text: &str) -> CollectResult {
    let field = |key: &str| -> Result<f64, CollectError> {
        let line = text
            .lines()
            .find(|l| l.split_ascii_whitespace().next() == Some(key))
            .ok_or_else(|| CollectError::parse(format!("/proc/stat: no {key} line")))?;
        let value = line.split_ascii_whitespace().nth(1).unwrap_or_default();
        number_of(value, || format!("/proc/stat {key}"))
    };
    Ok(vec![
        Family::gauge("node_boot_time_seconds", "Node boot time, in unixtime.")
            .with(&[], field("btime")?),
        Family::counter(
            "node_context_switches_total",
            "Total number of context switches.",
        )
        .with(&[], field("ctxt")?),
        Family::counter("node_forks_total", "Total number of forks.")
            .with(&[], field("processes")?),
        Family::counter("node_intr_total", "Total number of interrupts serviced.")
            .with(&[], field("intr")?),
        Family::gauge(
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
        )
        .with(&[], field("procs_blocked")?),
        Family::gauge(
            "node_procs_running",
            "Number of processes in runnable state.",
        )
        .with(&[], field("procs_running")?),
    ])
}
