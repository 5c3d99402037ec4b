//! `pressure`: pressure stall information from /proc/pressure.

use std::sync::Arc;

use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::paths::{number, read, HostPaths};
use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// `--collector.pressure`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "pressure",
    "pressure stall information (/proc/pressure)",
    |c| crate::paths::reader(&c.paths, PressureCollector::new(c.paths.clone())),
);

pub struct PressureCollector {
    paths: Arc<HostPaths>,
}

impl PressureCollector {
    pub fn new(paths: Arc<HostPaths>) -> Self {
        Self { paths }
    }
}

/// (resource, line kind, metric suffix, help)
const SERIES: [(&str, &str, &str, &str); 5] = [
    (
        "cpu",
        "some",
        "cpu_waiting",
        "Total time in seconds that processes have waited for CPU time",
    ),
    (
        "io",
        "some",
        "io_waiting",
        "Total time in seconds that processes have waited due to IO congestion",
    ),
    (
        "io",
        "full",
        "io_stalled",
        "Total time in seconds no process could make progress due to IO congestion",
    ),
    (
        "memory",
        "some",
        "memory_waiting",
        "Total time in seconds that processes have waited for memory",
    ),
    (
        "memory",
        "full",
        "memory_stalled",
        "Total time in seconds no process could make progress due to memory congestion",
    ),
];

impl BlockingCollector for PressureCollector {
    fn name(&self) -> &'static str {
        "pressure"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let mut out = Vec::new();
        for resource in ["cpu", "io", "memory"] {
            let text = read(&self.paths.proc(&format!("pressure/{resource}")))?;
            for (res, kind, suffix, help) in SERIES.iter().filter(|s| s.0 == resource) {
                let usec = total(&text, kind).ok_or_else(|| {
                    CollectError::parse(format!("pressure/{res}: no {kind} total"))
                })??;
                out.push(
                    Family::counter(format!("node_pressure_{suffix}_seconds_total"), *help)
                        .with(&[], usec / 1e6),
                );
            }
        }
        Ok(out)
    }
}

/// The `total=` microseconds of the `some` or `full` line.
fn total(text: &str, kind: &str) -> Option<Result<f64, CollectError>> {
    let line = text.lines().find(|l| l.starts_with(kind))?;
    let value = line
        .split_ascii_whitespace()
        .find_map(|f| f.strip_prefix("total="))?;
    Some(number(value, "pressure total"))
}
