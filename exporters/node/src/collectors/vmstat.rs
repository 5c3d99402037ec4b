//! `vmstat`: selected /proc/vmstat fields as `node_vmstat_<field>`.

use std::sync::Arc;

use crate::filter::Regex;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::paths::{read, HostPaths};
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
        let text = read(&self.paths.proc("vmstat"))?;
        let mut fields = parse(&text, |k| self.fields.is_match(k))?;
        fields.sort_by(|a, b| a.0.cmp(b.0));
        Ok(fields
            .into_iter()
            .map(|(k, v)| {
                Family::untyped(
                    sidewatch_common::intern_fmt(format_args!("node_vmstat_{k}")),
                    sidewatch_common::intern_fmt(format_args!(
                        "/proc/vmstat information field {k}."
                    )),
                )
                .with(&[], v)
            })
            .collect())
    }
}

/// `key value` lines; the fields `keep` accepts (~15 of ~180 with the
/// default filter), each value an integer, kept or not.
pub fn parse(text: &str, keep: impl Fn(&str) -> bool) -> Result<Vec<(&str, f64)>, CollectError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (f.next(), f.next()) else {
            continue;
        };
        let v: i64 = value.parse().map_err(|_| {
            CollectError::parse(format!("/proc/vmstat {key}: {value:?} is not a number"))
        })?;
        if keep(key) {
            out.push((key, v as f64));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_fields_with_their_values() {
        let text = "nr_free_pages 100\npgfault 7\noom_kill 0\n";
        let got = parse(text, |k| k.starts_with("pg") || k == "oom_kill").expect("parses");
        assert_eq!(got, vec![("pgfault", 7.0), ("oom_kill", 0.0)]);
        assert!(parse("pgfault x\n", |_| false).is_err());
    }
}
