//! `xfs`: per-filesystem XFS statistics from /sys/fs/xfs/<device>/stats/stats
//! (the runtime counters the XFS documentation describes).

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{entries, HostPaths};

/// `--collector.xfs`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("xfs", "XFS filesystem statistics (/sys/fs/xfs)", |c| {
        crate::paths::reader(
            &c.paths,
            XfsCollector {
                paths: c.paths.clone(),
            },
        )
    });

pub struct XfsCollector {
    paths: Arc<HostPaths>,
}

/// (stats line, field index, metric suffix, help)
const STATS: &[(&str, usize, &str, &str)] = &[
    ("extent_alloc", 0, "extent_allocation_extents_allocated_total", "Number of extents allocated for a filesystem."),
    ("extent_alloc", 1, "extent_allocation_blocks_allocated_total", "Number of blocks allocated for a filesystem."),
    ("extent_alloc", 2, "extent_allocation_extents_freed_total", "Number of extents freed for a filesystem."),
    ("extent_alloc", 3, "extent_allocation_blocks_freed_total", "Number of blocks freed for a filesystem."),
    ("abt", 0, "allocation_btree_lookups_total", "Number of allocation B-tree lookups for a filesystem."),
    ("abt", 1, "allocation_btree_compares_total", "Number of allocation B-tree compares for a filesystem."),
    ("abt", 2, "allocation_btree_records_inserted_total", "Number of allocation B-tree records inserted for a filesystem."),
    ("abt", 3, "allocation_btree_records_deleted_total", "Number of allocation B-tree records deleted for a filesystem."),
    ("blk_map", 0, "block_mapping_reads_total", "Number of block map for read operations for a filesystem."),
    ("blk_map", 1, "block_mapping_writes_total", "Number of block map for write operations for a filesystem."),
    ("blk_map", 2, "block_mapping_unmaps_total", "Number of block unmaps (deletes) for a filesystem."),
    ("blk_map", 3, "block_mapping_extent_list_insertions_total", "Number of extent list insertions for a filesystem."),
    ("blk_map", 4, "block_mapping_extent_list_deletions_total", "Number of extent list deletions for a filesystem."),
    ("blk_map", 5, "block_mapping_extent_list_lookups_total", "Number of extent list lookups for a filesystem."),
    ("blk_map", 6, "block_mapping_extent_list_compares_total", "Number of extent list compares for a filesystem."),
    ("bmbt", 0, "block_map_btree_lookups_total", "Number of block map B-tree lookups for a filesystem."),
    ("bmbt", 1, "block_map_btree_compares_total", "Number of block map B-tree compares for a filesystem."),
    ("bmbt", 2, "block_map_btree_records_inserted_total", "Number of block map B-tree records inserted for a filesystem."),
    ("bmbt", 3, "block_map_btree_records_deleted_total", "Number of block map B-tree records deleted for a filesystem."),
    ("dir", 0, "directory_operation_lookup_total", "Number of file name directory lookups which miss the operating systems directory name lookup cache."),
    ("dir", 1, "directory_operation_create_total", "Number of times a new directory entry was created for a filesystem."),
    ("dir", 2, "directory_operation_remove_total", "Number of times an existing directory entry was created for a filesystem."),
    ("dir", 3, "directory_operation_getdents_total", "Number of times the directory getdents operation was performed for a filesystem."),
    ("rw", 0, "read_calls_total", "Number of read(2) system calls made to files in a filesystem."),
    ("rw", 1, "write_calls_total", "Number of write(2) system calls made to files in a filesystem."),
    ("vnodes", 0, "vnode_active_total", "Number of vnodes not on free lists for a filesystem."),
    ("vnodes", 1, "vnode_allocate_total", "Number of times vn_alloc called for a filesystem."),
    ("vnodes", 2, "vnode_get_total", "Number of times vn_get called for a filesystem."),
    ("vnodes", 3, "vnode_hold_total", "Number of times vn_hold called for a filesystem."),
    ("vnodes", 4, "vnode_release_total", "Number of times vn_rele called for a filesystem."),
    ("vnodes", 5, "vnode_reclaim_total", "Number of times vn_reclaim called for a filesystem."),
    ("vnodes", 6, "vnode_remove_total", "Number of times vn_remove called for a filesystem."),
];

impl BlockingCollector for XfsCollector {
    fn name(&self) -> &'static str {
        "xfs"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let mut out: Vec<Family> = STATS
            .iter()
            .map(|(_, _, suffix, help)| {
                Family::counter(
                    sidewatch_common::intern_fmt(format_args!("node_xfs_{suffix}")),
                    *help,
                )
            })
            .collect();
        // /sys/fs/xfs/stats is the sum over filesystems; devices have their own.
        for (device, dir) in entries(&self.paths.sys("fs/xfs"), "") {
            let path = dir.join("stats/stats");
            let Ok(text) = crate::paths::read_text(&path) else {
                continue;
            };
            let mut lines: std::collections::HashMap<&str, Vec<f64>> =
                std::collections::HashMap::new();
            for line in text.lines() {
                let mut f = line.split_ascii_whitespace();
                let Some(tag) = f.next() else { continue };
                let values = f
                    .map(|v| v.parse::<f64>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| {
                        CollectError::parse(format!("{}: not a number in {line:?}", path.display()))
                    })?;
                lines.insert(tag, values);
            }
            for ((tag, i, _, _), family) in STATS.iter().zip(out.iter_mut()) {
                let v = lines
                    .get(tag)
                    .and_then(|v| v.get(*i))
                    .copied()
                    .unwrap_or(0.0);
                family.add(&[("device", &device)], v);
            }
        }
        Ok(out)
    }
}
