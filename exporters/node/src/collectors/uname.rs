//! `uname`: the kernel's identity from uname(2).

use sidewatch_common::{BlockingCollector, CollectResult, Family};

use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// `--collector.uname`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("uname", "kernel identity (uname)", |c| {
        crate::paths::reader(&c.paths, UnameCollector)
    });

pub struct UnameCollector;

impl BlockingCollector for UnameCollector {
    fn name(&self) -> &'static str {
        "uname"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let u = rustix::system::uname();
        let s = |c: &std::ffi::CStr| c.to_string_lossy().into_owned();
        let (sysname, nodename, release, version, machine, domainname) = (
            s(u.sysname()),
            s(u.nodename()),
            s(u.release()),
            s(u.version()),
            s(u.machine()),
            s(u.domainname()),
        );
        Ok(vec![Family::gauge(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
        )
        .with(
            &[
                ("domainname", &domainname),
                ("machine", &machine),
                ("nodename", &nodename),
                ("release", &release),
                ("sysname", &sysname),
                ("version", &version),
            ],
            1.0,
        )])
    }
}
