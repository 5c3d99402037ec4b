//! `selinux`: whether SELinux is on (selinuxfs mounted at /sys/fs/selinux),
//! and then its current mode (/sys/fs/selinux/enforce: 1 enforcing,
//! 0 permissive).

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{Blocking, BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{number, HostPaths};

/// `--collector.selinux`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("selinux", "SELinux state (/sys/fs/selinux)", |c| {
        Arc::new(Blocking::new(SelinuxCollector {
            paths: c.paths.clone(),
        }))
    });

pub struct SelinuxCollector {
    paths: Arc<HostPaths>,
}

impl BlockingCollector for SelinuxCollector {
    fn name(&self) -> &'static str {
        "selinux"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let enforce = std::fs::read_to_string(self.paths.sys("fs/selinux/enforce")).ok();
        let mut out = vec![Family::gauge(
            "node_selinux_enabled",
            "SELinux is enabled, 1 is true, 0 is false",
        )
        .with(&[], if enforce.is_some() { 1.0 } else { 0.0 })];
        if let Some(text) = enforce {
            out.push(
                Family::gauge(
                    "node_selinux_current_mode",
                    "SELinux current mode, 1 is enforcing, 0 is permissive",
                )
                .with(&[], number(&text, "selinux enforce")?),
            );
        }
        Ok(out)
    }
}
