//! Command line of sidewatch-node: raw flags in [`Cli`], validated into
//! [`NodeConfig`], which the rest of the program trusts.

use std::path::PathBuf;
use std::sync::Arc;

use crate::filter::Regex;
use clap::{CommandFactory, FromArgMatches, Parser};
use sidewatch_common::cli::{self, CommonArgs, StartError};
use sidewatch_common::http::HttpOptions;

use crate::collectors;
use crate::paths::HostPaths;

/// Prometheus exporter for host metrics from /proc and /sys, with
/// node_exporter's flags and metric names.
#[derive(Debug, Parser)]
#[command(name = "sidewatch-node", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    /// procfs mountpoint (a sidecar mounts the host's at e.g. /host/proc).
    #[arg(
        long = "path.procfs",
        env = "SIDEWATCH_PATH_PROCFS",
        default_value = "/proc",
        value_name = "PATH"
    )]
    pub procfs: PathBuf,

    /// sysfs mountpoint.
    #[arg(
        long = "path.sysfs",
        env = "SIDEWATCH_PATH_SYSFS",
        default_value = "/sys",
        value_name = "PATH"
    )]
    pub sysfs: PathBuf,

    /// rootfs mountpoint: filesystems and os-release are read under it.
    #[arg(
        long = "path.rootfs",
        env = "SIDEWATCH_PATH_ROOTFS",
        default_value = "/",
        value_name = "PATH"
    )]
    pub rootfs: PathBuf,

    /// udev data path, for node_disk_info.
    #[arg(
        long = "path.udev.data",
        env = "SIDEWATCH_PATH_UDEV_DATA",
        default_value = "/run/udev/data",
        value_name = "PATH"
    )]
    pub udev_data: PathBuf,

    #[command(flatten)]
    pub cpu: crate::collectors::cpu::CpuArgs,

    #[command(flatten)]
    pub filesystem: crate::collectors::filesystem::FilesystemArgs,

    #[command(flatten)]
    pub diskstats: crate::collectors::diskstats::DiskstatsArgs,

    #[command(flatten)]
    pub hwmon: crate::collectors::hwmon::HwmonArgs,

    #[command(flatten)]
    pub powersupply: crate::collectors::powersupplyclass::PowerSupplyArgs,

    #[command(flatten)]
    pub tapestats: crate::collectors::tapestats::TapestatsArgs,

    #[command(flatten)]
    pub ipvs: crate::collectors::ipvs::IpvsArgs,

    #[command(flatten)]
    pub bcache: crate::collectors::bcache::BcacheArgs,

    #[command(flatten)]
    pub netclass: crate::collectors::netclass::NetclassArgs,

    #[command(flatten)]
    pub textfile: crate::collectors::textfile::TextfileArgs,

    #[command(flatten)]
    pub netdev: crate::collectors::netdev::NetdevArgs,

    #[command(flatten)]
    pub vmstat: crate::collectors::vmstat::VmstatArgs,

    #[command(flatten)]
    pub netstat: crate::collectors::netstat::NetstatArgs,
}

/// A regular expression flag, its error in one line.
pub fn parse_regex(s: &str) -> Result<Regex, String> {
    // One line: regex errors are multi-line drawings of the pattern.
    Regex::new(s).map_err(|e| {
        e.to_string()
            .lines()
            .last()
            .unwrap_or("invalid regex")
            .trim()
            .to_owned()
    })
}

/// The whole command definition, with `--collector.<name>` switches.
pub fn command() -> clap::Command {
    let cmd = Cli::command()
        .args_override_self(true)
        .mut_arg("listen_address", |a| a.default_value(":9100"));
    cli::add_collector_flags(cmd, &collectors::specs())
}

/// node_exporter's flags sidewatch-node does not take, and why.
const SYSTEMD: &str = "the systemd collector needs the host's D-Bus socket and is not implemented (docs/node.md); a textfile job can publish failed units";
pub const REFUSED_FLAGS: &[cli::RefusedFlag] = &[
    ("collector.systemd", SYSTEMD),
    ("collector.systemd.unit-include", SYSTEMD),
    ("collector.systemd.unit-exclude", SYSTEMD),
    ("collector.systemd.enable-task-metrics", SYSTEMD),
    ("collector.systemd.enable-restarts-metrics", SYSTEMD),
    ("collector.systemd.enable-start-time-metrics", SYSTEMD),
];

/// Everything sidewatch-node needs to run, validated.
pub struct NodeConfig {
    pub cli: Cli,
    pub paths: Arc<HostPaths>,
    pub collectors: Vec<&'static str>,
    pub http: HttpOptions,
}

impl NodeConfig {
    pub fn from_args<I, T>(args: I) -> Result<Self, StartError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cmd = command();
        cli::check_collector_env(&cmd, std::env::vars().map(|(k, _)| k))?;
        let args: Vec<std::ffi::OsString> = args
            .into_iter()
            .map(Into::into)
            // Turning off what sidewatch never runs is a no-op.
            .filter(|a| a != "--no-collector.systemd")
            .collect();
        cli::refuse_peer_flags(&args, REFUSED_FLAGS)?;
        let matches = cli::get_matches(cmd, args)?;
        let cli = Cli::from_arg_matches(&matches)?;
        let collectors = cli::enabled_collectors(&matches, &collectors::specs());
        let kernel = crate::paths::kernel_filesystems(&cli.procfs, &cli.sysfs, &cli.udev_data);
        if kernel {
            crate::paths::kept::enable(&cli.procfs, &cli.sysfs);
        }
        let paths = Arc::new(HostPaths {
            procfs: cli.procfs.clone(),
            sysfs: cli.sysfs.clone(),
            rootfs: cli.rootfs.clone(),
            udev_data: cli.udev_data.clone(),
            kernel,
        });
        let http = HttpOptions::from_flags(&cli.common.web, &cli.common.scrape)?;
        Ok(Self {
            cli,
            paths,
            collectors,
            http,
        })
    }
}
