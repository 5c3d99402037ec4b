//! `loadavg`: 1, 5 and 15 minute load averages.
//!
//! Parsed here rather than with procfs, whose f32 fields would turn 0.28 into
//! 0.2800000011920929.

use std::sync::Arc;

use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::paths::{number, read, HostPaths};
use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// `--collector.loadavg`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("loadavg", "load averages (/proc/loadavg)", |c| {
        crate::paths::reader(&c.paths, LoadavgCollector::new(c.paths.clone()))
    });

pub struct LoadavgCollector {
    paths: Arc<HostPaths>,
}

impl LoadavgCollector {
    pub fn new(paths: Arc<HostPaths>) -> Self {
        Self { paths }
    }
}

impl BlockingCollector for LoadavgCollector {
    fn name(&self) -> &'static str {
        "loadavg"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        parse(&read(&self.paths.proc("loadavg"))?)
    }
}

pub fn parse(text: &str) -> CollectResult {
    let fields: Vec<&str> = text.split_ascii_whitespace().collect();
    if fields.len() < 3 {
        return Err(CollectError::parse(format!(
            "/proc/loadavg: unexpected {text:?}"
        )));
    }
    Ok(vec![
        Family::gauge("node_load1", "1m load average.").with(&[], number(fields[0], "load1")?),
        Family::gauge("node_load5", "5m load average.").with(&[], number(fields[1], "load5")?),
        Family::gauge("node_load15", "15m load average.").with(&[], number(fields[2], "load15")?),
    ])
}
