//! `bcachefs`: bcachefs filesystems of /sys/fs/bcachefs/<uuid>: btree cache,
//! compression by algorithm, error and event counters, btree writes, and
//! per device buckets, durability, I/O done and I/O errors.

use std::path::Path;
use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::metrics::{FamilySet, MetricKind};
use sidewatch_common::{Blocking, BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;
use crate::paths::{attr, entries, HostPaths};

/// `--collector.bcachefs`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("bcachefs", "bcachefs filesystems (/sys/fs/bcachefs)", |c| {
        Arc::new(Blocking::new(BcachefsCollector {
            paths: c.paths.clone(),
        }))
    });

pub struct BcachefsCollector {
    paths: Arc<HostPaths>,
}

/// `12.5M`, `4.0k`, `512` (k, M, G, T, P, E: powers of 1024).
pub fn human_bytes(text: &str) -> Result<f64, CollectError> {
    let t = text.trim();
    let bad = || CollectError::parse(format!("bcachefs: {t:?} is not a size"));
    let (number, scale) = match t.chars().last().ok_or_else(bad)? {
        c if c.is_ascii_digit() => (t, 1.0),
        c => {
            let i = "kmgtpe".find(c.to_ascii_lowercase()).ok_or_else(bad)?;
            (&t[..t.len() - 1], 1024f64.powi(i as i32 + 1))
        }
    };
    let v: f64 = number.trim().parse().map_err(|_| bad())?;
    Ok((v * scale).trunc())
}

fn count(v: &str) -> Result<f64, CollectError> {
    v.trim()
        .parse::<u64>()
        .map(|n| n as f64)
        .map_err(|_| CollectError::parse(format!("bcachefs: {v:?} is not a count")))
}

fn read(path: &Path) -> Option<String> {
    crate::paths::read_text(path).ok()
}

/// A metric name from a counter's file name.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl BlockingCollector for BcachefsCollector {
    fn nothing_to_block_on(&self) -> bool {
        crate::paths::absent_or_empty(&self.paths, "fs/bcachefs")
    }

    fn name(&self) -> &'static str {
        "bcachefs"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let (g, c) = (MetricKind::Gauge, MetricKind::Counter);
        let mut out = FamilySet::default();
        for (uuid, dir) in entries(&self.paths.sys("fs/bcachefs"), "") {
            if !dir.is_dir() {
                continue;
            }
            let u = uuid.as_str();
            out.add(
                "node_bcachefs_info",
                "Filesystem information.",
                g,
                &[("uuid", u)],
                1.0,
            );
            let cache = match attr(&dir, "btree_cache_size") {
                Some(v) if !v.is_empty() => human_bytes(&v)?,
                _ => 0.0,
            };
            out.add(
                "node_bcachefs_btree_cache_size_bytes",
                "Btree cache memory usage in bytes.",
                g,
                &[("uuid", u)],
                cache,
            );
            // compression_stats: a header, then `type: compressed uncompressed [average extent]`.
            if let Some(text) = read(&dir.join("compression_stats")) {
                for line in text.lines().skip(1) {
                    let f: Vec<&str> = line.split_ascii_whitespace().collect();
                    let [algorithm, compressed, uncompressed, ..] = f[..] else {
                        continue;
                    };
                    let l = [("algorithm", algorithm.trim_end_matches(':')), ("uuid", u)];
                    out.add(
                        "node_bcachefs_compression_compressed_bytes",
                        "Compressed size by algorithm.",
                        g,
                        &l,
                        human_bytes(compressed)?,
                    );
                    out.add(
                        "node_bcachefs_compression_uncompressed_bytes",
                        "Uncompressed size by algorithm.",
                        g,
                        &l,
                        human_bytes(uncompressed)?,
                    );
                }
            }
            // errors: `name count [time]`.
            if let Some(text) = read(&dir.join("errors")) {
                for line in text.lines() {
                    let f: Vec<&str> = line.split_ascii_whitespace().collect();
                    let [kind, n, ..] = f[..] else { continue };
                    out.add(
                        "node_bcachefs_errors_total",
                        "Error count by error type.",
                        c,
                        &[("error_type", kind), ("uuid", u)],
                        count(n)?,
                    );
                }
            }
            // counters/<name>: `since mount: N` and `since filesystem creation: N`.
            for (name, path) in entries(&dir.join("counters"), "") {
                let Some(text) = read(&path) else { continue };
                let Some(total) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("since filesystem creation:"))
                else {
                    continue;
                };
                out.add(
                    format!("node_bcachefs_{}_total", sanitize(&name)),
                    format!("Bcachefs counter {name} since filesystem creation."),
                    c,
                    &[("uuid", u)],
                    human_bytes(total)?,
                );
            }
            // btree_write_stats: a header, then `type: count average-size`.
            if let Some(text) = read(&dir.join("btree_write_stats")) {
                for line in text.lines().skip(1) {
                    let f: Vec<&str> = line.split_ascii_whitespace().collect();
                    let [kind, n, size, ..] = f[..] else { continue };
                    let l = [("type", kind.trim_end_matches(':')), ("uuid", u)];
                    out.add(
                        "node_bcachefs_btree_writes_total",
                        "Number of btree writes by type.",
                        c,
                        &l,
                        count(n)?,
                    );
                    out.add(
                        "node_bcachefs_btree_write_average_size_bytes",
                        "Average btree write size by type.",
                        g,
                        &l,
                        human_bytes(size)?,
                    );
                }
            }
            for (name, ddir) in entries(&dir, "dev-") {
                if !ddir.is_dir() {
                    continue;
                }
                let dev = &name[4..];
                let label = attr(&ddir, "label").unwrap_or_default();
                let state = attr(&ddir, "state").unwrap_or_default();
                out.add(
                    "node_bcachefs_device_info",
                    "Device information.",
                    g,
                    &[
                        ("device", dev),
                        ("label", &label),
                        ("state", &state),
                        ("uuid", u),
                    ],
                    1.0,
                );
                let l = [("device", dev), ("uuid", u)];
                let bucket = match attr(&ddir, "bucket_size") {
                    Some(v) if !v.is_empty() => human_bytes(&v)?,
                    _ => 0.0,
                };
                out.add(
                    "node_bcachefs_device_bucket_size_bytes",
                    "Bucket size in bytes.",
                    g,
                    &l,
                    bucket,
                );
                let num = |f: &str| {
                    attr(&ddir, f)
                        .map(|v| count(&v))
                        .transpose()
                        .map(|v| v.unwrap_or(0.0))
                };
                out.add(
                    "node_bcachefs_device_buckets",
                    "Total number of buckets.",
                    g,
                    &l,
                    num("nbuckets")?,
                );
                out.add(
                    "node_bcachefs_device_durability",
                    "Device durability setting.",
                    g,
                    &l,
                    num("durability")?,
                );
                // io_done: `read:`/`write:` sections of `data type: bytes`.
                if let Some(text) = read(&ddir.join("io_done")) {
                    let mut op = "";
                    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                        if line == "read:" || line == "write:" {
                            op = line.trim_end_matches(':');
                            continue;
                        }
                        let (Some((kind, n)), false) = (line.split_once(':'), op.is_empty()) else {
                            continue;
                        };
                        let l = [
                            ("data_type", kind.trim()),
                            ("device", dev),
                            ("operation", op),
                            ("uuid", u),
                        ];
                        out.add(
                            "node_bcachefs_device_io_done_bytes_total",
                            "IO bytes by operation type and data type.",
                            c,
                            &l,
                            count(n)?,
                        );
                    }
                }
                // io_errors: the section since filesystem creation.
                if let Some(text) = read(&ddir.join("io_errors")) {
                    let mut inside = false;
                    for line in text.lines() {
                        if line.starts_with("IO errors since filesystem creation") {
                            inside = true;
                            continue;
                        }
                        if line.starts_with("IO errors since ") {
                            break;
                        }
                        let Some((kind, n)) = line.trim().split_once(':').filter(|_| inside) else {
                            continue;
                        };
                        out.add(
                            "node_bcachefs_device_io_errors_total",
                            "IO errors by error type.",
                            c,
                            &[("device", dev), ("type", kind.trim()), ("uuid", u)],
                            count(n)?,
                        );
                    }
                }
            }
        }
        Ok(out.into_families())
    }
}
