//! One module per collector; [`SPECS`] lists them with their defaults.

pub mod cpu;
pub mod diskstats;
pub mod filefd;
pub mod filesystem;
pub mod loadavg;
pub mod meminfo;
pub mod netdev;
pub mod netstat;
pub mod os;
pub mod pressure;
pub mod sockstat;
pub mod stat;
pub mod time;
pub mod uname;
pub mod vmstat;

use sidewatch_common::cli::CollectorSpec;

const fn on(name: &'static str, help: &'static str) -> CollectorSpec {
    CollectorSpec {
        name,
        default_enabled: true,
        help,
    }
}

/// Every collector sidewatch-node offers, in exposition order.
pub const SPECS: &[CollectorSpec] = &[
    on("cpu", "seconds per CPU and mode (/proc/stat)"),
    on("diskstats", "block device I/O (/proc/diskstats)"),
    on("filefd", "file handles (/proc/sys/fs/file-nr)"),
    on("filesystem", "filesystem space and inodes (statfs)"),
    on("loadavg", "load averages (/proc/loadavg)"),
    on("meminfo", "memory (/proc/meminfo)"),
    on("netdev", "network interface counters (/proc/net/dev)"),
    on(
        "netstat",
        "protocol counters (/proc/net/{netstat,snmp,snmp6})",
    ),
    on("os", "distribution (os-release)"),
    on("pressure", "pressure stall information (/proc/pressure)"),
    on("sockstat", "sockets (/proc/net/sockstat{,6})"),
    on(
        "stat",
        "boot time, context switches, forks, interrupts (/proc/stat)",
    ),
    on("time", "system time, zone and clocksources"),
    on("uname", "kernel identity (uname)"),
    on("vmstat", "virtual memory counters (/proc/vmstat)"),
];
