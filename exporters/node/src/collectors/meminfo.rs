//! `meminfo`: every /proc/meminfo field as `node_memory_<Field>[_bytes]`.

use std::sync::Arc;

use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::paths::{read, HostPaths};
use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// `--collector.meminfo`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("meminfo", "memory (/proc/meminfo)", |c| {
        crate::paths::reader(&c.paths, MeminfoCollector::new(c.paths.clone()))
    });

pub struct MeminfoCollector {
    paths: Arc<HostPaths>,
}

impl MeminfoCollector {
    pub fn new(paths: Arc<HostPaths>) -> Self {
        Self { paths }
    }
}

impl BlockingCollector for MeminfoCollector {
    fn name(&self) -> &'static str {
        "meminfo"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        parse(&read(&self.paths.proc("meminfo"))?)
    }
}

pub fn parse(text: &str) -> CollectResult {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (key, rest) = line
            .split_once(':')
            .ok_or_else(|| CollectError::parse(format!("/proc/meminfo: bad line {line:?}")))?;
        let mut parts = rest.split_whitespace();
        let raw = parts.next().unwrap_or_default();
        let value: f64 = raw.parse().map_err(|_| {
            CollectError::parse(format!("/proc/meminfo {key}: {raw:?} is not a number"))
        })?;
        // `Active(anon)` becomes `Active_anon`, as node_exporter names it.
        let mut field = if key.contains('(') {
            key.replace('(', "_").replace(')', "")
        } else {
            key.to_owned()
        };
        let value = match parts.next() {
            Some("kB") => {
                field.push_str("_bytes");
                value * 1024.0
            }
            _ => value,
        };
        out.push(
            Family::gauge(
                format!("node_memory_{field}"),
                format!("Memory information field {field}."),
            )
            .with(&[], value),
        );
    }
    Ok(out)
}
