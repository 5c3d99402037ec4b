//! `kernel_hung`: tasks the kernel's hung-task detector has reported since
//! boot (/proc/sys/kernel/hung_task_detect_count, Linux 6.10+; nothing, and
//! success, on kernels without it).

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{number, HostPaths};

/// `--collector.kernel_hung`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "kernel_hung",
    "hung tasks detected (/proc/sys/kernel/hung_task_detect_count)",
    |c| {
        crate::paths::reader(
            &c.paths,
            KernelHungCollector {
                paths: c.paths.clone(),
            },
        )
    },
);

pub struct KernelHungCollector {
    paths: Arc<HostPaths>,
}

impl BlockingCollector for KernelHungCollector {
    fn name(&self) -> &'static str {
        "kernel_hung"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let Ok(text) =
            crate::paths::read_text(self.paths.proc("sys/kernel/hung_task_detect_count"))
        else {
            return Ok(Vec::new());
        };
        Ok(vec![Family::counter(
            "node_kernel_hung_tasks_total",
            "Total number of tasks that have been detected as hung since the system booted.",
        )
        .with(&[], number(&text, "hung_task_detect_count")?)])
    }
}
