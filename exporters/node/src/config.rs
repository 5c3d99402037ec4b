//! Command line of sidewatch-node: raw flags in [`Cli`], validated into
//! [`NodeConfig`], which the rest of the program trusts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use regex::Regex;
use sidewatch_common::cli::{self, CommonArgs, StartError};
use sidewatch_common::http::HttpOptions;

use crate::collectors::SPECS;
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

    /// Mount points to ignore (regular expression).
    #[arg(
        long = "collector.filesystem.mount-points-exclude",
        env = "SIDEWATCH_COLLECTOR_FILESYSTEM_MOUNT_POINTS_EXCLUDE",
        default_value = "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",
        value_parser = parse_regex,
        value_name = "REGEX"
    )]
    pub mount_points_exclude: Regex,

    /// Filesystem types to ignore (regular expression).
    #[arg(
        long = "collector.filesystem.fs-types-exclude",
        env = "SIDEWATCH_COLLECTOR_FILESYSTEM_FS_TYPES_EXCLUDE",
        default_value = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$",
        value_parser = parse_regex,
        value_name = "REGEX"
    )]
    pub fs_types_exclude: Regex,

    /// How long statfs may take before a mount is marked stuck and skipped
    /// until it answers again.
    #[arg(
        long = "collector.filesystem.mount-timeout",
        env = "SIDEWATCH_COLLECTOR_FILESYSTEM_MOUNT_TIMEOUT",
        default_value = "5s",
        value_parser = cli::parse_duration,
        value_name = "DURATION"
    )]
    pub mount_timeout: Duration,

    /// Block devices to ignore (regular expression).
    #[arg(
        long = "collector.diskstats.device-exclude",
        env = "SIDEWATCH_COLLECTOR_DISKSTATS_DEVICE_EXCLUDE",
        default_value = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$",
        value_parser = parse_regex,
        value_name = "REGEX"
    )]
    pub diskstats_device_exclude: Regex,

    /// Network devices to include (regular expression); all when unset.
    #[arg(long = "collector.netdev.device-include", env = "SIDEWATCH_COLLECTOR_NETDEV_DEVICE_INCLUDE", value_parser = parse_regex, value_name = "REGEX")]
    pub netdev_device_include: Option<Regex>,

    /// Network devices to exclude (regular expression).
    #[arg(long = "collector.netdev.device-exclude", env = "SIDEWATCH_COLLECTOR_NETDEV_DEVICE_EXCLUDE", value_parser = parse_regex, value_name = "REGEX")]
    pub netdev_device_exclude: Option<Regex>,

    /// /proc/vmstat fields to return (regular expression).
    #[arg(
        long = "collector.vmstat.fields",
        env = "SIDEWATCH_COLLECTOR_VMSTAT_FIELDS",
        default_value = "^(oom_kill|pgpg|pswp|pg.*fault).*",
        value_parser = parse_regex,
        value_name = "REGEX"
    )]
    pub vmstat_fields: Regex,

    /// netstat fields to return, as Protocol_Field (regular expression).
    #[arg(
        long = "collector.netstat.fields",
        env = "SIDEWATCH_COLLECTOR_NETSTAT_FIELDS",
        default_value = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$",
        value_parser = parse_regex,
        value_name = "REGEX"
    )]
    pub netstat_fields: Regex,
}

fn parse_regex(s: &str) -> Result<Regex, String> {
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
    cli::add_collector_flags(cmd, SPECS)
}

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
        let matches = cli::get_matches(command(), args)?;
        let cli = Cli::from_arg_matches(&matches)?;
        let collectors = cli::enabled_collectors(&matches, SPECS);
        let paths = Arc::new(HostPaths {
            procfs: cli.procfs.clone(),
            sysfs: cli.sysfs.clone(),
            rootfs: cli.rootfs.clone(),
            udev_data: cli.udev_data.clone(),
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
