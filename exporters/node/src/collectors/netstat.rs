//! `netstat`: protocol counters from /proc/net/{netstat,snmp,snmp6}.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

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
    layouts: Layouts,
}

impl NetstatCollector {
    pub fn new(paths: Arc<HostPaths>, fields: Regex) -> Self {
        Self {
            paths,
            fields,
            layouts: Layouts::default(),
        }
    }
}

impl BlockingCollector for NetstatCollector {
    fn name(&self) -> &'static str {
        "netstat"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let keep = |key: &str| self.fields.is_match(key);
        let mut stats = Vec::new();
        let layouts = &self.layouts;
        parse_paired(
            &read(&self.paths.proc("net/netstat"))?,
            layouts,
            keep,
            &mut stats,
        )?;
        parse_paired(
            &read(&self.paths.proc("net/snmp"))?,
            layouts,
            keep,
            &mut stats,
        )?;
        if let Ok(text) = crate::paths::read_text(self.paths.proc("net/snmp6")) {
            parse_snmp6(&text, layouts, keep, &mut stats)?;
        }
        stats.sort_by(|a, b| a.name.cmp(&b.name));
        stats.dedup_by(|a, b| a.name == b.name);
        Ok(stats
            .into_iter()
            .map(|s| Family::untyped(s.name, s.help).with(&[], s.value))
            .collect())
    }
}

/// One kept field: its family's name and help, and the value read.
#[derive(Debug, PartialEq)]
pub struct Stat {
    pub name: Cow<'static, str>,
    pub help: Cow<'static, str>,
    pub value: f64,
}

/// A field the filter keeps, by its position among its section's values.
#[derive(Clone)]
struct KeptField {
    at: usize,
    name: Cow<'static, str>,
    help: Cow<'static, str>,
}

/// What the filter keeps of each section layout seen: the kernel writes the
/// same header lines every time, so a scrape compares a header with the one
/// it saw before instead of building and matching ~400 keys. A header never
/// seen (a new kernel, a module loaded) is worked out once from the filter.
/// Bounded: past [`MAX_LAYOUTS`] layouts the table starts over.
#[derive(Default)]
pub struct Layouts(Mutex<Vec<Layout>>);

/// A section's field names as written, and what the filter keeps of them.
type Layout = (Box<str>, Arc<Plan>);

/// A section's number of fields and the ones kept, in order.
pub struct Plan {
    fields: usize,
    kept: Vec<KeptField>,
}

/// Section layouts kept (the three files have ~20 sections).
const MAX_LAYOUTS: usize = 64;

impl Layouts {
    /// The kept fields of the section whose field names are `signature`;
    /// `plan` works them out when it is new.
    fn kept(&self, signature: &str, plan: impl FnOnce() -> Plan) -> Arc<Plan> {
        let mut table = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, kept)) = table.iter().find(|(s, _)| **s == *signature) {
            return kept.clone();
        }
        let kept = Arc::new(plan());
        if table.len() >= MAX_LAYOUTS {
            table.clear();
        }
        table.push((signature.into(), kept.clone()));
        kept
    }
}

/// The fields of one section that `keep` takes: the key is `proto_name`.
fn plan<'a>(
    fields: impl Iterator<Item = (&'a str, &'a str)>,
    keep: &impl Fn(&str) -> bool,
) -> Plan {
    let mut key = String::new();
    let mut count = 0;
    let kept = fields
        .inspect(|_| count += 1)
        .enumerate()
        .filter_map(|(at, (proto, name))| {
            key.clear();
            key.push_str(proto);
            key.push('_');
            key.push_str(name);
            keep(&key).then(|| KeptField {
                at,
                name: sidewatch_common::intern_fmt(format_args!("node_netstat_{key}")),
                // The help names the field without the key's `_`.
                help: sidewatch_common::intern_fmt(format_args!("Statistic {proto}{name}.")),
            })
        })
        .collect();
    Plan {
        fields: count,
        kept,
    }
}

/// Checks every value of a section (each must be a number, kept or not) and
/// appends the kept ones. Integers, all the kernel writes, are checked
/// without being parsed.
fn take_values<'a>(
    values: impl Iterator<Item = &'a str>,
    kept: &[KeptField],
    what: impl Fn(usize) -> String,
    out: &mut Vec<Stat>,
) -> Result<(), CollectError> {
    let mut next = kept.iter().peekable();
    for (at, value) in values.enumerate() {
        let wanted = next.next_if(|k| k.at == at);
        if wanted.is_none() && is_integer(value) {
            continue;
        }
        let v = crate::paths::number_of(value, || what(at))?;
        if let Some(k) = wanted {
            out.push(Stat {
                name: k.name.clone(),
                help: k.help.clone(),
                value: v,
            });
        }
    }
    Ok(())
}

fn is_integer(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Header/value line pairs: `Tcp: RtoAlgorithm RtoMin` / `Tcp: 1 200`. Each
/// field `keep` accepts is appended (`node_netstat_Tcp_RtoMin`); every value
/// must be a number, kept or not.
pub fn parse_paired(
    text: &str,
    layouts: &Layouts,
    keep: impl Fn(&str) -> bool,
    out: &mut Vec<Stat>,
) -> Result<(), CollectError> {
    let mut lines = text.lines();
    while let (Some(header), Some(values)) = (lines.next(), lines.next()) {
        let (Some((proto, names)), Some((_, values))) =
            (header.split_once(':'), values.split_once(':'))
        else {
            continue;
        };
        let kept = layouts.kept(header, || {
            plan(names.split_ascii_whitespace().map(|n| (proto, n)), &keep)
        });
        take_values(
            values.split_ascii_whitespace().take(kept.fields),
            &kept.kept,
            |at| {
                let name = names.split_ascii_whitespace().nth(at).unwrap_or_default();
                format!("{proto} {name}")
            },
            out,
        )?;
    }
    Ok(())
}

/// `Ip6InReceives 123`: the protocol ends at its `6`. Appended as with
/// [`parse_paired`].
pub fn parse_snmp6(
    text: &str,
    layouts: &Layouts,
    keep: impl Fn(&str) -> bool,
    out: &mut Vec<Stat>,
) -> Result<(), CollectError> {
    // Lines with a field, a value and a protocol's `6`, as (proto, name, value).
    let lines = || {
        text.lines().filter_map(|line| {
            let mut f = line.split_ascii_whitespace();
            let (field, value) = (f.next()?, f.next()?);
            let six = field.find('6')?;
            let (proto, name) = field.split_at(six + 1);
            Some((proto, name, value))
        })
    };
    let mut signature = String::with_capacity(text.len());
    for (proto, name, _) in lines() {
        signature.push_str(proto);
        signature.push_str(name);
        signature.push(' ');
    }
    let kept = layouts.kept(&signature, || {
        plan(lines().map(|(proto, name, _)| (proto, name)), &keep)
    });
    take_values(
        lines().map(|(_, _, value)| value),
        &kept.kept,
        |at| {
            let (proto, name, _) = lines().nth(at).unwrap_or_default();
            format!("{proto} {name}")
        },
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(out: &[Stat]) -> Vec<(&str, &str, f64)> {
        out.iter().map(|s| (&*s.name, &*s.help, s.value)).collect()
    }

    #[test]
    fn only_kept_fields_are_returned_and_every_value_is_checked() {
        let layouts = Layouts::default();
        let text = "Tcp: RtoMin InSegs MaxConn\nTcp: 200 42 -1\nUdp: InDatagrams\nUdp: 7\n";
        let keep = |k: &str| k != "Tcp_RtoMin";
        // Twice: the second pass reads the layouts the first one kept.
        for _ in 0..2 {
            let mut out = Vec::new();
            parse_paired(text, &layouts, keep, &mut out).expect("parses");
            assert_eq!(
                names(&out),
                vec![
                    ("node_netstat_Tcp_InSegs", "Statistic TcpInSegs.", 42.0),
                    ("node_netstat_Tcp_MaxConn", "Statistic TcpMaxConn.", -1.0),
                    (
                        "node_netstat_Udp_InDatagrams",
                        "Statistic UdpInDatagrams.",
                        7.0
                    ),
                ]
            );
        }
        // A value that is not a number fails the scrape, kept or not, and
        // names its field; a decimal is a number.
        let bad = "Tcp: RtoMin InSegs MaxConn\nTcp: x 42 1\n";
        let err = parse_paired(bad, &layouts, keep, &mut Vec::new()).expect_err("x");
        assert!(err.to_string().contains("Tcp RtoMin"), "{err}");
        let mut out = Vec::new();
        parse_paired(
            "Tcp: RtoMin InSegs MaxConn\nTcp: 1.5 2e3 1\n",
            &layouts,
            keep,
            &mut out,
        )
        .expect("decimals parse");
        assert_eq!(out[0].value, 2000.0);

        let mut six = Vec::new();
        let text6 = "Ip6InReceives 5\nUdp6NoPorts 3\n";
        for _ in 0..2 {
            six.clear();
            parse_snmp6(text6, &layouts, |k| k.starts_with("Udp6"), &mut six).expect("parses");
            assert_eq!(
                names(&six),
                vec![("node_netstat_Udp6_NoPorts", "Statistic Udp6NoPorts.", 3.0)]
            );
        }
        let err = parse_snmp6(
            "Ip6InReceives 5\nUdp6NoPorts z\n",
            &layouts,
            |_| false,
            &mut six,
        )
        .expect_err("z");
        assert!(err.to_string().contains("Udp6 NoPorts"), "{err}");
    }

    #[test]
    fn a_changed_header_is_planned_again_and_the_table_is_bounded() {
        let layouts = Layouts::default();
        let keep = |k: &str| k.ends_with("_B");
        for i in 0..(MAX_LAYOUTS * 2) {
            let text = format!("P{i}: A B\nP{i}: 1 {i}\n");
            let mut out = Vec::new();
            parse_paired(&text, &layouts, keep, &mut out).expect("parses");
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].name, format!("node_netstat_P{i}_B"));
            assert_eq!(out[0].value, i as f64);
        }
        assert!(layouts.0.lock().expect("lock").len() <= MAX_LAYOUTS);
    }
}
