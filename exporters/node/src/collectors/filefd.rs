//! `filefd`: allocated and maximum file handles from /proc/sys/fs/file-nr.

use std::sync::Arc;

use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::paths::{number, read, HostPaths};
use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// `--collector.filefd`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("filefd", "file handles (/proc/sys/fs/file-nr)", |c| {
        crate::paths::reader(&c.paths, FilefdCollector::new(c.paths.clone()))
    });

pub struct FilefdCollector {
    paths: Arc<HostPaths>,
}

impl FilefdCollector {
    pub fn new(paths: Arc<HostPaths>) -> Self {
        Self { paths }
    }
}

impl BlockingCollector for FilefdCollector {
    fn name(&self) -> &'static str {
        "filefd"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let text = read(&self.paths.proc("sys/fs/file-nr"))?;
        let f: Vec<&str> = text.split_ascii_whitespace().collect();
        if f.len() != 3 {
            return Err(CollectError::parse(format!("file-nr: unexpected {text:?}")));
        }
        Ok(vec![
            Family::gauge(
                "node_filefd_allocated",
                "File descriptor statistics: allocated.",
            )
            .with(&[], number(f[0], "file-nr allocated")?),
            Family::gauge(
                "node_filefd_maximum",
                "File descriptor statistics: maximum.",
            )
            .with(&[], number(f[2], "file-nr maximum")?),
        ])
    }
}
