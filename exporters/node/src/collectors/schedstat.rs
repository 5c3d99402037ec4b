//! `schedstat`: per-CPU scheduler time from /proc/schedstat (kernels built
//! with CONFIG_SCHEDSTATS; nothing, and success, without it).

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::HostPaths;

/// `--collector.schedstat`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "schedstat",
    "scheduler time per CPU (/proc/schedstat)",
    |c| {
        crate::paths::reader(
            &c.paths,
            SchedstatCollector {
                paths: c.paths.clone(),
            },
        )
    },
);

pub struct SchedstatCollector {
    paths: Arc<HostPaths>,
}

impl SchedstatCollector {
    pub fn new(paths: Arc<HostPaths>) -> Self {
        Self { paths }
    }
}

impl BlockingCollector for SchedstatCollector {
    fn name(&self) -> &'static str {
        "schedstat"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let path = self.paths.proc("schedstat");
        match crate::paths::read_text(&path) {
            Ok(text) => parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(CollectError::io(path.display().to_string(), e)),
        }
    }
}

/// The `cpuN` lines: fields 7, 8 and 9 after the name are the time spent
/// running and waiting (ns) and the timeslices run (Documentation/scheduler/sched-stats).
pub fn parse(text: &str) -> CollectResult {
    let c =
        |name: &str, help: &'static str| Family::counter(format!("node_schedstat_{name}"), help);
    let mut running = c(
        "running_seconds_total",
        "Number of seconds CPU spent running a process.",
    );
    let mut waiting = c(
        "waiting_seconds_total",
        "Number of seconds spent by processing waiting for this CPU.",
    );
    let mut slices = c("timeslices_total", "Number of timeslices executed by CPU.");
    for line in text.lines() {
        let mut f = line.split_ascii_whitespace();
        let Some(cpu) = f.next().and_then(|n| n.strip_prefix("cpu")) else {
            continue;
        };
        let nums: Vec<f64> = f
            .map(|v| v.parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| CollectError::parse(format!("schedstat: not a number in {line:?}")))?;
        let (Some(run), Some(wait), Some(ts)) = (nums.get(6), nums.get(7), nums.get(8)) else {
            return Err(CollectError::parse(format!(
                "schedstat: fewer than 9 fields in {line:?}"
            )));
        };
        let l = [("cpu", cpu)];
        running.add(&l, run / 1e9);
        waiting.add(&l, wait / 1e9);
        slices.add(&l, *ts);
    }
    Ok(vec![running, waiting, slices])
}
