//! `cpufreq`: each CPU's clock from /sys/devices/system/cpu/cpuN/cpufreq
//! (kHz there, Hz here) and its frequency governor.

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{Blocking, BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{attr, attr_number, entries, HostPaths};

/// `--collector.cpufreq`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "cpufreq",
    "CPU frequencies and governors (/sys/devices/system/cpu/*/cpufreq)",
    |c| {
        Arc::new(Blocking::new(CpufreqCollector {
            paths: c.paths.clone(),
            // With --collector.cpu.info the cpu collector names
            // node_cpu_frequency_hertz (from /proc/cpuinfo, other labels):
            // one family of a name, so cpufreq leaves cpuinfo_cur_freq out.
            current_from_cpuinfo: c.cli.cpu.info,
        }))
    },
);

pub struct CpufreqCollector {
    paths: Arc<HostPaths>,
    current_from_cpuinfo: bool,
}

/// (file, metric, help); the cpuinfo_* files are the hardware's, the
/// scaling_* ones the governor's.
const FREQUENCIES: &[(&str, &str, &str)] = &[
    (
        "cpuinfo_cur_freq",
        "node_cpu_frequency_hertz",
        "Current CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_max_freq",
        "node_cpu_frequency_max_hertz",
        "Maximum CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_min_freq",
        "node_cpu_frequency_min_hertz",
        "Minimum CPU thread frequency in hertz.",
    ),
    (
        "scaling_cur_freq",
        "node_cpu_scaling_frequency_hertz",
        "Current scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_max_freq",
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_min_freq",
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
];

impl BlockingCollector for CpufreqCollector {
    fn nothing_to_block_on(&self) -> bool {
        // No CPU with a cpufreq directory (no driver, as in most VMs).
        self.paths.kernel
            && entries(&self.paths.sys("devices/system/cpu"), "cpu")
                .iter()
                .all(|(_, path)| !path.join("cpufreq").exists())
    }

    fn name(&self) -> &'static str {
        "cpufreq"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let mut out: Vec<Family> = FREQUENCIES
            .iter()
            .map(|(_, name, help)| Family::gauge(*name, *help))
            .collect();
        let mut governor = Family::gauge(
            "node_cpu_scaling_governor",
            "Current enabled CPU frequency governor.",
        );
        let mut cpus: Vec<(u32, std::path::PathBuf)> =
            entries(&self.paths.sys("devices/system/cpu"), "cpu")
                .into_iter()
                .filter_map(|(name, path)| {
                    Some((
                        name.strip_prefix("cpu")?.parse().ok()?,
                        path.join("cpufreq"),
                    ))
                })
                .filter(|(_, dir)| dir.is_dir())
                .collect();
        cpus.sort();
        for (n, dir) in cpus {
            let cpu = n.to_string();
            for ((file, _, _), family) in FREQUENCIES.iter().zip(out.iter_mut()) {
                // cpuinfo_cur_freq is readable by root only.
                if let Some(khz) = attr_number(&dir, file) {
                    family.add(&[("cpu", &cpu)], khz * 1000.0);
                }
            }
            if let Some(current) = attr(&dir, "scaling_governor").filter(|g| !g.is_empty()) {
                let available = attr(&dir, "scaling_available_governors").unwrap_or_default();
                for g in available.split(' ') {
                    governor.add(
                        &[("cpu", &cpu), ("governor", g)],
                        if g == current { 1.0 } else { 0.0 },
                    );
                }
            }
        }
        out.push(governor);
        if self.current_from_cpuinfo {
            out.retain(|f| f.name != "node_cpu_frequency_hertz");
        }
        Ok(out)
    }
}
