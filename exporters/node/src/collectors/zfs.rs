//! `zfs`: OpenZFS kstats from /proc/spl/kstat/zfs: the ARC, dbuf, dnode,
//! prefetch and ZIL statistics, each pool's I/O, datasets and state, named
//! `node_zfs_<subsystem>_<kstat>` as node_exporter names them.

use std::path::Path;
use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::metrics::{FamilySet, MetricKind};
use sidewatch_common::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;
use crate::paths::{entries, HostPaths};

/// `--collector.zfs`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("zfs", "OpenZFS statistics (/proc/spl/kstat/zfs)", |c| {
        crate::paths::reader(
            &c.paths,
            ZfsCollector {
                paths: c.paths.clone(),
            },
        )
    });

pub struct ZfsCollector {
    paths: Arc<HostPaths>,
}

/// (metric subsystem, kstat file)
const FILES: &[(&str, &str)] = &[
    ("zfs_abd", "abdstats"),
    ("zfs_arc", "arcstats"),
    ("zfs_dbuf", "dbufstats"),
    ("zfs_dmu_tx", "dmu_tx"),
    ("zfs_dnode", "dnodestats"),
    ("zfs_fm", "fm"),
    ("zfs_vdev_cache", "vdev_cache_stats"),
    ("zfs_vdev_mirror", "vdev_mirror_stats"),
    ("zfs_xuio", "xuio_stats"),
    ("zfs_zfetch", "zfetchstats"),
    ("zfs_zil", "zil"),
];

const POOL_STATES: &[&str] = &[
    "online",
    "degraded",
    "faulted",
    "offline",
    "removed",
    "unavail",
    "suspended",
];

/// The `name type data` rows of a kstat file whose type is a 64-bit
/// integer (3 signed, 4 unsigned), after the header row. `uint_only` keeps
/// only type 4, as for objset files.
pub fn kstat_rows(text: &str, uint_only: bool) -> Result<Vec<(&str, &str)>, CollectError> {
    let mut started = false;
    let mut rows = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_ascii_whitespace().collect();
        if !started {
            started = parts == ["name", "type", "data"];
            continue;
        }
        let [name, kind, data, ..] = parts[..] else {
            continue;
        };
        // dataset_name (a string) names an objset's dataset.
        if kind == "4" || (kind == "3" && !uint_only) || name == "dataset_name" {
            rows.push((name, data));
        }
    }
    if !started {
        return Err(CollectError::parse("kstat: no `name type data` header"));
    }
    Ok(rows)
}

fn number(key: &str, v: &str) -> Result<f64, CollectError> {
    v.parse::<u64>().map(|n| n as f64).map_err(|_| {
        CollectError::parse(format!(
            "could not parse expected integer value for {key:?}"
        ))
    })
}

/// Families by name, created on first use.
fn read(path: &Path) -> Option<String> {
    crate::paths::read_text(path).ok()
}

impl BlockingCollector for ZfsCollector {
    fn name(&self) -> &'static str {
        "zfs"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let base = self.paths.proc("spl/kstat/zfs");
        // No zfs module loaded: nothing, and success.
        if !base.is_dir() {
            return Ok(Vec::new());
        }
        let mut out = FamilySet::default();
        for (subsystem, file) in FILES {
            // Files come and go with ZFS features: a missing one is fine.
            let Some(text) = read(&base.join(file)) else {
                continue;
            };
            for (name, data) in kstat_rows(&text, false)? {
                if name == "dataset_name" {
                    continue;
                }
                let key = format!("kstat.zfs.misc.{file}.{name}");
                let v = number(&key, data)?;
                out.add(
                    format!("node_{subsystem}_{}", name.replace('-', "_")),
                    key,
                    MetricKind::Untyped,
                    &[],
                    v,
                );
            }
        }
        for (pool, dir) in entries(&base, "") {
            if !dir.is_dir() {
                continue;
            }
            // io: a header row of names (nread nwritten ...), then one of values.
            if let Some(text) = read(&dir.join("io")) {
                let mut lines = text
                    .lines()
                    .map(|l| l.split_ascii_whitespace().collect::<Vec<_>>());
                if let Some(header) = lines.by_ref().find(|l| l.len() >= 12 && l[0] == "nread") {
                    for values in lines {
                        for (field, value) in header.iter().zip(values) {
                            let key = format!("kstat.zfs.misc.io.{field}");
                            let v = number(&key, value)?;
                            out.add(
                                format!("node_zfs_zpool_{}", field.replace('-', "_")),
                                key,
                                MetricKind::Untyped,
                                &[("zpool", &pool)],
                                v,
                            );
                        }
                    }
                }
            }
            for (_, objset) in entries(&dir, "objset-") {
                let Some(text) = read(&objset) else {
                    continue;
                };
                let rows = kstat_rows(&text, true)?;
                let dataset = rows
                    .iter()
                    .find(|(n, _)| *n == "dataset_name")
                    .map(|(_, d)| *d)
                    .unwrap_or_default();
                for (name, data) in rows.iter().filter(|(n, _)| *n != "dataset_name") {
                    let key = format!("kstat.zfs.misc.objset.{name}");
                    let v = number(&key, data)?;
                    out.add(
                        format!("node_zfs_zpool_dataset_{}", name.replace('-', "_")),
                        key,
                        MetricKind::Untyped,
                        &[("dataset", dataset), ("zpool", &pool)],
                        v,
                    );
                }
            }
            if let Some(text) = read(&dir.join("state")) {
                let state = text
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_lowercase();
                for s in POOL_STATES {
                    out.add(
                        "node_zfs_zpool_state",
                        "kstat.zfs.misc.state",
                        MetricKind::Gauge,
                        &[("state", s), ("zpool", &pool)],
                        if state == *s { 1.0 } else { 0.0 },
                    );
                }
            }
        }
        Ok(out.into_families())
    }
}
