//! `os`: the distribution from os-release under --path.rootfs.

use std::sync::Arc;

use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::paths::HostPaths;
use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::Blocking;

use crate::config::NodeConfig;

/// `--collector.os`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("os", "distribution (os-release)", |c| {
        Arc::new(Blocking::new(OsCollector::new(c.paths.clone())))
    });

pub struct OsCollector {
    paths: Arc<HostPaths>,
}

impl OsCollector {
    pub fn new(paths: Arc<HostPaths>) -> Self {
        Self { paths }
    }
}

impl BlockingCollector for OsCollector {
    fn name(&self) -> &'static str {
        "os"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let mut last = None;
        for file in ["/etc/os-release", "/usr/lib/os-release"] {
            let path = self.paths.root(file);
            match crate::paths::read_text(&path) {
                Ok(text) => return Ok(families(&parse(&text))),
                Err(e) => last = Some(CollectError::io(path.display().to_string(), e)),
            }
        }
        Err(last.unwrap_or_else(|| CollectError::parse("no os-release")))
    }
}

/// `KEY=value` pairs, with shell quoting removed.
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let unquoted = v
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
                .unwrap_or(v);
            (
                k.trim().to_owned(),
                unquoted.replace("\\\"", "\"").replace("\\\\", "\\"),
            )
        })
        .collect()
}

pub fn families(release: &[(String, String)]) -> Vec<Family> {
    let get = |k: &str| {
        release
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let info = Family::gauge(
        "node_os_info",
        "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
    )
    .with(
        &[
            ("build_id", get("BUILD_ID")),
            ("id", get("ID")),
            ("id_like", get("ID_LIKE")),
            ("image_id", get("IMAGE_ID")),
            ("image_version", get("IMAGE_VERSION")),
            ("name", get("NAME")),
            ("pretty_name", get("PRETTY_NAME")),
            ("variant", get("VARIANT")),
            ("variant_id", get("VARIANT_ID")),
            ("version", get("VERSION")),
            ("version_codename", get("VERSION_CODENAME")),
            ("version_id", get("VERSION_ID")),
        ],
        1.0,
    );
    let mut out = vec![info];
    if let Some(version) = major_minor(get("VERSION_ID")) {
        out.push(
            Family::gauge(
                "node_os_version",
                "Metric containing the major.minor part of the OS version.",
            )
            .with(
                &[
                    ("id", get("ID")),
                    ("id_like", get("ID_LIKE")),
                    ("name", get("NAME")),
                ],
                version,
            ),
        );
    }
    out
}

/// `22.04.3` → 22.04, `12` → 12.
fn major_minor(version_id: &str) -> Option<f64> {
    let mut parts = version_id.split('.');
    let major = parts.next()?;
    let joined = match parts.next() {
        Some(minor) => format!("{major}.{minor}"),
        None => major.to_owned(),
    };
    joined.parse().ok()
}
