//! `cpu`: per-CPU time by mode from /proc/stat.

use std::sync::Arc;

use sidewatch_common::{BlockingCollector, CollectResult, Family};

use crate::paths::{number, read, HostPaths};
use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// `--collector.cpu`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("cpu", "seconds per CPU and mode (/proc/stat)", |c| {
        let mut cpu = CpuCollector::new(c.paths.clone());
        cpu.info = c.cli.cpu.info.then(|| CpuInfoOptions {
            flags_include: c.cli.cpu.flags_include.clone(),
            bugs_include: c.cli.cpu.bugs_include.clone(),
        });
        crate::paths::reader(&c.paths, cpu)
    });

/// This collector's own flags (node_exporter's names).
#[derive(Debug, Clone, clap::Args)]
pub struct CpuArgs {
    /// Also node_cpu_info and node_cpu_frequency_hertz from /proc/cpuinfo.
    #[arg(
        id = "collector.cpu.info",
        long = "collector.cpu.info",
        env = "SIDEWATCH_COLLECTOR_CPU_INFO"
    )]
    pub info: bool,

    /// With --collector.cpu.info: node_cpu_flag_info for the first CPU's
    /// flags that match (regular expression).
    #[arg(id = "collector.cpu.info.flags-include", long = "collector.cpu.info.flags-include", env = "SIDEWATCH_COLLECTOR_CPU_INFO_FLAGS_INCLUDE", value_parser = crate::config::parse_regex, value_name = "REGEX")]
    pub flags_include: Option<crate::filter::Regex>,

    /// With --collector.cpu.info: node_cpu_bug_info for the first CPU's
    /// bugs that match (regular expression).
    #[arg(id = "collector.cpu.info.bugs-include", long = "collector.cpu.info.bugs-include", env = "SIDEWATCH_COLLECTOR_CPU_INFO_BUGS_INCLUDE", value_parser = crate::config::parse_regex, value_name = "REGEX")]
    pub bugs_include: Option<crate::filter::Regex>,
}

#[derive(Clone)]
pub struct CpuInfoOptions {
    pub flags_include: Option<crate::filter::Regex>,
    pub bugs_include: Option<crate::filter::Regex>,
}

pub struct CpuCollector {
    paths: Arc<HostPaths>,
    /// `--collector.cpu.info`.
    pub info: Option<CpuInfoOptions>,
}

impl CpuCollector {
    pub fn new(paths: Arc<HostPaths>) -> Self {
        Self { paths, info: None }
    }
}

/// node_cpu_info, node_cpu_frequency_hertz and the flag and bug families
/// from /proc/cpuinfo (x86's layout: one block per logical CPU).
pub fn cpuinfo(text: &str, options: &CpuInfoOptions) -> Vec<Family> {
    let mut info = Family::gauge("node_cpu_info", "CPU information from /proc/cpuinfo.");
    let mut freq = Family::gauge(
        "node_cpu_frequency_hertz",
        "CPU frequency in hertz from /proc/cpuinfo.",
    );
    let mut flag_info = Family::gauge(
        "node_cpu_flag_info",
        "The `flags` field of CPU information from /proc/cpuinfo taken from the first core.",
    );
    let mut bug_info = Family::gauge(
        "node_cpu_bug_info",
        "The `bugs` field of CPU information from /proc/cpuinfo taken from the first core.",
    );
    for (i, block) in text
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .enumerate()
    {
        let field = |name: &str| {
            block.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == name).then(|| v.trim())
            })
        };
        let Some(cpu) = field("processor") else {
            continue;
        };
        let package = field("physical id").unwrap_or("0");
        let core = field("core id").unwrap_or(cpu);
        info.add(
            &[
                ("cachesize", field("cache size").unwrap_or_default()),
                ("core", core),
                ("cpu", cpu),
                ("family", field("cpu family").unwrap_or_default()),
                ("microcode", field("microcode").unwrap_or_default()),
                ("model", field("model").unwrap_or_default()),
                ("model_name", field("model name").unwrap_or_default()),
                ("package", package),
                ("stepping", field("stepping").unwrap_or_default()),
                ("vendor", field("vendor_id").unwrap_or_default()),
            ],
            1.0,
        );
        if let Some(mhz) = field("cpu MHz").and_then(|v| v.parse::<f64>().ok()) {
            freq.add(
                &[("core", core), ("cpu", cpu), ("package", package)],
                mhz * 1e6,
            );
        }
        if i == 0 {
            for (family, key, include) in [
                (&mut flag_info, "flags", &options.flags_include),
                (&mut bug_info, "bugs", &options.bugs_include),
            ] {
                let (Some(include), Some(list)) = (include, field(key)) else {
                    continue;
                };
                let label = if key == "flags" { "flag" } else { "bug" };
                for item in list
                    .split_ascii_whitespace()
                    .filter(|f| include.is_match(f))
                {
                    family.add(&[(label, item)], 1.0);
                }
            }
        }
    }
    vec![info, freq, flag_info, bug_info]
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
        let mut families = parse(&text, procfs::ticks_per_second() as f64)?;
        if let Some(options) = &self.info {
            let text = read(&self.paths.proc("cpuinfo"))?;
            families.extend(cpuinfo(&text, options));
        }
        Ok(families)
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
        let mut fields = line.split_ascii_whitespace();
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
