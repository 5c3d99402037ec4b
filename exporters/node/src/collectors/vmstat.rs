//! `vmstat`: selected /proc/vmstat fields as `node_vmstat_<field>`.

use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

use procfs::FromBufRead;
use regex::Regex;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::paths::{proc_err, HostPaths};

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

    fn collect_blocking(&self) -> CollectResult {
        let path = self.paths.proc("vmstat");
        let file =
            File::open(&path).map_err(|e| CollectError::io(path.display().to_string(), e))?;
        let stat =
            procfs::VmStat::from_buf_read(BufReader::new(file)).map_err(|e| proc_err(&path, e))?;
        let mut fields: Vec<(&String, &i64)> = stat
            .0
            .iter()
            .filter(|(k, _)| self.fields.is_match(k))
            .collect();
        fields.sort();
        Ok(fields
            .into_iter()
            .map(|(k, v)| {
                Family::untyped(
                    format!("node_vmstat_{k}"),
                    format!("/proc/vmstat information field {k}."),
                )
                .with(&[], *v as f64)
            })
            .collect())
    }
}
