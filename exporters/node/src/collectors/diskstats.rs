//! `diskstats`: block device I/O from /proc/diskstats, plus `node_disk_info`
//! from udev's database.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::filter::Regex;
use sidewatch_common::{BlockingCollector, CollectResult, Family};

use crate::paths::{parse_with, HostPaths};
use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// `--collector.diskstats`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("diskstats", "block device I/O (/proc/diskstats)", |c| {
        crate::paths::reader(
            &c.paths,
            DiskstatsCollector::new(c.paths.clone(), c.cli.diskstats.device_exclude.clone()),
        )
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
    /// `node_disk_info`'s labels per device, read once: udev's record is
    /// read again only when its file changes, `queue/rotational` never.
    info: Mutex<HashMap<(String, i32, i32), DiskInfo>>,
}

/// What `node_disk_info` says of a device, and the udev record's mtime it
/// was read at.
#[derive(Clone)]
struct DiskInfo {
    udev_mtime: Option<SystemTime>,
    labels: [String; 6],
}

impl DiskstatsCollector {
    pub fn new(paths: Arc<HostPaths>, device_exclude: Regex) -> Self {
        Self {
            paths,
            device_exclude,
            info: Mutex::new(HashMap::new()),
        }
    }
}

impl BlockingCollector for DiskstatsCollector {
    fn name(&self) -> &'static str {
        "diskstats"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let stats: procfs::DiskStats = parse_with(&self.paths.proc("diskstats"))?;
        let mut cache = self.info.lock().unwrap_or_else(|p| p.into_inner());
        Ok(families(
            &stats.0,
            &self.device_exclude,
            &self.paths,
            &mut cache,
        ))
    }
}

fn families(
    stats: &[procfs::DiskStat],
    exclude: &Regex,
    paths: &HostPaths,
    cache: &mut HashMap<(String, i32, i32), DiskInfo>,
) -> Vec<Family> {
    // Devices gone from /proc/diskstats leave the cache.
    cache.retain(|(name, major, minor), _| {
        stats
            .iter()
            .any(|d| &d.name == name && d.major == *major && d.minor == *minor)
    });
    let c = |name: &str, help: &'static str| Family::counter(format!("node_disk_{name}"), help);
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
        let (major, minor) = (d.major.to_string(), d.minor.to_string());
        let disk = disk_info(paths, d, cache);
        let [path, wwn, model, serial, revision, rotational] = &disk.labels;
        info.add(
            &[
                ("device", d.name.as_str()),
                ("major", &major),
                ("minor", &minor),
                ("path", path),
                ("wwn", wwn),
                ("model", model),
                ("serial", serial),
                ("revision", revision),
                ("rotational", rotational),
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

/// A device's `node_disk_info` labels, from the cache while its udev record
/// is unchanged.
fn disk_info<'a>(
    paths: &HostPaths,
    d: &procfs::DiskStat,
    cache: &'a mut HashMap<(String, i32, i32), DiskInfo>,
) -> &'a DiskInfo {
    let udev_file = paths.udev_data.join(format!("b{}:{}", d.major, d.minor));
    let udev_mtime = std::fs::metadata(&udev_file)
        .and_then(|m| m.modified())
        .ok();
    let read = |rotational: String| {
        let udev = udev_properties(paths, d.major, d.minor);
        let prop = |k: &str| {
            udev.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        DiskInfo {
            udev_mtime,
            labels: [
                prop("ID_PATH"),
                prop("ID_WWN"),
                prop("ID_MODEL"),
                prop("ID_SERIAL_SHORT"),
                prop("ID_REVISION"),
                rotational,
            ],
        }
    };
    match cache.entry((d.name.clone(), d.major, d.minor)) {
        Entry::Occupied(entry) => {
            let entry = entry.into_mut();
            if entry.udev_mtime != udev_mtime {
                *entry = read(std::mem::take(&mut entry.labels[5]));
            }
            entry
        }
        Entry::Vacant(entry) => {
            let rotational =
                crate::paths::read_text(paths.sys(&format!("block/{}/queue/rotational", d.name)))
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_default();
            entry.insert(read(rotational))
        }
    }
}

/// `E:KEY=value` lines of udev's record for a block device; none if absent.
fn udev_properties(paths: &HostPaths, major: i32, minor: i32) -> Vec<(String, String)> {
    let file = paths.udev_data.join(format!("b{major}:{minor}"));
    crate::paths::read_text(file)
        .map(|text| {
            text.lines()
                .filter_map(|l| l.strip_prefix("E:"))
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial_and_rotational(c: &DiskstatsCollector) -> (String, String) {
        let families = c
            .collect_blocking(&sidewatch_common::ScrapeContext::within(
                std::time::Duration::from_secs(5),
            ))
            .expect("collect");
        let info = families
            .iter()
            .find(|f| f.name == "node_disk_info")
            .and_then(|f| f.samples.first())
            .expect("node_disk_info");
        let label = |k: &str| {
            info.labels
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default()
        };
        (label("serial"), label("rotational"))
    }

    #[test]
    fn disk_info_is_read_once_and_again_when_udev_changes_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for sub in ["proc", "sys/block/vda/queue", "udev"] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        let write = |rel: &str, text: &str| std::fs::write(root.join(rel), text).expect("write");
        write(
            "proc/diskstats",
            " 254 0 vda 1 0 8 1 2 0 16 2 0 3 3 0 0 0 0 0 0\n",
        );
        write("sys/block/vda/queue/rotational", "1\n");
        write("udev/b254:0", "E:ID_SERIAL_SHORT=first\n");
        let paths = Arc::new(HostPaths {
            procfs: root.join("proc"),
            sysfs: root.join("sys"),
            rootfs: root.to_path_buf(),
            udev_data: root.join("udev"),
            kernel: false,
        });
        let c = DiskstatsCollector::new(paths, Regex::new("^$").expect("regex"));
        assert_eq!(serial_and_rotational(&c), ("first".into(), "1".into()));

        // rotational is read once; the udev record again when it changes.
        write("sys/block/vda/queue/rotational", "0\n");
        assert_eq!(serial_and_rotational(&c), ("first".into(), "1".into()));
        let file = std::fs::File::options()
            .write(true)
            .open(root.join("udev/b254:0"))
            .expect("open");
        std::io::Write::write_all(&mut &file, b"E:ID_SERIAL_SHORT=second\n").expect("write");
        file.set_modified(SystemTime::now() + std::time::Duration::from_secs(5))
            .expect("mtime");
        assert_eq!(serial_and_rotational(&c), ("second".into(), "1".into()));

        // A device that leaves diskstats leaves the cache: when it comes
        // back, everything is read afresh.
        write("proc/diskstats", "");
        c.collect_blocking(&sidewatch_common::ScrapeContext::within(
            std::time::Duration::from_secs(5),
        ))
        .expect("collect");
        assert!(c.info.lock().expect("lock").is_empty());
        write(
            "proc/diskstats",
            " 254 0 vda 1 0 8 1 2 0 16 2 0 3 3 0 0 0 0 0 0\n",
        );
        assert_eq!(serial_and_rotational(&c), ("second".into(), "0".into()));
    }
}
