//! `sockstat`: socket counts from /proc/net/sockstat and sockstat6.

use std::sync::Arc;

use sidewatch_common::{BlockingCollector, CollectResult, Family};

use crate::paths::{number, read, HostPaths};
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
        let fields: Vec<&str> = rest.split_whitespace().collect();
        for pair in fields.chunks(2) {
            let [key, value] = pair else { continue };
            let v = number(value, &format!("sockstat {proto} {key}"))?;
            if proto == "sockets" {
                out.push(
                    Family::gauge(
                        format!("node_sockstat_{proto}_{key}"),
                        "Number of IPv4 sockets in use.",
                    )
                    .with(&[], v),
                );
                continue;
            }
            out.push(
                Family::gauge(
                    format!("node_sockstat_{proto}_{key}"),
                    format!("Number of {proto} sockets in state {key}."),
                )
                .with(&[], v),
            );
            if *key == "mem" {
                out.push(
                    Family::gauge(
                        format!("node_sockstat_{proto}_mem_bytes"),
                        format!("Number of {proto} sockets in state mem_bytes."),
                    )
                    .with(&[], v * page_size),
                );
            }
        }
    }
    Ok(out)
}
