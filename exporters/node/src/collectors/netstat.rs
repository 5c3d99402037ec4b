//! `netstat`: protocol counters from /proc/net/{netstat,snmp,snmp6}.

use std::sync::Arc;

use crate::filter::Regex;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::paths::{number, read, HostPaths};
use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// `--collector.netstat`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "netstat",
    "protocol counters (/proc/net/{netstat,snmp,snmp6})",
    |c| {
        crate::paths::reader(
            &c.paths,
            NetstatCollector::new(c.paths.clone(), c.cli.netstat.fields.clone()),
        )
    },
);

/// This collector's own flags.
#[derive(Debug, Clone, clap::Args)]
pub struct NetstatArgs {
    /// netstat fields to return, as Protocol_Field (regular expression).
    #[arg(
        id = "collector.netstat.fields", long = "collector.netstat.fields",
        env = "SIDEWATCH_COLLECTOR_NETSTAT_FIELDS",
        default_value = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$",
        value_parser = crate::config::parse_regex,
        value_name = "REGEX"
    )]
    pub fields: Regex,
}

pub struct NetstatCollector {
    paths: Arc<HostPaths>,
    fields: Regex,
}

impl NetstatCollector {
    pub fn new(paths: Arc<HostPaths>, fields: Regex) -> Self {
        Self { paths, fields }
    }
}

impl BlockingCollector for NetstatCollector {
    fn name(&self) -> &'static str {
        "netstat"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let mut stats = parse_paired(&read(&self.paths.proc("net/netstat"))?)?;
        stats.extend(parse_paired(&read(&self.paths.proc("net/snmp"))?)?);
        if let Ok(text) = crate::paths::read_text(self.paths.proc("net/snmp6")) {
            stats.extend(parse_snmp6(&text)?);
        }
        stats.sort_by(|a, b| a.0.cmp(&b.0));
        stats.dedup_by(|a, b| a.0 == b.0);
        Ok(stats
            .into_iter()
            .filter(|(key, _)| self.fields.is_match(key))
            .map(|(key, value)| {
                let stat = key.replacen('_', "", 1);
                Family::untyped(format!("node_netstat_{key}"), format!("Statistic {stat}."))
                    .with(&[], value)
            })
            .collect())
    }
}

/// Header/value line pairs: `Tcp: RtoAlgorithm RtoMin` / `Tcp: 1 200`.
pub fn parse_paired(text: &str) -> Result<Vec<(String, f64)>, CollectError> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for pair in lines.chunks(2) {
        let [names, values] = pair else { continue };
        let (Some((proto, names)), Some((_, values))) =
            (names.split_once(':'), values.split_once(':'))
        else {
            continue;
        };
        for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
            out.push((
                format!("{proto}_{name}"),
                number(value, &format!("{proto} {name}"))?,
            ));
        }
    }
    Ok(out)
}

/// `Ip6InReceives 123`: the protocol ends at its `6`.
pub fn parse_snmp6(text: &str) -> Result<Vec<(String, f64)>, CollectError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(key), Some(value)) = (f.next(), f.next()) else {
            continue;
        };
        let Some(six) = key.find('6') else { continue };
        let (proto, name) = key.split_at(six + 1);
        out.push((format!("{proto}_{name}"), number(value, key)?));
    }
    Ok(out)
}
