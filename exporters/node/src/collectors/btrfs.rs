//! `btrfs`: Btrfs filesystems from /sys/fs/btrfs/<uuid>: label, space
//! reserved, used and allocated per block group type and profile, commit
//! statistics and device sizes.
//!
//! Per-device error counters need the BTRFS_IOC_GET_DEV_STATS ioctl on the
//! mount point (and root); they are not read: sidewatch reports what
//! node_exporter reports when that ioctl is not allowed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::metrics::{FamilySet, MetricKind};
use sidewatch_common::{Blocking, BlockingCollector, CollectResult};

use crate::config::NodeConfig;
use crate::paths::{attr, attr_number, entries, HostPaths};

/// `--collector.btrfs`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("btrfs", "Btrfs filesystems (/sys/fs/btrfs)", |c| {
        Arc::new(Blocking::new(BtrfsCollector {
            paths: c.paths.clone(),
        }))
    });

pub struct BtrfsCollector {
    paths: Arc<HostPaths>,
}

/// The space a profile uses per byte stored, for `devices` devices.
fn ratio(profile: &str, devices: f64) -> f64 {
    match profile {
        "single" | "raid0" => 1.0,
        "dup" | "raid1" | "raid10" => 2.0,
        "raid1c3" => 3.0,
        "raid1c4" => 4.0,
        "raid5" => devices / (devices - 1.0),
        "raid6" => devices / (devices - 2.0),
        _ => 0.0,
    }
}

/// `key value` lines (commit_stats).
fn key_values(dir: &Path, file: &str) -> BTreeMap<String, f64> {
    crate::paths::read_text(dir.join(file))
        .map(|t| {
            t.lines()
                .filter_map(|l| {
                    let (k, v) = l.split_once(' ')?;
                    Some((k.to_owned(), v.trim().parse().ok()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

impl BlockingCollector for BtrfsCollector {
    fn nothing_to_block_on(&self) -> bool {
        // With the module loaded and no btrfs mounted, /sys/fs/btrfs holds
        // only `features`: no filesystem to read.
        self.paths.kernel
            && std::fs::read_dir(self.paths.sys("fs/btrfs")).map_or(true, |entries| {
                entries.flatten().all(|e| e.file_name() == "features")
            })
    }

    fn name(&self) -> &'static str {
        "btrfs"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let g = MetricKind::Gauge;
        let mut out = FamilySet::default();
        for (uuid, dir) in entries(&self.paths.sys("fs/btrfs"), "") {
            // features/ is not a filesystem; a filesystem has a label file.
            let Some(label) = attr(&dir, "label") else {
                continue;
            };
            let u = uuid.as_str();
            out.add(
                "node_btrfs_info",
                "Filesystem information",
                g,
                &[("label", &label), ("uuid", u)],
                1.0,
            );
            let alloc = dir.join("allocation");
            let rsv = attr_number(&alloc, "global_rsv_size").unwrap_or(0.0);
            out.add(
                "node_btrfs_global_rsv_size_bytes",
                "Size of global reserve.",
                g,
                &[("uuid", u)],
                rsv,
            );
            let commits = key_values(&dir, "commit_stats");
            let c = |k: &str| commits.get(k).copied().unwrap_or(0.0);
            out.add(
                "node_btrfs_commits_total",
                "The total number of commits that have occurred.",
                MetricKind::Counter,
                &[("uuid", u)],
                c("commits"),
            );
            out.add(
                "node_btrfs_last_commit_seconds",
                "Duration of the most recent commit, in seconds.",
                g,
                &[("uuid", u)],
                c("last_commit_ms") / 1000.0,
            );
            out.add(
                "node_btrfs_max_commit_seconds",
                "Duration of the slowest commit, in seconds.",
                g,
                &[("uuid", u)],
                c("max_commit_ms") / 1000.0,
            );
            out.add(
                "node_btrfs_commit_seconds_total",
                "Sum of the duration of all commits, in seconds.",
                MetricKind::Counter,
                &[("uuid", u)],
                c("total_commit_ms") / 1000.0,
            );
            let devices = entries(&dir.join("devices"), "");
            let device_count = devices.len() as f64;
            for kind in ["data", "metadata", "system"] {
                let kdir = alloc.join(kind);
                if !kdir.is_dir() {
                    continue;
                }
                let reserved = attr_number(&kdir, "bytes_reserved").unwrap_or(0.0);
                out.add(
                    "node_btrfs_reserved_bytes",
                    "Amount of space reserved for a data type",
                    g,
                    &[("block_group_type", kind), ("uuid", u)],
                    reserved,
                );
                for (profile, pdir) in entries(&kdir, "") {
                    if !pdir.is_dir() {
                        continue;
                    }
                    let l = [
                        ("block_group_type", kind),
                        ("mode", profile.as_str()),
                        ("uuid", u),
                    ];
                    let used = attr_number(&pdir, "used_bytes").unwrap_or(0.0);
                    let total = attr_number(&pdir, "total_bytes").unwrap_or(0.0);
                    out.add(
                        "node_btrfs_used_bytes",
                        "Amount of used space by a layout/data type",
                        g,
                        &l,
                        used,
                    );
                    out.add(
                        "node_btrfs_size_bytes",
                        "Amount of space allocated for a layout/data type",
                        g,
                        &l,
                        total,
                    );
                    out.add(
                        "node_btrfs_allocation_ratio",
                        "Data allocation ratio for a layout/data type",
                        g,
                        &l,
                        ratio(&profile, device_count),
                    );
                }
            }
            for (name, ddir) in &devices {
                // The block device's size, in 512-byte sectors.
                let sectors = attr_number(ddir, "size").unwrap_or(0.0);
                out.add(
                    "node_btrfs_device_size_bytes",
                    "Size of a device that is part of the filesystem.",
                    g,
                    &[("device", name), ("uuid", u)],
                    sectors * 512.0,
                );
            }
        }
        Ok(out.into_families())
    }
}
