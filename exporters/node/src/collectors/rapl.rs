//! `rapl`: energy counters of Intel and AMD RAPL domains (package, core,
//! uncore, dram, psys) from /sys/class/powercap, in joules.

use std::collections::HashMap;
use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{Blocking, BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{attr, entries, HostPaths};

/// `--collector.rapl`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("rapl", "RAPL energy counters (/sys/class/powercap)", |c| {
        Arc::new(Blocking::new(RaplCollector {
            paths: c.paths.clone(),
        }))
    });

pub struct RaplCollector {
    paths: Arc<HostPaths>,
}

/// `package-1` → ("package", Some(1)); `dram` → ("dram", None).
fn zone_name(name: &str) -> (&str, Option<u32>) {
    match name.rsplit_once('-') {
        Some((base, n)) => match n.parse() {
            Ok(i) => (base, Some(i)),
            Err(_) => (name, None),
        },
        None => (name, None),
    }
}

impl BlockingCollector for RaplCollector {
    fn nothing_to_block_on(&self) -> bool {
        crate::paths::absent_or_empty(&self.paths, "class/powercap")
    }

    fn name(&self) -> &'static str {
        "rapl"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let mut families: Vec<Family> = Vec::new();
        let mut used: HashMap<String, u32> = HashMap::new();
        for (_, dir) in entries(&self.paths.sys("class/powercap"), "") {
            // The control type directory (intel-rapl) has no name.
            let Some(raw) = attr(&dir, "name") else {
                continue;
            };
            let (base, index) = zone_name(&raw);
            let base: String = base
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let index = index.unwrap_or_else(|| {
                let n = used.entry(base.clone()).or_default();
                *n += 1;
                *n - 1
            });
            // energy_uj is readable by root only on patched kernels
            // (CVE-2020-8694): no data then, as from the peer.
            let Some(uj) = attr(&dir, "energy_uj").and_then(|v| v.parse::<f64>().ok()) else {
                continue;
            };
            let name = format!("node_rapl_{base}_joules_total");
            let path = dir.display().to_string();
            let index = index.to_string();
            match families.iter_mut().find(|f| f.name == name) {
                Some(f) => f.add(&[("index", &index), ("path", &path)], uj / 1e6),
                None => families.push(
                    Family::counter(name, format!("Current RAPL {base} value in joules"))
                        .with(&[("index", &index), ("path", &path)], uj / 1e6),
                ),
            }
        }
        Ok(families)
    }
}
