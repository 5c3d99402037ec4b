//! sidewatch-node: host metrics from /proc and /sys under node_exporter's names.
//!
//! Metric families (collector → families):
//! - cpu: `node_cpu_seconds_total{cpu,mode}`, `node_cpu_guest_seconds_total{cpu,mode}`
//! - diskstats: `node_disk_*_total{device}`, `node_disk_io_now{device}`, `node_disk_info{...}`
//! - filefd: `node_filefd_allocated`, `node_filefd_maximum`
//! - filesystem: `node_filesystem_{size,free,avail}_bytes`, `_files`, `_files_free`,
//!   `_readonly`, `_device_error` `{device,fstype,mountpoint}`
//! - loadavg: `node_load1`, `node_load5`, `node_load15`
//! - meminfo: `node_memory_<Field>_bytes` (and unitless `node_memory_HugePages_*`)
//! - netdev: `node_network_{receive,transmit}_<field>_total{device}`
//! - netstat: `node_netstat_<Proto>_<Field>` (untyped)
//! - os: `node_os_info{...}`, `node_os_version{id,id_like,name}`
//! - pressure: `node_pressure_{cpu_waiting,io_waiting,io_stalled,memory_waiting,memory_stalled}_seconds_total`
//! - sockstat: `node_sockstat_<PROTO>_<state>`
//! - stat: `node_boot_time_seconds`, `node_context_switches_total`, `node_forks_total`,
//!   `node_intr_total`, `node_procs_blocked`, `node_procs_running`
//! - time: `node_time_seconds`, `node_time_zone_offset_seconds{time_zone}`,
//!   `node_time_clocksource_{available,current}_info{clocksource,device}`
//! - uname: `node_uname_info{domainname,machine,nodename,release,sysname,version}`
//! - vmstat: `node_vmstat_<field>` (untyped)
//!
//! and from the engine: `node_up`, `node_scrape_collector_{duration_seconds,success}{collector}`,
//! `node_scrape_collector_dropped_series_total{collector}`, `sidewatch_build_info`, `process_*`.
#![forbid(unsafe_code)]

pub mod collectors;
pub mod config;
pub mod filter;
pub mod paths;

use std::sync::Arc;

use futures_probe::ProcfsProbe;
use sidewatch_common::{Collector, ExporterInfo, ScrapeEngine};

use crate::config::NodeConfig;

pub const INFO: ExporterInfo = ExporterInfo {
    namespace: "node",
    exporter: "node",
    version: env!("CARGO_PKG_VERSION"),
    peer_self_metrics: None,
};

/// Builds the enabled collectors, from their declarations.
pub fn build_collectors(config: &NodeConfig) -> Vec<Arc<dyn Collector>> {
    sidewatch_common::collector::build_enabled(collectors::ALL, &config.collectors, config)
}

/// The scrape engine for a validated config.
pub fn build_engine(config: &NodeConfig) -> Arc<ScrapeEngine> {
    ScrapeEngine::new(
        INFO,
        config.cli.common.scrape.settings(),
        build_collectors(config),
        Some(Arc::new(ProcfsProbe(config.paths.clone()))),
    )
}

mod futures_probe {
    use std::sync::Arc;

    use futures::future::BoxFuture;
    use sidewatch_common::TargetProbe;

    use crate::paths::HostPaths;

    /// `node_up`: the host's procfs answers. On the kernel's own procfs
    /// ([`HostPaths::kernel`]) the stat is made on the runtime's thread, as
    /// the inline collectors' reads are; elsewhere on the pool.
    pub struct ProcfsProbe(pub Arc<HostPaths>);

    impl TargetProbe for ProcfsProbe {
        fn probe(&self, _deadline: tokio::time::Instant) -> BoxFuture<'_, bool> {
            let stat = self.0.proc("stat");
            let answers = move || std::fs::metadata(stat).is_ok();
            let inline = self.0.kernel;
            Box::pin(async move {
                if inline {
                    return answers();
                }
                tokio::task::spawn_blocking(answers).await.unwrap_or(false)
            })
        }
    }
}

impl sidewatch_common::exporter::Exporter for NodeConfig {
    const NAME: &'static str = "sidewatch-node";
    const DEFAULT_LISTEN: &'static str = ":9100";
    const STEADY_HEAP: bool = true;

    fn from_env() -> Result<Self, sidewatch_common::cli::StartError> {
        NodeConfig::from_args(std::env::args_os())
    }

    fn common(&self) -> &sidewatch_common::cli::CommonArgs {
        &self.cli.common
    }

    fn describe(&self) -> String {
        format!("{} collectors", self.collectors.len())
    }

    fn build(self) -> (Arc<ScrapeEngine>, sidewatch_common::http::HttpOptions) {
        (build_engine(&self), self.http)
    }
}
