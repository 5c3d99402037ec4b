//! `entropy`: the kernel's entropy pool from /proc/sys/kernel/random.

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{number, read, HostPaths};

/// `--collector.entropy`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("entropy", "entropy pool (/proc/sys/kernel/random)", |c| {
        crate::paths::reader(
            &c.paths,
            EntropyCollector {
                paths: c.paths.clone(),
            },
        )
    });

pub struct EntropyCollector {
    paths: Arc<HostPaths>,
}

impl BlockingCollector for EntropyCollector {
    fn name(&self) -> &'static str {
        "entropy"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let avail = read(&self.paths.proc("sys/kernel/random/entropy_avail"))?;
        let pool = read(&self.paths.proc("sys/kernel/random/poolsize"))?;
        Ok(vec![
            Family::gauge("node_entropy_available_bits", "Bits of available entropy.")
                .with(&[], number(&avail, "entropy_avail")?),
            Family::gauge("node_entropy_pool_size_bits", "Bits of entropy pool.")
                .with(&[], number(&pool, "poolsize")?),
        ])
    }
}
