//! `tapestats`: I/O statistics of SCSI tape drives
//! (/sys/class/scsi_tape/stN/stats), as the kernel's st driver documents them.

use std::sync::Arc;

use crate::filter::Regex;
use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{Blocking, BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{attr_number, entries, HostPaths};

/// `--collector.tapestats`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "tapestats",
    "SCSI tape drive statistics (/sys/class/scsi_tape)",
    |c| {
        Arc::new(Blocking::new(TapestatsCollector {
            paths: c.paths.clone(),
            ignored: c.cli.tapestats.ignored_devices.clone(),
        }))
    },
);

/// This collector's own flags (node_exporter's names).
#[derive(Debug, Clone, clap::Args)]
pub struct TapestatsArgs {
    /// Tape devices to leave out (regular expression).
    #[arg(id = "collector.tapestats.ignored-devices", long = "collector.tapestats.ignored-devices", env = "SIDEWATCH_COLLECTOR_TAPESTATS_IGNORED_DEVICES", default_value = "^$", value_parser = crate::config::parse_regex, value_name = "REGEX")]
    pub ignored_devices: Regex,
}

pub struct TapestatsCollector {
    paths: Arc<HostPaths>,
    ignored: Regex,
}

/// (stats file, metric, help, scale, counter?)
const STATS: &[(&str, &str, &str, f64, bool)] = &[
    ("in_flight", "io_now", "The number of I/Os currently outstanding to this device.", 1.0, false),
    ("io_ns", "io_time_seconds_total", "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape movement commands such as seeking between file or set marks and implicit tape movement such as when rewind on close tape devices are used.", 1e-9, true),
    ("other_cnt", "io_others_total", "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-write_time_seconds_total", 1.0, true),
    ("read_byte_cnt", "read_bytes_total", "The number of bytes read from the tape drive.", 1.0, true),
    ("read_cnt", "reads_completed_total", "The number of read requests issued to the tape drive.", 1.0, true),
    ("read_ns", "read_time_seconds_total", "The amount of time spent waiting for read requests to complete.", 1e-9, true),
    ("resid_cnt", "residual_total", "The number of times during a read or write we found the residual amount to be non-zero. This should mean that a program is issuing a read larger thean the block size on tape. For write not all data made it to tape.", 1.0, true),
    ("write_byte_cnt", "written_bytes_total", "The number of bytes written to the tape drive.", 1.0, true),
    ("write_cnt", "writes_completed_total", "The number of write requests issued to the tape drive.", 1.0, true),
    ("write_ns", "write_time_seconds_total", "The amount of time spent waiting for write requests to complete.", 1e-9, true),
];

impl BlockingCollector for TapestatsCollector {
    fn nothing_to_block_on(&self) -> bool {
        crate::paths::absent_or_empty(&self.paths, "class/scsi_tape")
    }

    fn name(&self) -> &'static str {
        "tapestats"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let mut out: Vec<Family> = STATS
            .iter()
            .map(|(_, name, help, _, counter)| {
                let name = format!("node_tape_{name}");
                if *counter {
                    Family::counter(name, *help)
                } else {
                    Family::gauge(name, *help)
                }
            })
            .collect();
        // st0, st1, ...: the rewinding devices; nst0 and st0a are the same drives.
        for (name, dir) in entries(&self.paths.sys("class/scsi_tape"), "st") {
            if !name[2..].bytes().all(|b| b.is_ascii_digit())
                || name.len() == 2
                || self.ignored.is_match(&name)
            {
                continue;
            }
            let stats = dir.join("stats");
            for ((file, _, _, scale, _), family) in STATS.iter().zip(out.iter_mut()) {
                if let Some(v) = attr_number(&stats, file) {
                    family.add(&[("device", &name)], v * scale);
                }
            }
        }
        Ok(out)
    }
}
