//! `sockstat`: socket counts from /proc/net/sockstat and sockstat6.

use std::sync::Arc;

use sidewatch_common::{BlockingCollector, CollectResult, Family};

use crate::paths::{number_of, read, HostPaths};
use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// `--collector.sockstat`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("sockstat", "sockets (/proc/net/sockstat{,6})", |c| {
        crate::paths::reader(
            &c.paths,
            SockstatCollector::new(c.paths.clone(), procfs::page_size()),
        )
    });

pub struct SockstatCollector {
    paths: Arc<HostPaths>,
    page_size: f64,
}

impl SockstatCollector {
    pub fn new(paths: Arc<HostPaths>, page_size: u64) -> Self {
        Self {
            paths,
            page_size: page_size as f64,
        }
    }
}

impl BlockingCollector for SockstatCollector {
    fn name(&self) -> &'static str {
        "sockstat"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let mut out = parse(&read(&self.paths.proc("net/sockstat"))?, self.page_size)?;
        // IPv6 may be disabled; its file is then absent.
        if let Ok(text) = crate::paths::read_text(self.paths.proc("net/sockstat6")) {
            out.extend(parse(&text, self.page_size)?);
        }
        Ok(out)
    }
}

/// `TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1` → `node_sockstat_TCP_inuse` ...
pub fn parse(text: &str, page_size: f64) -> CollectResult {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((proto, rest)) = line.split_once(':') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        for pair in fields.chunks(2) {
            let [key, value] = pair else { continue };
            let v = number_of(value, || format!("sockstat {proto} {key}"))?;
            if proto == "sockets" {
                out.push(
                    Family::gauge(
                        sidewatch_common::intern_fmt(format_args!("node_sockstat_{proto}_{key}")),
                        "Number of IPv4 sockets in use.",
                    )
                    .with(&[], v),
                );
                continue;
            }
            out.push(
                Family::gauge(
                    sidewatch_common::intern_fmt(format_args!("node_sockstat_{proto}_{key}")),
                    sidewatch_common::intern_fmt(format_args!(
                        "Number of {proto} sockets in state {key}."
                    )),
                )
                .with(&[], v),
            );
            if *key == "mem" {
                out.push(
                    Family::gauge(
                        sidewatch_common::intern_fmt(format_args!(
                            "node_sockstat_{proto}_mem_bytes"
                        )),
                        sidewatch_common::intern_fmt(format_args!(
                            "Number of {proto} sockets in state mem_bytes."
                        )),
                    )
                    .with(&[], v * page_size),
                );
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_that_is_not_a_number_is_named_in_the_error() {
        let families = parse("TCP: inuse 5 mem 2\n", 4096.0).expect("well-formed");
        let names: Vec<&str> = families.iter().map(|f| f.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "node_sockstat_TCP_inuse",
                "node_sockstat_TCP_mem",
                "node_sockstat_TCP_mem_bytes"
            ]
        );
        assert_eq!(families[2].samples[0].value, 2.0 * 4096.0);
        let err = parse("TCP: inuse 5 orphan x\n", 4096.0).expect_err("x is no number");
        assert_eq!(
            err.to_string(),
            "sockstat TCP orphan: \"x\" is not a number"
        );
    }
}
