//! `meminfo`: every /proc/meminfo field as `node_memory_<Field>[_bytes]`.

use std::sync::Arc;

use sidewatch_common::{intern, BlockingCollector, CollectError, CollectResult, Family};

use crate::paths::{number_of, read, HostPaths};
use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// `--collector.meminfo`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("meminfo", "memory (/proc/meminfo)", |c| {
        crate::paths::reader(&c.paths, MeminfoCollector::new(c.paths.clone()))
    });

pub struct MeminfoCollector {
    paths: Arc<HostPaths>,
}

impl MeminfoCollector {
    pub fn new(paths: Arc<HostPaths>) -> Self {
        Self { paths }
    }
}

impl BlockingCollector for MeminfoCollector {
    fn name(&self) -> &'static str {
        "meminfo"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        parse(&read(&self.paths.proc("meminfo"))?)
    }
}

pub fn parse(text: &str) -> CollectResult {
    let mut out = Vec::with_capacity(text.bytes().filter(|&b| b == b'\n').count() + 1);
    let mut name = String::from("node_memory_");
    let mut help = String::from("Memory information field ");
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (key, rest) = line
            .split_once(':')
            .ok_or_else(|| CollectError::parse(format!("/proc/meminfo: bad line {line:?}")))?;
        let mut parts = rest.split_ascii_whitespace();
        let raw = parts.next().unwrap_or_default();
        let value = number_of(raw, || format!("/proc/meminfo {key}"))?;
        // `Active(anon)` becomes `Active_anon`, as node_exporter names it.
        // Name and help are written into buffers kept for the whole parse
        // and interned: after the first scrape a field costs no allocation
        // for either.
        let bytes = parts.next() == Some("kB");
        let suffix = if bytes { "_bytes" } else { "" };
        name.truncate("node_memory_".len());
        push_field(&mut name, key, suffix);
        help.truncate("Memory information field ".len());
        push_field(&mut help, key, suffix);
        help.push('.');
        let value = if bytes { value * 1024.0 } else { value };
        out.push(Family::gauge(intern(&name), intern(&help)).with(&[], value));
    }
    Ok(out)
}

/// Appends `key` with `(` as `_` and `)` dropped, then `suffix`.
fn push_field(out: &mut String, key: &str, suffix: &str) {
    for c in key.chars() {
        match c {
            '(' => out.push('_'),
            ')' => {}
            c => out.push(c),
        }
    }
    out.push_str(suffix);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_helps_and_values_follow_node_exporter() {
        let text = "MemTotal:       16384 kB\nActive(anon):    2048 kB\nHugePages_Total:       3\n";
        let families = parse(text).expect("a well-formed meminfo");
        let got: Vec<(&str, &str, f64)> = families
            .iter()
            .map(|f| (f.name.as_ref(), f.help.as_ref(), f.samples[0].value))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "node_memory_MemTotal_bytes",
                    "Memory information field MemTotal_bytes.",
                    16384.0 * 1024.0
                ),
                (
                    "node_memory_Active_anon_bytes",
                    "Memory information field Active_anon_bytes.",
                    2048.0 * 1024.0
                ),
                (
                    "node_memory_HugePages_Total",
                    "Memory information field HugePages_Total.",
                    3.0
                ),
            ]
        );
        assert!(parse("MemTotal: lots kB\n").is_err());
    }
}
