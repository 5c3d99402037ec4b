//! `diskstats`: block device I/O from /proc/diskstats, plus `node_disk_info`
//! from udev's database.

use std::sync::Arc;

use regex::Regex;
use sidewatch_common::{BlockingCollector, CollectResult, Family};

use crate::paths::{parse_with, HostPaths};
use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::Blocking;

use crate::config::NodeConfig;

/// `--collector.diskstats`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("diskstats", "block device I/O (/proc/diskstats)", |c| {
        Arc::new(Blocking::new(DiskstatsCollector::new(
            c.paths.clone(),
            c.cli.diskstats.device_exclude.clone(),
        )))
    });

/// This collector's own flags.
#[derive(Debug, Clone, clap::Args)]
pub struct DiskstatsArgs {
    /// Block devices to ignore (regular expression).
    #[arg(
        id = "collector.diskstats.device-exclude", long = "collector.diskstats.device-exclude",
        env = "SIDEWATCH_COLLECTOR_DISKSTATS_DEVICE_EXCLUDE",
        default_value = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$",
        value_parser = crate::config::parse_regex,
        value_name = "REGEX"
    )]
    pub device_exclude: Regex,
}

/// Bytes per sector in /proc/diskstats, whatever the device's own sector size.
const SECTOR_BYTES: f64 = 512.0;

pub struct DiskstatsCollector {
    paths: Arc<HostPaths>,
    device_exclude: Regex,
}

impl DiskstatsCollector {
    pub fn new(paths: Arc<HostPaths>, device_exclude: Regex) -> Self {
        Self {
            paths,
            device_exclude,
        }
    }
}

impl BlockingCollector for DiskstatsCollector {
    fn name(&self) -> &'static str {
        "diskstats"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let stats: procfs::DiskStats = parse_with(&self.paths.proc("diskstats"))?;
        Ok(families(&stats.0, &self.device_exclude, &self.paths))
    }
}

fn families(stats: &[procfs::DiskStat], exclude: &Regex, paths: &HostPaths) -> Vec<Family> {
    let c = |name: &str, help: &str| Family::counter(format!("node_disk_{name}"), help);
    let mut reads = c(
        "reads_completed_total",
        "The total number of reads completed successfully.",
    );
    let mut reads_merged = c("reads_merged_total", "The total number of reads merged.");
    let mut read_bytes = c(
        "read_bytes_total",
        "The total number of bytes read successfully.",
    );
    let mut read_time = c(
        "read_time_seconds_total",
        "The total number of seconds spent by all reads.",
    );
    let mut writes = c(
        "writes_completed_total",
        "The total number of writes completed successfully.",
    );
    let mut writes_merged = c("writes_merged_total", "The number of writes merged.");
    let mut written = c(
        "written_bytes_total",
        "The total number of bytes written successfully.",
    );
    let mut write_time = c(
        "write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
    );
    let mut io_now = Family::gauge(
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
    );
    let mut io_time = c("io_time_seconds_total", "Total seconds spent doing I/Os.");
    let mut io_weighted = c(
        "io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
    );
    let mut discards = c(
        "discards_completed_total",
        "The total number of discards completed successfully.",
    );
    let mut discards_merged = c(
        "discards_merged_total",
        "The total number of discards merged.",
    );
    let mut discarded = c(
        "discarded_sectors_total",
        "The total number of sectors discarded successfully.",
    );
    let mut discard_time = c(
        "discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
    );
    let mut flushes = c(
        "flush_requests_total",
        "The total number of flush requests completed successfully",
    );
    let mut flush_time = c(
        "flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
    );
    let mut info = Family::gauge("node_disk_info", "Info of /sys/block/<block_device>.");
    for d in stats.iter().filter(|d| !exclude.is_match(&d.name)) {
        let l = [("device", d.name.as_str())];
        reads.add(&l, d.reads as f64);
        reads_merged.add(&l, d.merged as f64);
        read_bytes.add(&l, d.sectors_read as f64 * SECTOR_BYTES);
        read_time.add(&l, d.time_reading as f64 / 1000.0);
        writes.add(&l, d.writes as f64);
        writes_merged.add(&l, d.writes_merged as f64);
        written.add(&l, d.sectors_written as f64 * SECTOR_BYTES);
        write_time.add(&l, d.time_writing as f64 / 1000.0);
        io_now.add(&l, d.in_progress as f64);
        io_time.add(&l, d.time_in_progress as f64 / 1000.0);
        io_weighted.add(&l, d.weighted_time_in_progress as f64 / 1000.0);
        if let (Some(n), Some(m), Some(s), Some(t)) = (
            d.discards,
            d.discards_merged,
            d.sectors_discarded,
            d.time_discarding,
        ) {
            discards.add(&l, n as f64);
            discards_merged.add(&l, m as f64);
            discarded.add(&l, s as f64);
            discard_time.add(&l, t as f64 / 1000.0);
        }
        if let (Some(n), Some(t)) = (d.flushes, d.time_flushing) {
            flushes.add(&l, n as f64);
            flush_time.add(&l, t as f64 / 1000.0);
        }
        let udev = udev_properties(paths, d.major, d.minor);
        let prop = |k: &str| {
            udev.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let (major, minor) = (d.major.to_string(), d.minor.to_string());
        let rotational =
            std::fs::read_to_string(paths.sys(&format!("block/{}/queue/rotational", d.name)))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default();
        info.add(
            &[
                ("device", d.name.as_str()),
                ("major", &major),
                ("minor", &minor),
                ("path", prop("ID_PATH")),
                ("wwn", prop("ID_WWN")),
                ("model", prop("ID_MODEL")),
                ("serial", prop("ID_SERIAL_SHORT")),
                ("revision", prop("ID_REVISION")),
                ("rotational", &rotational),
            ],
            1.0,
        );
    }
    vec![
        info,
        reads,
        reads_merged,
        read_bytes,
        read_time,
        writes,
        writes_merged,
        written,
        write_time,
        io_now,
        io_time,
        io_weighted,
        discards,
        discards_merged,
        discarded,
        discard_time,
        flushes,
        flush_time,
    ]
}

/// `E:KEY=value` lines of udev's record for a block device; none if absent.
fn udev_properties(paths: &HostPaths, major: i32, minor: i32) -> Vec<(String, String)> {
    let file = paths.udev_data.join(format!("b{major}:{minor}"));
    std::fs::read_to_string(file)
        .map(|text| {
            text.lines()
                .filter_map(|l| l.strip_prefix("E:"))
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}
