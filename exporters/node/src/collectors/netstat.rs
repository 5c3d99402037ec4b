//! `netstat`: protocol counters from /proc/net/{netstat,snmp,snmp6}.

use std::sync::Arc;

use crate::filter::Regex;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::paths::{read, HostPaths};
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
        // Only the fields the filter keeps become strings: the three files
        // hold ~400 fields and the default filter keeps ~30.
        let keep = |key: &str| self.fields.is_match(key);
        let mut stats = Vec::new();
        parse_paired(&read(&self.paths.proc("net/netstat"))?, keep, &mut stats)?;
        parse_paired(&read(&self.paths.proc("net/snmp"))?, keep, &mut stats)?;
        if let Ok(text) = crate::paths::read_text(self.paths.proc("net/snmp6")) {
            parse_snmp6(&text, keep, &mut stats)?;
        }
        stats.sort_by(|a, b| a.0.cmp(&b.0));
        stats.dedup_by(|a, b| a.0 == b.0);
        Ok(stats
            .into_iter()
            .map(|(key, value)| {
                // The help names the field without its first `_` (`TcpExt_...`
                // is `TcpExt...`), written without a copy of the key.
                let (proto, field) = key.split_once('_').unwrap_or((&key, ""));
                Family::untyped(
                    sidewatch_common::intern_fmt(format_args!("node_netstat_{key}")),
                    sidewatch_common::intern_fmt(format_args!("Statistic {proto}{field}.")),
                )
                .with(&[], value)
            })
            .collect())
    }
}

/// Checks `value`, and appends (`proto_name`, value) when `keep` takes the
/// key; `key` is the buffer the key is built in, so that only kept fields
/// allocate.
fn push_kept(
    key: &mut String,
    proto: &str,
    name: &str,
    value: &str,
    keep: &impl Fn(&str) -> bool,
    out: &mut Vec<(String, f64)>,
) -> Result<(), CollectError> {
    let v = crate::paths::number_of(value, || format!("{proto} {name}"))?;
    key.clear();
    key.push_str(proto);
    key.push('_');
    key.push_str(name);
    if keep(key) {
        out.push((key.clone(), v));
    }
    Ok(())
}

/// Header/value line pairs: `Tcp: RtoAlgorithm RtoMin` / `Tcp: 1 200`. Each
/// field `keep` accepts is appended as (`Tcp_RtoMin`, value); every value
/// must be a number, kept or not.
pub fn parse_paired(
    text: &str,
    keep: impl Fn(&str) -> bool,
    out: &mut Vec<(String, f64)>,
) -> Result<(), CollectError> {
    let mut key = String::new();
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let (Some((proto, names)), Some((_, values))) =
            (names.split_once(':'), values.split_once(':'))
        else {
            continue;
        };
        for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
            push_kept(&mut key, proto, name, value, &keep, out)?;
        }
    }
    Ok(())
}

/// `Ip6InReceives 123`: the protocol ends at its `6`. Appended as with
/// [`parse_paired`].
pub fn parse_snmp6(
    text: &str,
    keep: impl Fn(&str) -> bool,
    out: &mut Vec<(String, f64)>,
) -> Result<(), CollectError> {
    let mut key = String::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(field), Some(value)) = (f.next(), f.next()) else {
            continue;
        };
        let Some(six) = field.find('6') else { continue };
        let (proto, name) = field.split_at(six + 1);
        push_kept(&mut key, proto, name, value, &keep, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kept_fields_are_returned_and_every_value_is_checked() {
        let text = "Tcp: RtoMin InSegs\nTcp: 200 42\nUdp: InDatagrams\nUdp: 7\n";
        let mut out = Vec::new();
        parse_paired(text, |k| k != "Tcp_RtoMin", &mut out).expect("parses");
        assert_eq!(
            out,
            vec![
                ("Tcp_InSegs".to_owned(), 42.0),
                ("Udp_InDatagrams".to_owned(), 7.0)
            ]
        );
        let bad = "Tcp: RtoMin InSegs\nTcp: x 42\n";
        assert!(parse_paired(bad, |k| k == "Tcp_InSegs", &mut Vec::new()).is_err());
        let mut six = Vec::new();
        parse_snmp6(
            "Ip6InReceives 5\nUdp6NoPorts 3\n",
            |k| k.starts_with("Udp6"),
            &mut six,
        )
        .expect("parses");
        assert_eq!(six, vec![("Udp6_NoPorts".to_owned(), 3.0)]);
    }
}
