//! The /proc parsers, through the collectors that use them: the input is
//! written where a collector reads under a fake --path.procfs (its first
//! byte picks the collector), and the collector runs as a scrape runs it.
//! The rest is also parsed as a textfile collector's *.prom file.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sidewatch_common::BlockingCollector;
use sidewatch_node::collectors::*;
use sidewatch_node::config::NodeConfig;

struct Host {
    _dir: tempfile::TempDir,
    proc: std::path::PathBuf,
    /// (files the collector reads, the collector)
    collectors: Vec<(Vec<&'static str>, Box<dyn BlockingCollector>)>,
}

fn host() -> Host {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for sub in ["proc/net/rpc", "proc/sys/fs", "proc/pressure", "proc/1", "sys"] {
        std::fs::create_dir_all(root.join(sub)).expect("mkdir");
    }
    let arg = |flag: &str, sub: &str| format!("--{flag}={}", root.join(sub).display());
    let config = NodeConfig::from_args([
        "sidewatch-node".to_owned(),
        arg("path.procfs", "proc"),
        arg("path.sysfs", "sys"),
        arg("path.rootfs", ""),
    ])
    .expect("config");
    let p = &config.paths;
    let c = &config.cli;
    let collectors: Vec<(Vec<&'static str>, Box<dyn BlockingCollector>)> = vec![
        (vec!["stat"], Box::new(cpu::CpuCollector::new(p.clone()))),
        (vec!["stat"], Box::new(stat::StatCollector::new(p.clone()))),
        (
            vec!["meminfo"],
            Box::new(meminfo::MeminfoCollector::new(p.clone())),
        ),
        (
            vec!["loadavg"],
            Box::new(loadavg::LoadavgCollector::new(p.clone())),
        ),
        (
            vec!["diskstats"],
            Box::new(diskstats::DiskstatsCollector::new(
                p.clone(),
                c.diskstats.device_exclude.clone(),
            )),
        ),
        (
            vec!["net/dev"],
            Box::new(netdev::NetdevCollector::new(
                p.clone(),
                c.netdev.device_include.clone(),
                c.netdev.device_exclude.clone(),
            )),
        ),
        (
            vec!["net/netstat", "net/snmp", "net/snmp6"],
            Box::new(netstat::NetstatCollector::new(
                p.clone(),
                c.netstat.fields.clone(),
            )),
        ),
        (
            vec!["net/sockstat", "net/sockstat6"],
            Box::new(sockstat::SockstatCollector::new(p.clone(), 4096)),
        ),
        (
            vec!["vmstat"],
            Box::new(vmstat::VmstatCollector::new(
                p.clone(),
                c.vmstat.fields.clone(),
            )),
        ),
        (
            vec!["pressure/cpu", "pressure/io", "pressure/memory"],
            Box::new(pressure::PressureCollector::new(p.clone())),
        ),
        (
            vec!["sys/fs/file-nr"],
            Box::new(filefd::FilefdCollector::new(p.clone())),
        ),
        (
            vec!["1/mountinfo"],
            Box::new(filesystem::FilesystemCollector::new(
                p.clone(),
                c.filesystem.mount_points_exclude.clone(),
                c.filesystem.fs_types_exclude.clone(),
                c.filesystem.mount_timeout,
            )),
        ),
        (
            vec!["mdstat"],
            Box::new(mdadm::MdadmCollector::new(p.clone())),
        ),
        (
            vec!["schedstat"],
            Box::new(schedstat::SchedstatCollector::new(p.clone())),
        ),
        (
            vec!["net/rpc/nfs"],
            Box::new(nfs::NfsCollector::new(p.clone())),
        ),
        (
            vec!["net/rpc/nfsd"],
            Box::new(nfsd::NfsdCollector::new(p.clone())),
        ),
        (
            vec!["net/ip_vs_stats", "net/ip_vs"],
            Box::new(ipvs::IpvsCollector::new(
                p.clone(),
                c.ipvs.backend_labels.0.clone(),
            )),
        ),
    ];
    Host {
        proc: root.join("proc"),
        _dir: dir,
        collectors,
    }
}

thread_local! {
    static HOST: Host = host();
}

fn write(proc: &Path, file: &str, data: &[u8]) {
    std::fs::write(proc.join(file), data).expect("write");
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else {
        return;
    };
    HOST.with(|h| {
        let (files, collector) = &h.collectors[usize::from(pick) % h.collectors.len()];
        for f in files {
            write(&h.proc, f, text);
        }
        let _ = collector.collect_blocking(&sidewatch_common::ScrapeContext::within(std::time::Duration::from_secs(10)));
    });
    // The text-file parser takes the same input as a *.prom file.
    if let Ok(text) = std::str::from_utf8(text) {
        let _ = textfile::parse_file(text);
    }
});
