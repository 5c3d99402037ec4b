//! One module per collector, each declaring itself; [`ALL`] lists them.

pub mod arp;
pub mod bcache;
pub mod bcachefs;
pub mod bonding;
pub mod btrfs;
pub mod conntrack;
pub mod cpu;
pub mod cpufreq;
pub mod diskstats;
pub mod dmi;
pub mod edac;
pub mod entropy;
pub mod fibrechannel;
pub mod filefd;
pub mod filesystem;
pub mod hwmon;
pub mod infiniband;
pub mod ipvs;
pub mod kernel_hung;
pub mod loadavg;
pub mod mdadm;
pub mod meminfo;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod nfs;
pub mod nfsd;
pub mod nvme;
pub mod os;
pub mod powersupplyclass;
pub mod pressure;
pub mod rapl;
pub mod schedstat;
pub mod selinux;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod tapestats;
pub mod textfile;
pub mod thermal_zone;
pub mod time;
pub mod timex;
pub mod udp_queues;
pub mod uname;
pub mod vmstat;
pub mod watchdog;
pub mod xfs;
pub mod zfs;

use sidewatch_common::cli::CollectorSpec;
use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// Every collector sidewatch-node offers, in exposition order: each declares
/// itself (name, default, help, how to build it) in its own module.
pub const ALL: &[CollectorDecl<NodeConfig>] = &[
    arp::DECL,
    bcache::DECL,
    bcachefs::DECL,
    bonding::DECL,
    btrfs::DECL,
    conntrack::DECL,
    cpu::DECL,
    cpufreq::DECL,
    diskstats::DECL,
    dmi::DECL,
    edac::DECL,
    entropy::DECL,
    fibrechannel::DECL,
    filefd::DECL,
    filesystem::DECL,
    hwmon::DECL,
    infiniband::DECL,
    ipvs::DECL,
    kernel_hung::DECL,
    loadavg::DECL,
    mdadm::DECL,
    meminfo::DECL,
    netclass::DECL,
    netdev::DECL,
    netstat::DECL,
    nfs::DECL,
    nfsd::DECL,
    nvme::DECL,
    os::DECL,
    powersupplyclass::DECL,
    pressure::DECL,
    rapl::DECL,
    schedstat::DECL,
    selinux::DECL,
    sockstat::DECL,
    softnet::DECL,
    stat::DECL,
    tapestats::DECL,
    textfile::DECL,
    thermal_zone::DECL,
    time::DECL,
    timex::DECL,
    udp_queues::DECL,
    uname::DECL,
    vmstat::DECL,
    watchdog::DECL,
    xfs::DECL,
    zfs::DECL,
];

/// The specs of [`ALL`], for flags and docs.
pub fn specs() -> Vec<CollectorSpec> {
    sidewatch_common::collector::specs(ALL)
}
