//! `edac`: memory errors the EDAC drivers count, per memory controller and
//! chip-select row (/sys/devices/system/edac/mc).

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::{attr_number, entries, HostPaths};

/// `--collector.edac`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "edac",
    "memory error counts (/sys/devices/system/edac)",
    |c| {
        crate::paths::reader(
            &c.paths,
            EdacCollector {
                paths: c.paths.clone(),
            },
        )
    },
);

pub struct EdacCollector {
    paths: Arc<HostPaths>,
}

fn count(dir: &std::path::Path, file: &str) -> Result<f64, CollectError> {
    attr_number(dir, file)
        .ok_or_else(|| CollectError::parse(format!("{}: no number in {file}", dir.display())))
}

impl BlockingCollector for EdacCollector {
    fn name(&self) -> &'static str {
        "edac"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let c = |name: &str, help: &'static str| Family::counter(format!("node_edac_{name}"), help);
        let mut ce = c(
            "correctable_errors_total",
            "Total correctable memory errors.",
        );
        let mut ue = c(
            "uncorrectable_errors_total",
            "Total uncorrectable memory errors.",
        );
        let mut row_ce = c(
            "csrow_correctable_errors_total",
            "Total correctable memory errors for this csrow.",
        );
        let mut row_ue = c(
            "csrow_uncorrectable_errors_total",
            "Total uncorrectable memory errors for this csrow.",
        );
        for (name, dir) in entries(&self.paths.sys("devices/system/edac/mc"), "mc") {
            let Some(mc) = name
                .strip_prefix("mc")
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            ce.add(&[("controller", mc)], count(&dir, "ce_count")?);
            ue.add(&[("controller", mc)], count(&dir, "ue_count")?);
            // Errors the driver could not place on a row.
            let unknown = [("controller", mc), ("csrow", "unknown")];
            row_ce.add(&unknown, count(&dir, "ce_noinfo_count")?);
            row_ue.add(&unknown, count(&dir, "ue_noinfo_count")?);
            for (row, rdir) in entries(&dir, "csrow") {
                let row = row.trim_start_matches("csrow");
                let l = [("controller", mc), ("csrow", row)];
                row_ce.add(&l, count(&rdir, "ce_count")?);
                row_ue.add(&l, count(&rdir, "ue_count")?);
            }
        }
        Ok(vec![ce, row_ce, row_ue, ue])
    }
}
