//! `conntrack`: the connection-tracking table's size and limit from
//! /proc/sys/net/netfilter, and its statistics from /proc/net/stat/nf_conntrack
//! (one line per CPU, in hexadecimal; summed). Without netfilter loaded there
//! is nothing to report, and the collector still succeeds, as node_exporter's.

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{number, HostPaths};

/// `--collector.conntrack`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "conntrack",
    "connection tracking table (/proc/sys/net/netfilter, /proc/net/stat/nf_conntrack)",
    |c| {
        crate::paths::reader(
            &c.paths,
            ConntrackCollector {
                paths: c.paths.clone(),
            },
        )
    },
);

pub struct ConntrackCollector {
    paths: Arc<HostPaths>,
}

/// /proc/net/stat/nf_conntrack columns node_exporter reports, and their help.
const STATS: &[(&str, &str)] = &[
    ("found", "Number of searched entries which were successful."),
    ("invalid", "Number of packets seen which can not be tracked."),
    ("ignore", "Number of packets seen which are already connected to a conntrack entry."),
    ("insert", "Number of entries inserted into the list."),
    ("insert_failed", "Number of entries for which list insertion was attempted but failed."),
    ("drop", "Number of packets dropped due to conntrack failure."),
    ("early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached."),
    ("search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes."),
];

/// Sums the per-CPU lines of /proc/net/stat/nf_conntrack by column name.
pub fn parse_stat(text: &str) -> Result<Vec<(String, f64)>, CollectError> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| CollectError::parse("nf_conntrack: empty"))?
        .split_ascii_whitespace()
        .collect();
    let mut sums = vec![0.0; header.len()];
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let values: Vec<&str> = line.split_ascii_whitespace().collect();
        if values.len() != header.len() {
            return Err(CollectError::parse(format!(
                "nf_conntrack: {} columns where the header has {}",
                values.len(),
                header.len()
            )));
        }
        for (sum, v) in sums.iter_mut().zip(values) {
            *sum += u64::from_str_radix(v, 16).map_err(|_| {
                CollectError::parse(format!("nf_conntrack: {v:?} is not hexadecimal"))
            })? as f64;
        }
    }
    Ok(header.into_iter().map(str::to_owned).zip(sums).collect())
}

impl BlockingCollector for ConntrackCollector {
    fn name(&self) -> &'static str {
        "conntrack"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let read = |rel: &str| crate::paths::read_text(self.paths.proc(rel)).ok();
        let (Some(count), Some(max)) = (
            read("sys/net/netfilter/nf_conntrack_count"),
            read("sys/net/netfilter/nf_conntrack_max"),
        ) else {
            tracing::debug!("no connection tracking (netfilter not loaded)");
            return Ok(Vec::new());
        };
        let mut out = vec![
            Family::gauge(
                "node_nf_conntrack_entries",
                "Number of currently allocated flow entries for connection tracking.",
            )
            .with(&[], number(&count, "nf_conntrack_count")?),
            Family::gauge(
                "node_nf_conntrack_entries_limit",
                "Maximum size of connection tracking table.",
            )
            .with(&[], number(&max, "nf_conntrack_max")?),
        ];
        if let Some(text) = read("net/stat/nf_conntrack") {
            let sums = parse_stat(&text)?;
            for (name, help) in STATS {
                if let Some((_, v)) = sums.iter().find(|(n, _)| n == name) {
                    out.push(
                        Family::gauge(format!("node_nf_conntrack_stat_{name}"), *help)
                            .with(&[], *v),
                    );
                }
            }
        }
        Ok(out)
    }
}
