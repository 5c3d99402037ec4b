//! `selinux`: whether SELinux is on (selinuxfs mounted at /sys/fs/selinux),
//! and then its current mode (/sys/fs/selinux/enforce: 1 enforcing,
//! 0 permissive) and its configured one (SELINUX= in /etc/selinux/config
//! under --path.rootfs: 1 enforcing, 0 permissive, -1 disabled).

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
    fn nothing_to_block_on(&self) -> bool {
        // SELinux off: the run reads nothing under --path.rootfs.
        crate::paths::absent_or_empty(&self.paths, "fs/selinux")
    }

    fn name(&self) -> &'static str {
        "selinux"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let enforce = crate::paths::read_text(self.paths.sys("fs/selinux/enforce")).ok();
        let mut out = vec![Family::gauge(
            "node_selinux_enabled",
            "SELinux is enabled, 1 is true, 0 is false",
        )
        .with(&[], if enforce.is_some() { 1.0 } else { 0.0 })];
        if let Some(text) = enforce {
            let config = crate::paths::read_text(self.paths.root("/etc/selinux/config")).ok();
            let mode = config.as_deref().and_then(|c| {
                c.lines()
                    .find_map(|l| match l.trim().strip_prefix("SELINUX=")?.trim() {
                        "enforcing" => Some(1.0),
                        "permissive" => Some(0.0),
                        "disabled" => Some(-1.0),
                        _ => None,
                    })
            });
            if let Some(mode) = mode {
                out.push(
                    Family::gauge(
                        "node_selinux_config_mode",
                        "Configured SELinux enforcement mode",
                    )
                    .with(&[], mode),
                );
            }
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
