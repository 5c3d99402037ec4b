//! `bcache`: block-layer SSD caches of /sys/fs/bcache/<uuid>: the cache
//! set's btree, each backing device's dirty data, writeback controller and
//! hit statistics, and each cache device's writes and errors. bcache writes
//! sizes for people (`1.5G`, `4.0k`, powers of 1024); they are read back
//! into numbers.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::metrics::{FamilySet, MetricKind};
use sidewatch_common::{Blocking, BlockingCollector, CollectResult};

use crate::config::NodeConfig;
use crate::paths::{attr, entries, HostPaths};

/// `--collector.bcache`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("bcache", "bcache SSD caches (/sys/fs/bcache)", |c| {
        Arc::new(Blocking::new(BcacheCollector {
            paths: c.paths.clone(),
            priority_stats: c.cli.bcache.priority_stats,
        }))
    });

/// This collector's own flags (node_exporter's names).
#[derive(Debug, Clone, clap::Args)]
pub struct BcacheArgs {
    /// Also read each cache device's priority_stats (slow: the kernel walks
    /// every bucket to answer).
    #[arg(
        id = "collector.bcache.priorityStats",
        long = "collector.bcache.priorityStats",
        env = "SIDEWATCH_COLLECTOR_BCACHE_PRIORITY_STATS"
    )]
    pub priority_stats: bool,
}

pub struct BcacheCollector {
    paths: Arc<HostPaths>,
    priority_stats: bool,
}

/// `1.5G`, `-7.5k`, `512`, `17ms` → a number (k, M, G, ... are powers of
/// 1024; anything after the suffix is a unit and ignored).
pub fn dehumanize(text: &str) -> Option<f64> {
    let t = text.trim().trim_end_matches("/sec");
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(t.len());
    let value: f64 = t[..end].parse().ok()?;
    let scale = match t[end..].chars().next() {
        None => 1.0,
        Some(c) => match "kMGTPEZY".find(c) {
            Some(i) => 1024f64.powi(i as i32 + 1),
            None => 1.0,
        },
    };
    Some((value * scale).trunc())
}

/// A file's value, 0 when absent or unreadable (as the peer reports it).
fn value(dir: &Path, file: &str) -> f64 {
    attr(dir, file)
        .as_deref()
        .and_then(dehumanize)
        .unwrap_or(0.0)
}

/// `key: value` lines (writeback_rate_debug, priority_stats).
fn key_values(dir: &Path, file: &str) -> BTreeMap<String, String> {
    crate::paths::read_text(dir.join(file))
        .map(|t| {
            t.lines()
                .filter_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    Some((k.trim().to_owned(), v.trim().to_owned()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// (stats_total file, metric, help)
const PERIOD: &[(&str, &str, &str)] = &[
    (
        "bypassed",
        "node_bcache_bypassed_bytes_total",
        "Amount of IO (both reads and writes) that has bypassed the cache.",
    ),
    (
        "cache_hits",
        "node_bcache_cache_hits_total",
        "Hits counted per individual IO as bcache sees them.",
    ),
    (
        "cache_misses",
        "node_bcache_cache_misses_total",
        "Misses counted per individual IO as bcache sees them.",
    ),
    (
        "cache_bypass_hits",
        "node_bcache_cache_bypass_hits_total",
        "Hits for IO intended to skip the cache.",
    ),
    (
        "cache_bypass_misses",
        "node_bcache_cache_bypass_misses_total",
        "Misses for IO intended to skip the cache.",
    ),
    (
        "cache_miss_collisions",
        "node_bcache_cache_miss_collisions_total",
        "Instances where data insertion from cache miss raced with write (data already present).",
    ),
    (
        "cache_readaheads",
        "node_bcache_cache_readaheads_total",
        "Count of times readahead occurred.",
    ),
];

impl BlockingCollector for BcacheCollector {
    fn nothing_to_block_on(&self) -> bool {
        crate::paths::absent_or_empty(&self.paths, "fs/bcache")
    }

    fn name(&self) -> &'static str {
        "bcache"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let (g, c) = (MetricKind::Gauge, MetricKind::Counter);
        let mut out = FamilySet::default();
        for (uuid, dir) in entries(&self.paths.sys("fs/bcache"), "") {
            // register, register_quiet, pendings_cleanup are files.
            if !dir.is_dir() {
                continue;
            }
            let u = [("uuid", uuid.as_str())];
            out.add(
                "node_bcache_average_key_size_sectors",
                "Average data per key in the btree (sectors).",
                g,
                &u,
                value(&dir, "average_key_size"),
            );
            out.add(
                "node_bcache_btree_cache_size_bytes",
                "Amount of memory currently used by the btree cache.",
                g,
                &u,
                value(&dir, "btree_cache_size"),
            );
            out.add("node_bcache_cache_available_percent", "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data).", g, &u, value(&dir, "cache_available_percent"));
            out.add(
                "node_bcache_congested",
                "Congestion.",
                g,
                &u,
                value(&dir, "congested"),
            );
            out.add(
                "node_bcache_root_usage_percent",
                "Percentage of the root btree node in use (tree depth increases if too high).",
                g,
                &u,
                value(&dir, "root_usage_percent"),
            );
            out.add(
                "node_bcache_tree_depth",
                "Depth of the btree.",
                g,
                &u,
                value(&dir, "tree_depth"),
            );
            let internal = dir.join("internal");
            out.add(
                "node_bcache_active_journal_entries",
                "Number of journal entries that are newer than the index.",
                g,
                &u,
                value(&internal, "active_journal_entries"),
            );
            out.add(
                "node_bcache_btree_nodes",
                "Total nodes in the btree.",
                g,
                &u,
                value(&internal, "btree_nodes"),
            );
            out.add(
                "node_bcache_btree_read_average_duration_seconds",
                "Average btree read duration.",
                g,
                &u,
                value(&internal, "btree_read_average_duration_us") * 1e-6,
            );
            out.add("node_bcache_cache_read_races_total", "Counts instances where while data was being read from the cache, the bucket was reused and invalidated - i.e. where the pointer was stale after the read completed.", c, &u, value(&internal, "cache_read_races"));
            for (bdev, bdir) in entries(&dir, "bdev") {
                let l = [("backing_device", bdev.as_str()), ("uuid", uuid.as_str())];
                out.add(
                    "node_bcache_dirty_data_bytes",
                    "Amount of dirty data for this backing device in the cache.",
                    g,
                    &l,
                    value(&bdir, "dirty_data"),
                );
                let wb = key_values(&bdir, "writeback_rate_debug");
                let w = |k: &str| wb.get(k).and_then(|v| dehumanize(v)).unwrap_or(0.0);
                out.add(
                    "node_bcache_dirty_target_bytes",
                    "Current dirty data target threshold in bytes.",
                    g,
                    &l,
                    w("target"),
                );
                out.add(
                    "node_bcache_writeback_rate",
                    "Current writeback rate in bytes.",
                    g,
                    &l,
                    w("rate"),
                );
                out.add(
                    "node_bcache_writeback_rate_proportinal_term",
                    "Current result of proportional controller, part of writeback rate",
                    g,
                    &l,
                    w("proportional"),
                );
                out.add(
                    "node_bcache_writeback_rate_integral_term",
                    "Current result of integral controller, part of writeback rate",
                    g,
                    &l,
                    w("integral"),
                );
                out.add(
                    "node_bcache_writeback_change",
                    "Last writeback rate change.",
                    g,
                    &l,
                    w("change"),
                );
                let stats = bdir.join("stats_total");
                for (file, name, help) in PERIOD {
                    out.add(name, help, c, &l, value(&stats, file));
                }
            }
            for (cache, cdir) in entries(&dir, "cache") {
                if !cache[5..].bytes().all(|b| b.is_ascii_digit()) || cache.len() == 5 {
                    continue;
                }
                let l = [("cache_device", cache.as_str()), ("uuid", uuid.as_str())];
                out.add(
                    "node_bcache_io_errors",
                    "Number of errors that have occurred, decayed by io_error_halflife.",
                    g,
                    &l,
                    value(&cdir, "io_errors"),
                );
                out.add(
                    "node_bcache_metadata_written_bytes_total",
                    "Sum of all non data writes (btree writes and all other metadata).",
                    c,
                    &l,
                    value(&cdir, "metadata_written"),
                );
                out.add(
                    "node_bcache_written_bytes_total",
                    "Sum of all data that has been written to the cache.",
                    c,
                    &l,
                    value(&cdir, "written"),
                );
                if self.priority_stats {
                    let p = key_values(&cdir, "priority_stats");
                    let pct = |k: &str| {
                        p.get(k)
                            .and_then(|v| v.trim_end_matches('%').trim().parse::<f64>().ok())
                            .unwrap_or(0.0)
                    };
                    out.add(
                        "node_bcache_priority_stats_unused_percent",
                        "The percentage of the cache that doesn't contain any data.",
                        g,
                        &l,
                        pct("Unused"),
                    );
                    out.add(
                        "node_bcache_priority_stats_metadata_percent",
                        "Bcache's metadata overhead.",
                        g,
                        &l,
                        pct("Metadata"),
                    );
                }
            }
        }
        Ok(out.into_families())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(dehumanize("512"), Some(512.0));
        assert_eq!(dehumanize("4.0k"), Some(4096.0));
        assert_eq!(dehumanize("1.5G"), Some(1_610_612_736.0));
        assert_eq!(dehumanize("1.1M/sec"), Some(1_153_433.0));
        assert_eq!(dehumanize("-7.5k"), Some(-7680.0));
        assert_eq!(dehumanize("17ms"), Some(17.0));
        assert_eq!(dehumanize("x"), None);
    }
}
