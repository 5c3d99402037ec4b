//! `vmstat`: selected /proc/vmstat fields as `node_vmstat_<field>`.

use std::sync::Arc;

use crate::filter::Regex;
use sidewatch_common::{BlockingCollector, CollectResult, Family};

use crate::paths::{parse_with, HostPaths};
use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// `--collector.vmstat`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("vmstat", "virtual memory counters (/proc/vmstat)", |c| {
        crate::paths::reader(
            &c.paths,
            VmstatCollector::new(c.paths.clone(), c.cli.vmstat.fields.clone()),
        )
    });

/// This collector's own flags.
#[derive(Debug, Clone, clap::Args)]
pub struct VmstatArgs {
    /// /proc/vmstat fields to return (regular expression).
    #[arg(
        id = "collector.vmstat.fields", long = "collector.vmstat.fields",
        env = "SIDEWATCH_COLLECTOR_VMSTAT_FIELDS",
        default_value = "^(oom_kill|pgpg|pswp|pg.*fault).*",
        value_parser = crate::config::parse_regex,
        value_name = "REGEX"
    )]
    pub fields: Regex,
}

pub struct VmstatCollector {
    paths: Arc<HostPaths>,
    fields: Regex,
}

impl VmstatCollector {
    pub fn new(paths: Arc<HostPaths>, fields: Regex) -> Self {
        Self { paths, fields }
    }
}

impl BlockingCollector for VmstatCollector {
    fn name(&self) -> &'static str {
        "vmstat"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let stat: procfs::VmStat = parse_with(&self.paths.proc("vmstat"))?;
        let mut fields: Vec<(&String, &i64)> = stat
            .0
            .iter()
            .filter(|(k, _)| self.fields.is_match(k))
            .collect();
        fields.sort();
        Ok(fields
            .into_iter()
            .map(|(k, v)| {
                Family::untyped(
                    format!("node_vmstat_{k}"),
                    format!("/proc/vmstat information field {k}."),
                )
                .with(&[], *v as f64)
            })
            .collect())
    }
}
