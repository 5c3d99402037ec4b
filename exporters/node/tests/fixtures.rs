//! Every collector against the committed /proc, /sys and rootfs fixtures, with
//! exact values, through the whole pipeline: collect, encode, parse.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sidewatch_common::exposition::encode_text;
use sidewatch_node::config::NodeConfig;
use sidewatch_testkit::Exposition;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn scrape(extra: &[&str]) -> Exposition {
    let f = fixtures();
    let mut args: Vec<String> = vec![
        "sidewatch-node".into(),
        format!("--path.procfs={}", f.join("proc").display()),
        format!("--path.sysfs={}", f.join("sys").display()),
        format!("--path.rootfs={}", f.join("root").display()),
        format!("--path.udev.data={}", f.join("udev").display()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let config = NodeConfig::from_args(args).unwrap_or_else(|_| panic!("config"));
    let engine = sidewatch_node::build_engine(&config);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let snapshot = runtime.block_on(engine.collect(Duration::from_secs(10)));
    let text = encode_text(&Arc::new(snapshot));
    Exposition::parse(&text)
}

fn v(e: &Exposition, name: &str, labels: &[(&str, &str)]) -> f64 {
    e.value(name, labels)
        .unwrap_or_else(|| panic!("{name} {labels:?} missing"))
}

#[test]
fn every_collector_succeeds_on_the_fixtures() {
    let e = scrape(&[]);
    for spec in sidewatch_node::collectors::specs() {
        assert_eq!(
            v(
                &e,
                "node_scrape_collector_success",
                &[("collector", spec.name)]
            ),
            1.0,
            "{}",
            spec.name
        );
    }
    assert_eq!(v(&e, "node_up", &[]), 1.0);
}

#[test]
fn cpu_and_stat() {
    let e = scrape(&[]);
    // USER_HZ is 100 on Linux.
    assert_eq!(
        v(
            &e,
            "node_cpu_seconds_total",
            &[("cpu", "0"), ("mode", "user")]
        ),
        15.0
    );
    assert_eq!(
        v(
            &e,
            "node_cpu_seconds_total",
            &[("cpu", "0"), ("mode", "idle")]
        ),
        440.0
    );
    assert_eq!(
        v(
            &e,
            "node_cpu_seconds_total",
            &[("cpu", "0"), ("mode", "steal")]
        ),
        0.05
    );
    // CPU numbers come from the line, not the position (cpu1 is offline).
    assert_eq!(
        v(
            &e,
            "node_cpu_seconds_total",
            &[("cpu", "2"), ("mode", "system")]
        ),
        5.0
    );
    assert_eq!(e.samples("node_cpu_seconds_total").len(), 16);
    assert_eq!(
        v(
            &e,
            "node_cpu_guest_seconds_total",
            &[("cpu", "0"), ("mode", "user")]
        ),
        1.0
    );
    assert_eq!(
        v(
            &e,
            "node_cpu_guest_seconds_total",
            &[("cpu", "0"), ("mode", "nice")]
        ),
        0.07
    );
    assert_eq!(v(&e, "node_boot_time_seconds", &[]), 1_700_000_000.0);
    assert_eq!(v(&e, "node_context_switches_total", &[]), 987_654.0);
    assert_eq!(v(&e, "node_forks_total", &[]), 4321.0);
    assert_eq!(v(&e, "node_intr_total", &[]), 123_456.0);
    assert_eq!(v(&e, "node_procs_running", &[]), 3.0);
    assert_eq!(v(&e, "node_procs_blocked", &[]), 1.0);
}

#[test]
fn meminfo_loadavg_filefd_vmstat() {
    let e = scrape(&[]);
    assert_eq!(
        v(&e, "node_memory_MemTotal_bytes", &[]),
        16_384_000.0 * 1024.0
    );
    assert_eq!(
        v(&e, "node_memory_Active_anon_bytes", &[]),
        512_000.0 * 1024.0
    );
    assert_eq!(v(&e, "node_memory_HugePages_Total", &[]), 4.0);
    assert_eq!(
        v(&e, "node_memory_Hugepagesize_bytes", &[]),
        2048.0 * 1024.0
    );
    assert_eq!(v(&e, "node_load1", &[]), 0.28);
    assert_eq!(v(&e, "node_load5", &[]), 1.5);
    assert_eq!(v(&e, "node_load15", &[]), 12.0);
    assert_eq!(v(&e, "node_filefd_allocated", &[]), 2144.0);
    assert_eq!(
        v(&e, "node_filefd_maximum", &[]),
        9_223_372_036_854_775_807.0
    );
    assert_eq!(v(&e, "node_vmstat_pgfault", &[]), 50_000.0);
    assert_eq!(v(&e, "node_vmstat_oom_kill", &[]), 2.0);
    assert!(
        e.value("node_vmstat_nr_free_pages", &[]).is_none(),
        "not in the default field set"
    );
    assert_eq!(
        e.types.get("node_vmstat_pgfault").map(String::as_str),
        Some("untyped")
    );
}

#[test]
fn diskstats_with_udev_info() {
    // zram devices are excluded by default (node_exporter 1.11's filter);
    // the fixture's zram0 line is the kernel without discard/flush columns.
    let e = scrape(&[
        r"--collector.diskstats.device-exclude=^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$",
    ]);
    let vda = [("device", "vda")];
    assert_eq!(v(&e, "node_disk_reads_completed_total", &vda), 1000.0);
    assert_eq!(v(&e, "node_disk_read_bytes_total", &vda), 80_000.0 * 512.0);
    assert_eq!(v(&e, "node_disk_read_time_seconds_total", &vda), 1.5);
    assert_eq!(
        v(&e, "node_disk_written_bytes_total", &vda),
        160_000.0 * 512.0
    );
    assert_eq!(v(&e, "node_disk_io_now", &vda), 2.0);
    assert_eq!(v(&e, "node_disk_io_time_seconds_total", &vda), 3.0);
    assert_eq!(v(&e, "node_disk_io_time_weighted_seconds_total", &vda), 4.0);
    assert_eq!(v(&e, "node_disk_discarded_sectors_total", &vda), 800.0);
    assert_eq!(v(&e, "node_disk_flush_requests_total", &vda), 60.0);
    assert_eq!(
        v(&e, "node_disk_flush_requests_time_seconds_total", &vda),
        0.07
    );
    // Partitions and loop devices are excluded by default; a kernel without
    // discard/flush columns (zram0 line) still reports the rest.
    assert!(e
        .value("node_disk_reads_completed_total", &[("device", "vda1")])
        .is_none());
    assert!(e
        .value("node_disk_reads_completed_total", &[("device", "loop0")])
        .is_none());
    assert_eq!(
        v(
            &e,
            "node_disk_writes_completed_total",
            &[("device", "zram0")]
        ),
        9.0
    );
    assert!(e
        .value("node_disk_flush_requests_total", &[("device", "zram0")])
        .is_none());
    assert_eq!(
        v(
            &e,
            "node_disk_info",
            &[
                ("device", "vda"),
                ("major", "254"),
                ("minor", "0"),
                ("model", "QEMU_HARDDISK"),
                ("serial", "SW0001"),
                ("path", "pci-0000:00:05.0"),
                ("wwn", "0x5000c500"),
                ("revision", "2.5+"),
                ("rotational", "0")
            ]
        ),
        1.0
    );
    assert_eq!(
        v(
            &e,
            "node_disk_info",
            &[("device", "zram0"), ("model", ""), ("rotational", "")]
        ),
        1.0
    );
}

#[test]
fn netdev_sockstat_netstat_pressure() {
    let e = scrape(&[]);
    let eth0 = [("device", "eth0")];
    assert_eq!(
        v(&e, "node_network_receive_bytes_total", &eth0),
        9_876_543.0
    );
    assert_eq!(v(&e, "node_network_receive_multicast_total", &eth0), 6.0);
    assert_eq!(v(&e, "node_network_transmit_colls_total", &eth0), 10.0);
    assert_eq!(v(&e, "node_network_transmit_compressed_total", &eth0), 12.0);
    // From /sys/class/net/eth0/statistics; lo has no such file in the fixture.
    assert_eq!(v(&e, "node_network_receive_nohandler_total", &eth0), 17.0);
    assert_eq!(
        e.value("node_network_receive_nohandler_total", &[("device", "lo")]),
        None
    );
    assert_eq!(
        v(&e, "node_network_receive_bytes_total", &[("device", "lo")]),
        123_456.0
    );

    assert_eq!(v(&e, "node_sockstat_sockets_used", &[]), 230.0);
    assert_eq!(v(&e, "node_sockstat_TCP_tw", &[]), 4.0);
    assert_eq!(
        v(&e, "node_sockstat_TCP_mem_bytes", &[]),
        3.0 * procfs::page_size() as f64
    );
    assert_eq!(v(&e, "node_sockstat_UDP_mem", &[]), 6.0);
    assert_eq!(v(&e, "node_sockstat_TCP6_inuse", &[]), 7.0);
    assert_eq!(v(&e, "node_sockstat_FRAG6_memory", &[]), 0.0);

    assert_eq!(v(&e, "node_netstat_Tcp_InSegs", &[]), 9000.0);
    assert_eq!(v(&e, "node_netstat_Tcp_InErrs", &[]), 5.0);
    assert_eq!(v(&e, "node_netstat_TcpExt_TCPTimeouts", &[]), 44.0);
    // The help names the field without its first `_`, as node_exporter's does.
    assert_eq!(
        e.scrape
            .docs
            .get("node_netstat_TcpExt_TCPTimeouts")
            .map(String::as_str),
        Some("Statistic TcpExtTCPTimeouts.")
    );
    assert_eq!(
        e.scrape
            .docs
            .get("node_network_receive_bytes_total")
            .map(String::as_str),
        Some("Network device statistic receive_bytes.")
    );
    assert_eq!(v(&e, "node_netstat_IpExt_InOctets", &[]), 1000.0);
    assert_eq!(v(&e, "node_netstat_Ip_Forwarding", &[]), 1.0);
    assert_eq!(v(&e, "node_netstat_Ip6_OutOctets", &[]), 50_000.0);
    assert_eq!(v(&e, "node_netstat_Icmp6_InMsgs", &[]), 6.0);
    assert_eq!(v(&e, "node_netstat_UdpLite6_InErrors", &[]), 0.0);
    assert!(e.value("node_netstat_Tcp_RtoAlgorithm", &[]).is_none());

    assert_eq!(v(&e, "node_pressure_cpu_waiting_seconds_total", &[]), 1.5);
    assert_eq!(v(&e, "node_pressure_io_waiting_seconds_total", &[]), 2.5);
    assert_eq!(v(&e, "node_pressure_io_stalled_seconds_total", &[]), 2.0);
    assert_eq!(
        v(&e, "node_pressure_memory_waiting_seconds_total", &[]),
        3.0
    );
    assert_eq!(
        v(&e, "node_pressure_memory_stalled_seconds_total", &[]),
        0.001
    );
}

#[test]
fn filesystem_under_rootfs() {
    let e = scrape(&[]);
    let root = fixtures().join("root");
    let expected = sidewatch_node::collectors::filesystem::statfs(&root).expect("statfs");
    let l = [
        ("device", "/dev/vda"),
        ("fstype", "ext4"),
        ("mountpoint", "/"),
    ];
    assert_eq!(v(&e, "node_filesystem_size_bytes", &l), expected.size_bytes);
    assert_eq!(v(&e, "node_filesystem_files", &l), expected.files);
    assert_eq!(v(&e, "node_filesystem_readonly", &l), 0.0);
    assert_eq!(v(&e, "node_filesystem_device_error", &l), 0.0);
    // The octal-escaped space is decoded; the ro option is seen.
    let data = [("mountpoint", "/data dir")];
    assert_eq!(v(&e, "node_filesystem_readonly", &data), 1.0);
    // /proc is excluded by mount point, and the duplicate / line is reported once.
    assert!(e
        .samples("node_filesystem_size_bytes")
        .iter()
        .all(|(l, _)| l["mountpoint"] != "/proc"));
    assert_eq!(e.samples("node_filesystem_size_bytes").len(), 3);
    // node_exporter 1.9+'s shape: device_error ("" when read) on every
    // family, major:minor from mountinfo, purgeable space (none on Linux).
    let full = [
        ("device", "/dev/vda"),
        ("device_error", ""),
        ("fstype", "ext4"),
        ("mountpoint", "/"),
    ];
    assert_eq!(
        v(&e, "node_filesystem_size_bytes", &full),
        expected.size_bytes
    );
    assert_eq!(v(&e, "node_filesystem_purgeable_bytes", &full), 0.0);
    assert_eq!(
        v(
            &e,
            "node_filesystem_mount_info",
            &[
                ("device", "/dev/vdb"),
                ("major", "254"),
                ("minor", "16"),
                ("mountpoint", "/data dir")
            ]
        ),
        1.0
    );
}

#[test]
fn os_time_uname() {
    let e = scrape(&[]);
    assert_eq!(
        v(
            &e,
            "node_os_info",
            &[
                ("id", "ubuntu"),
                ("id_like", "debian"),
                ("pretty_name", "Ubuntu 22.04.3 LTS"),
                ("version_codename", "jammy"),
                ("build_id", "")
            ]
        ),
        1.0
    );
    assert_eq!(
        v(
            &e,
            "node_os_version",
            &[("id", "ubuntu"), ("name", "Ubuntu")]
        ),
        22.04
    );
    assert_eq!(
        v(
            &e,
            "node_time_clocksource_current_info",
            &[("clocksource", "tsc"), ("device", "0")]
        ),
        1.0
    );
    assert_eq!(e.samples("node_time_clocksource_available_info").len(), 3);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert!((v(&e, "node_time_seconds", &[]) - now).abs() < 60.0);
    let u = rustix_uname();
    assert_eq!(
        v(
            &e,
            "node_uname_info",
            &[("release", &u.0), ("machine", &u.1)]
        ),
        1.0
    );
}

fn rustix_uname() -> (String, String) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    (release.trim().to_owned(), std::env::consts::ARCH.to_owned())
}

#[test]
fn collector_flags_select_collectors() {
    let e = scrape(&[
        "--collector.disable-defaults",
        "--collector.loadavg",
        "--collector.meminfo",
    ]);
    let enabled: Vec<String> = e
        .samples("node_scrape_collector_success")
        .into_iter()
        .map(|(l, _)| l["collector"].clone())
        .collect();
    assert_eq!(enabled, ["loadavg", "meminfo"]);
    assert!(e
        .value("node_cpu_seconds_total", &[("cpu", "0"), ("mode", "user")])
        .is_none());
    let e = scrape(&[
        "--no-collector.cpu",
        "--collector.vmstat.fields=^nr_free_pages$",
    ]);
    assert!(e.samples("node_cpu_seconds_total").is_empty());
    assert_eq!(v(&e, "node_vmstat_nr_free_pages", &[]), 12345.0);
}

#[test]
fn a_missing_file_fails_only_its_collector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proc_copy = dir.path().join("proc");
    sidewatch_testkit::copy_dir(&fixtures().join("proc"), &proc_copy).expect("copy fixtures");
    std::fs::remove_file(proc_copy.join("meminfo")).expect("remove");
    std::fs::write(proc_copy.join("loadavg"), "garbage").expect("write");
    let arg = format!("--path.procfs={}", proc_copy.display());
    let e = scrape(&[&arg]);
    assert_eq!(
        v(
            &e,
            "node_scrape_collector_success",
            &[("collector", "meminfo")]
        ),
        0.0
    );
    assert_eq!(
        v(
            &e,
            "node_scrape_collector_success",
            &[("collector", "loadavg")]
        ),
        0.0
    );
    assert_eq!(
        v(&e, "node_scrape_collector_success", &[("collector", "cpu")]),
        1.0
    );
    assert_eq!(v(&e, "node_boot_time_seconds", &[]), 1_700_000_000.0);
}

/// The README's collector table lists exactly the declared collectors, in
/// declaration order.
#[test]
fn readme_lists_every_declared_collector() {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("## sidewatch-node")
        .nth(1)
        .and_then(|s| s.split("### Collectors and metric families").nth(1))
        .and_then(|s| s.split("\n## ").next())
        .expect("node collectors section");
    let listed: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .filter(|n| !["collector", "(engine)"].contains(n) && !n.starts_with("---"))
        .collect();
    let declared: Vec<&str> = sidewatch_node::collectors::specs()
        .iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(listed, declared);
}

/// netclass: /sys/class/net/<iface> as the kernel writes it. ifb0 is down
/// and virtual: the kernel answers EINVAL for its carrier, dormant, duplex,
/// speed and name_assign_type, which the fixture has as missing files; those
/// series are left out, as node_exporter does.
#[test]
fn netclass() {
    let e = scrape(&[]);
    let eth0 = [("device", "eth0")];
    assert_eq!(v(&e, "node_network_up", &eth0), 1.0);
    assert_eq!(v(&e, "node_network_carrier", &eth0), 1.0);
    assert_eq!(v(&e, "node_network_mtu_bytes", &eth0), 9000.0);
    assert_eq!(v(&e, "node_network_speed_bytes", &eth0), 1_250_000_000.0);
    assert_eq!(v(&e, "node_network_flags", &eth0), 4099.0);
    assert_eq!(v(&e, "node_network_iface_id", &eth0), 2.0);
    assert_eq!(v(&e, "node_network_transmit_queue_length", &eth0), 1000.0);
    assert_eq!(v(&e, "node_network_carrier_changes_total", &eth0), 3.0);
    assert_eq!(v(&e, "node_network_carrier_up_changes_total", &eth0), 2.0);
    assert_eq!(v(&e, "node_network_carrier_down_changes_total", &eth0), 1.0);
    assert_eq!(v(&e, "node_network_name_assign_type", &eth0), 4.0);
    assert_eq!(v(&e, "node_network_protocol_type", &eth0), 1.0);
    assert_eq!(
        v(
            &e,
            "node_network_info",
            &[
                ("address", "52:54:00:12:34:56"),
                ("adminstate", "up"),
                ("broadcast", "ff:ff:ff:ff:ff:ff"),
                ("device", "eth0"),
                ("duplex", "full"),
                ("ifalias", "uplink"),
                ("operstate", "up"),
            ]
        ),
        1.0
    );
    // Loopback: operstate "unknown" is not up; adminstate comes from IFF_UP.
    assert_eq!(v(&e, "node_network_up", &[("device", "lo")]), 0.0);
    assert_eq!(
        v(&e, "node_network_protocol_type", &[("device", "lo")]),
        772.0
    );
    assert_eq!(
        v(
            &e,
            "node_network_info",
            &[
                ("address", "00:00:00:00:00:00"),
                ("adminstate", "up"),
                ("broadcast", "00:00:00:00:00:00"),
                ("device", "lo"),
                ("duplex", ""),
                ("ifalias", ""),
                ("operstate", "unknown"),
            ]
        ),
        1.0
    );
    let ifb0 = [("device", "ifb0")];
    assert_eq!(v(&e, "node_network_up", &ifb0), 0.0);
    assert_eq!(e.value("node_network_carrier", &ifb0), None);
    assert_eq!(e.value("node_network_speed_bytes", &ifb0), None);
    assert_eq!(v(&e, "node_network_transmit_queue_length", &ifb0), 32.0);
    assert_eq!(
        e.samples("node_network_info")
            .iter()
            .filter(|(l, _)| l["device"] == "ifb0" && l["adminstate"] == "down")
            .count(),
        1
    );
    // An invalid speed (-1) is reported as node_exporter does, unless asked not to.
    assert_eq!(
        v(&e, "node_network_speed_bytes", &[("device", "veth0")]),
        -125_000.0
    );
    let e = scrape(&[
        "--collector.netclass.ignore-invalid-speed",
        "--collector.netclass.ignored-devices=^(lo|ifb.*)$",
    ]);
    assert_eq!(
        e.value("node_network_speed_bytes", &[("device", "veth0")]),
        None
    );
    assert_eq!(v(&e, "node_network_speed_bytes", &eth0), 1_250_000_000.0);
    assert!(e
        .samples("node_network_up")
        .iter()
        .all(|(l, _)| l["device"] != "lo" && l["device"] != "ifb0"));
}

/// conntrack: table size and limit, and the per-CPU hexadecimal statistics
/// summed; entropy: the pool.
#[test]
fn conntrack_and_entropy() {
    let e = scrape(&[]);
    assert_eq!(v(&e, "node_nf_conntrack_entries", &[]), 475.0);
    assert_eq!(v(&e, "node_nf_conntrack_entries_limit", &[]), 262_144.0);
    assert_eq!(v(&e, "node_nf_conntrack_stat_found", &[]), 7.0);
    assert_eq!(v(&e, "node_nf_conntrack_stat_invalid", &[]), 15.0);
    assert_eq!(v(&e, "node_nf_conntrack_stat_ignore", &[]), 2.0);
    assert_eq!(v(&e, "node_nf_conntrack_stat_insert", &[]), 48.0);
    assert_eq!(v(&e, "node_nf_conntrack_stat_insert_failed", &[]), 1.0);
    assert_eq!(v(&e, "node_nf_conntrack_stat_drop", &[]), 2.0);
    assert_eq!(v(&e, "node_nf_conntrack_stat_early_drop", &[]), 3.0);
    assert_eq!(v(&e, "node_nf_conntrack_stat_search_restart", &[]), 1.0);
    assert_eq!(v(&e, "node_entropy_available_bits", &[]), 256.0);
    assert_eq!(v(&e, "node_entropy_pool_size_bits", &[]), 256.0);
    let bad = sidewatch_node::collectors::conntrack::parse_stat("a b\n01 zz\n");
    assert!(bad.is_err());
    let short = sidewatch_node::collectors::conntrack::parse_stat("a b\n01\n");
    assert!(short.is_err());
}

/// softnet (hexadecimal per-CPU columns, the CPU from column 12), arp
/// (entries per device), udp_queues (tx:rx bytes summed per IP version),
/// kernel_hung and selinux.
#[test]
fn softnet_arp_udp_queues_kernel_hung_selinux() {
    let e = scrape(&[]);
    let cpu0 = [("cpu", "0")];
    assert_eq!(v(&e, "node_softnet_processed_total", &cpu0), 242_201.0);
    assert_eq!(v(&e, "node_softnet_times_squeezed_total", &cpu0), 2.0);
    assert_eq!(v(&e, "node_softnet_cpu_collision_total", &cpu0), 3.0);
    assert_eq!(v(&e, "node_softnet_received_rps_total", &cpu0), 4.0);
    assert_eq!(v(&e, "node_softnet_flow_limit_count_total", &cpu0), 5.0);
    assert_eq!(v(&e, "node_softnet_backlog_len", &cpu0), 6.0);
    // The second line names CPU 2 (CPU 1 offline).
    assert_eq!(v(&e, "node_softnet_dropped_total", &[("cpu", "2")]), 1.0);
    assert_eq!(e.value("node_softnet_dropped_total", &[("cpu", "1")]), None);
    assert_eq!(v(&e, "node_arp_entries", &[("device", "eth0")]), 2.0);
    assert_eq!(v(&e, "node_arp_entries", &[("device", "eth1")]), 1.0);
    assert_eq!(
        v(&e, "node_udp_queues", &[("ip", "v4"), ("queue", "rx")]),
        1024.0
    );
    assert_eq!(
        v(&e, "node_udp_queues", &[("ip", "v4"), ("queue", "tx")]),
        16.0
    );
    assert_eq!(
        v(&e, "node_udp_queues", &[("ip", "v6"), ("queue", "rx")]),
        0.0
    );
    assert_eq!(v(&e, "node_kernel_hung_tasks_total", &[]), 4.0);
    assert_eq!(v(&e, "node_selinux_enabled", &[]), 1.0);
    assert_eq!(v(&e, "node_selinux_current_mode", &[]), 1.0);
    // /etc/selinux/config under --path.rootfs says permissive.
    assert_eq!(v(&e, "node_selinux_config_mode", &[]), 0.0);
    assert!(sidewatch_node::collectors::udp_queues::queued("h\n 1: a b 07 zz:00\n").is_err());
}

/// textfile: *.prom files with their types and help; a malformed file and a
/// half-written one are skipped whole and flagged, the others still count; a
/// series a later file repeats is emitted once; mtimes per file read.
#[test]
fn textfile() {
    let dir = fixtures().join("textfile");
    let e = scrape(&[&format!("--collector.textfile.directory={}", dir.display())]);
    let db = [("job", "db")];
    assert_eq!(v(&e, "backup_last_success_timestamp_seconds", &db), 1.7e9);
    assert_eq!(
        e.types
            .get("backup_last_success_timestamp_seconds")
            .map(String::as_str),
        Some("gauge")
    );
    // The first file's value: b_dup.prom repeats the series.
    assert_eq!(v(&e, "backup_runs_total", &db), 42.0);
    assert_eq!(e.samples("backup_runs_total").len(), 1);
    assert_eq!(
        e.types.get("backup_runs_total").map(String::as_str),
        Some("counter")
    );
    assert_eq!(v(&e, "cron_untyped", &[]), 3.0);
    // The rest of the file with a duplicate still counts.
    assert_eq!(v(&e, "cron_other", &[]), 1.0);
    // Malformed and half-written files: nothing from them.
    assert_eq!(e.value("x", &[]), None);
    assert!(e.samples("half_written").is_empty());
    assert_eq!(e.value("ignored", &[]), None);
    assert_eq!(v(&e, "node_textfile_scrape_error", &[]), 1.0);
    for (file, read) in [
        ("a_backup.prom", true),
        ("b_dup.prom", true),
        ("c_bad.prom", false),
        ("d_half.prom", false),
    ] {
        let path = dir.join(file);
        let got = e.value(
            "node_textfile_mtime_seconds",
            &[("file", &path.display().to_string())],
        );
        if read {
            let m = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .expect("mtime")
                .duration_since(std::time::UNIX_EPOCH)
                .expect("epoch")
                .as_secs_f64();
            assert_eq!(got, Some(m), "{file}");
        } else {
            assert_eq!(got, None, "{file}");
        }
    }
    // Without a directory: no error, nothing read.
    let e = scrape(&[]);
    assert_eq!(v(&e, "node_textfile_scrape_error", &[]), 0.0);
    // A missing directory is an error, not a failed collector.
    let e = scrape(&["--collector.textfile.directory=/nonexistent/textfiles"]);
    assert_eq!(v(&e, "node_textfile_scrape_error", &[]), 1.0);
    assert_eq!(
        v(
            &e,
            "node_scrape_collector_success",
            &[("collector", "textfile")]
        ),
        1.0
    );
    let parse = sidewatch_node::collectors::textfile::parse_file;
    assert!(parse("a 1\nb{x=\"y\"} 2\n").is_ok());
    assert!(parse("a one\n").is_err());
    assert!(parse("a 1").is_err());
}

/// --collector.cpu.info: node_cpu_info and node_cpu_frequency_hertz per CPU
/// from /proc/cpuinfo, the first CPU's flags and bugs that match.
#[test]
fn cpu_info() {
    let e = scrape(&[]);
    assert!(e.samples("node_cpu_info").is_empty(), "off by default");
    let e = scrape(&[
        "--collector.cpu.info",
        "--collector.cpu.info.flags-include=^(aes|avx2|fpu-only-on-cpu1)$",
        "--collector.cpu.info.bugs-include=^spectre_v",
    ]);
    assert_eq!(
        v(
            &e,
            "node_cpu_info",
            &[
                ("cachesize", "1024 KB"),
                ("core", "1"),
                ("cpu", "1"),
                ("family", "25"),
                ("microcode", "0x1000065"),
                ("model", "17"),
                ("model_name", "AMD EPYC"),
                ("package", "0"),
                ("stepping", "1"),
                ("vendor", "AuthenticAMD"),
            ]
        ),
        1.0
    );
    assert_eq!(
        v(
            &e,
            "node_cpu_frequency_hertz",
            &[("cpu", "0"), ("core", "0"), ("package", "0")]
        ),
        2_596_138_000.0
    );
    assert_eq!(
        v(&e, "node_cpu_frequency_hertz", &[("cpu", "1")]),
        1_800_000_000.0
    );
    let flags: Vec<String> = e
        .samples("node_cpu_flag_info")
        .iter()
        .map(|(l, _)| l["flag"].clone())
        .collect();
    assert_eq!(flags, ["aes", "avx2"], "the first CPU's flags only");
    let bugs: Vec<String> = e
        .samples("node_cpu_bug_info")
        .iter()
        .map(|(l, _)| l["bug"].clone())
        .collect();
    assert_eq!(bugs, ["spectre_v1", "spectre_v2", "spectre_v2_user"]);
}

/// schedstat (ns to seconds, the timeslices), thermal zones (millidegrees;
/// a zone whose sensor does not answer is left out) and cooling devices,
/// watchdog (numbers and the info labels) and dmi (the files the kernel
/// gave, `sys_vendor` as `system_vendor`).
#[test]
fn schedstat_thermal_watchdog_dmi() {
    let e = scrape(&[]);
    let cpu1 = [("cpu", "1")];
    assert_eq!(
        v(&e, "node_schedstat_running_seconds_total", &cpu1),
        1_904_686.152_592_476
    );
    assert_eq!(
        v(&e, "node_schedstat_waiting_seconds_total", &cpu1),
        364_107.263_788_241
    );
    assert_eq!(
        v(&e, "node_schedstat_timeslices_total", &cpu1),
        5_145_567_945.0
    );
    assert_eq!(e.samples("node_schedstat_timeslices_total").len(), 2);

    assert_eq!(
        v(
            &e,
            "node_thermal_zone_temp",
            &[("zone", "0"), ("type", "x86_pkg_temp")]
        ),
        47.0
    );
    assert_eq!(e.samples("node_thermal_zone_temp").len(), 1);
    let cooling = [("name", "0"), ("type", "Processor")];
    assert_eq!(v(&e, "node_cooling_device_cur_state", &cooling), 0.0);
    assert_eq!(v(&e, "node_cooling_device_max_state", &cooling), 3.0);

    let wd = [("name", "watchdog0")];
    assert_eq!(v(&e, "node_watchdog_bootstatus", &wd), 1.0);
    assert_eq!(v(&e, "node_watchdog_nowayout", &wd), 0.0);
    assert_eq!(v(&e, "node_watchdog_timeout_seconds", &wd), 30.0);
    assert_eq!(v(&e, "node_watchdog_timeleft_seconds", &wd), 24.0);
    assert_eq!(e.value("node_watchdog_pretimeout_seconds", &wd), None);
    assert_eq!(
        v(
            &e,
            "node_watchdog_info",
            &[
                ("name", "watchdog0"),
                ("identity", "i6300ESB timer"),
                ("options", "0x8380"),
                ("state", "active"),
                ("status", "0x8000"),
                ("pretimeout_governor", ""),
            ]
        ),
        1.0
    );

    let dmi = e.samples("node_dmi_info");
    assert_eq!(dmi.len(), 1);
    let labels = &dmi[0].0;
    assert_eq!(
        labels.get("system_vendor").map(String::as_str),
        Some("QEMU")
    );
    assert_eq!(
        labels.get("product_name").map(String::as_str),
        Some("KVM Virtual Machine")
    );
    assert_eq!(
        labels.get("bios_date").map(String::as_str),
        Some("04/01/2014")
    );
    // Serials and the UUID are not in the fixture (root-only on hosts).
    assert_eq!(labels.get("product_uuid"), None);
    assert_eq!(labels.len(), 9);

    let bad = sidewatch_node::collectors::schedstat::parse("cpu0 1 2 3\n");
    assert!(bad.is_err());
}

/// hwmon: the chip named after its device (`platform_coretemp_0`, with the
/// device directory's sensors too) or its name file (`nct6775`), units
/// converted by type, labels and chip names as annotations.
#[test]
fn hwmon() {
    let e = scrape(&[]);
    let core = |sensor: &'static str| [("chip", "platform_coretemp_0"), ("sensor", sensor)];
    assert_eq!(v(&e, "node_hwmon_temp_celsius", &core("temp1")), 55.0);
    assert_eq!(v(&e, "node_hwmon_temp_celsius", &core("temp2")), 48.0);
    assert_eq!(v(&e, "node_hwmon_temp_max_celsius", &core("temp1")), 100.0);
    assert_eq!(
        v(&e, "node_hwmon_temp_crit_alarm_celsius", &core("temp1")),
        0.0
    );
    assert_eq!(
        v(
            &e,
            "node_hwmon_sensor_label",
            &[
                ("chip", "platform_coretemp_0"),
                ("sensor", "temp1"),
                ("label", "Package id 0")
            ]
        ),
        1.0
    );
    assert_eq!(
        v(
            &e,
            "node_hwmon_chip_names",
            &[("chip", "platform_coretemp_0"), ("chip_name", "coretemp")]
        ),
        1.0
    );
    let nct = |sensor: &'static str| [("chip", "nct6775"), ("sensor", sensor)];
    assert_eq!(v(&e, "node_hwmon_fan_rpm", &nct("fan1")), 1200.0);
    assert_eq!(v(&e, "node_hwmon_fan_min_rpm", &nct("fan1")), 300.0);
    assert_eq!(v(&e, "node_hwmon_fan_pulses", &nct("fan1")), 4.0);
    assert_eq!(v(&e, "node_hwmon_in_volts", &nct("in0")), 1.224);
    assert_eq!(v(&e, "node_hwmon_pwm", &nct("pwm1")), 128.0);
    assert_eq!(v(&e, "node_hwmon_pwm_enable", &nct("pwm1")), 2.0);
    assert_eq!(
        v(&e, "node_hwmon_power_average_watt", &nct("power1")),
        15.25
    );
    assert_eq!(
        v(&e, "node_hwmon_energy_joule_total", &nct("energy1")),
        123.456789
    );
    assert_eq!(v(&e, "node_hwmon_beep_enabled", &nct("beep_enable0")), 1.0);
    assert_eq!(
        v(
            &e,
            "node_hwmon_update_interval_seconds",
            &nct("update_interval0")
        ),
        1.0
    );
    assert_eq!(v(&e, "node_hwmon_intrusion_alarm", &nct("intrusion0")), 1.0);
    assert_eq!(
        e.types
            .get("node_hwmon_energy_joule_total")
            .map(String::as_str),
        Some("counter")
    );

    // The filters: a chip, and one sensor of a chip.
    let e = scrape(&["--collector.hwmon.chip-exclude=^nct"]);
    assert!(e.samples("node_hwmon_fan_rpm").is_empty());
    assert_eq!(e.samples("node_hwmon_temp_celsius").len(), 2);
    let e = scrape(&["--collector.hwmon.sensor-exclude=^platform_coretemp_0;temp2$"]);
    assert_eq!(e.samples("node_hwmon_temp_celsius").len(), 1);
}

/// cpufreq: kHz to Hz per CPU, cpuinfo_cur_freq only where readable, and
/// one governor series per available governor, 1 for the current one.
#[test]
fn cpufreq() {
    let e = scrape(&[]);
    let cpu0 = [("cpu", "0")];
    let cpu1 = [("cpu", "1")];
    assert_eq!(
        v(&e, "node_cpu_scaling_frequency_hertz", &cpu0),
        2_400_123_000.0
    );
    assert_eq!(
        v(&e, "node_cpu_scaling_frequency_hertz", &cpu1),
        1_800_000_000.0
    );
    assert_eq!(
        v(&e, "node_cpu_scaling_frequency_max_hertz", &cpu1),
        3_600_000_000.0
    );
    assert_eq!(
        v(&e, "node_cpu_scaling_frequency_min_hertz", &cpu1),
        800_000_000.0
    );
    assert_eq!(
        v(&e, "node_cpu_frequency_max_hertz", &cpu0),
        3_600_000_000.0
    );
    assert_eq!(v(&e, "node_cpu_frequency_min_hertz", &cpu0), 800_000_000.0);
    assert_eq!(v(&e, "node_cpu_frequency_hertz", &cpu0), 2_400_000_000.0);
    assert_eq!(e.value("node_cpu_frequency_hertz", &cpu1), None);
    let gov = |cpu: &'static str, g: &'static str| {
        v(
            &e,
            "node_cpu_scaling_governor",
            &[("cpu", cpu), ("governor", g)],
        )
    };
    assert_eq!(gov("0", "powersave"), 1.0);
    assert_eq!(gov("0", "performance"), 0.0);
    assert_eq!(gov("1", "performance"), 1.0);
    assert_eq!(e.samples("node_cpu_scaling_governor").len(), 4);

    // With --collector.cpu.info, node_cpu_frequency_hertz is the cpu
    // collector's (from /proc/cpuinfo): one family, one label set.
    let text = {
        let f = fixtures();
        let args = vec![
            "sidewatch-node".to_owned(),
            format!("--path.procfs={}", f.join("proc").display()),
            format!("--path.sysfs={}", f.join("sys").display()),
            format!("--path.rootfs={}", f.join("root").display()),
            "--collector.cpu.info".to_owned(),
        ];
        let config = NodeConfig::from_args(args).unwrap_or_else(|_| panic!("config"));
        let engine = sidewatch_node::build_engine(&config);
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        encode_text(&Arc::new(
            runtime.block_on(engine.collect(Duration::from_secs(10))),
        ))
    };
    assert_eq!(text.matches("# TYPE node_cpu_frequency_hertz ").count(), 1);
    let e = Exposition::parse(&text);
    assert!(!e.samples("node_cpu_frequency_hertz").is_empty());
    for (labels, _) in e.samples("node_cpu_frequency_hertz") {
        assert!(labels.contains_key("package"), "{labels:?}");
    }
    assert!(!e.samples("node_cpu_scaling_frequency_hertz").is_empty());
}

/// mdadm: a mirror with a bitmap, a degraded RAID 5 recovering with a spare
/// and a failed disk, an inactive array, a stripe, a check and a delayed
/// resync; edac per controller and row (`unknown` for errors without a
/// row); rapl zones in joules, indexed by package or by order.
#[test]
fn mdadm_edac_rapl() {
    let e = scrape(&[]);
    let state =
        |d: &'static str, s: &'static str| v(&e, "node_md_state", &[("device", d), ("state", s)]);
    let disks =
        |d: &'static str, s: &'static str| v(&e, "node_md_disks", &[("device", d), ("state", s)]);
    let dev = |d: &'static str| [("device", d)];
    assert_eq!(state("md127", "active"), 1.0);
    assert_eq!(state("md127", "recovering"), 0.0);
    assert_eq!(v(&e, "node_md_disks_required", &dev("md127")), 2.0);
    assert_eq!(disks("md127", "active"), 2.0);
    assert_eq!(v(&e, "node_md_blocks", &dev("md127")), 1_953_382_464.0);
    assert_eq!(
        v(&e, "node_md_blocks_synced", &dev("md127")),
        1_953_382_464.0
    );

    assert_eq!(state("md0", "recovering"), 1.0);
    assert_eq!(state("md0", "active"), 0.0);
    assert_eq!(v(&e, "node_md_disks_required", &dev("md0")), 3.0);
    assert_eq!(disks("md0", "active"), 2.0);
    assert_eq!(disks("md0", "failed"), 1.0);
    assert_eq!(disks("md0", "spare"), 1.0);
    assert_eq!(v(&e, "node_md_blocks_synced", &dev("md0")), 166_400_000.0);

    assert_eq!(state("md1", "inactive"), 1.0);
    assert_eq!(v(&e, "node_md_disks_required", &dev("md1")), 0.0);
    assert_eq!(disks("md1", "spare"), 1.0);
    assert_eq!(v(&e, "node_md_blocks", &dev("md1")), 976_630_464.0);

    assert_eq!(v(&e, "node_md_disks_required", &dev("md2")), 2.0);
    assert_eq!(disks("md2", "active"), 2.0);
    assert_eq!(state("md3", "check"), 1.0);
    assert_eq!(v(&e, "node_md_blocks_synced", &dev("md3")), 28_400_000.0);
    assert_eq!(state("md4", "active"), 1.0);
    assert_eq!(state("md4", "resync"), 0.0);
    assert_eq!(e.samples("node_md_state").len(), 6 * 5);
    assert!(sidewatch_node::collectors::mdadm::parse("md9 : active raid1 sda[0]\n").is_err());

    let mc0 = [("controller", "0")];
    assert_eq!(v(&e, "node_edac_correctable_errors_total", &mc0), 3.0);
    assert_eq!(v(&e, "node_edac_uncorrectable_errors_total", &mc0), 0.0);
    let row = |r: &'static str| [("controller", "0"), ("csrow", r)];
    assert_eq!(
        v(&e, "node_edac_csrow_correctable_errors_total", &row("0")),
        2.0
    );
    assert_eq!(
        v(
            &e,
            "node_edac_csrow_correctable_errors_total",
            &row("unknown")
        ),
        1.0
    );
    assert_eq!(
        v(&e, "node_edac_csrow_uncorrectable_errors_total", &row("1")),
        0.0
    );

    let zone = |z: &str| format!("{}/sys/class/powercap/{z}", fixtures().display());
    let rapl = |name: &str, index: &str, z: &str| {
        v(&e, name, &[("index", index), ("path", zone(z).as_str())])
    };
    assert_eq!(
        rapl("node_rapl_package_joules_total", "0", "intel-rapl:0"),
        240_422.366267
    );
    assert_eq!(
        rapl("node_rapl_package_joules_total", "1", "intel-rapl:1"),
        5.0
    );
    assert_eq!(
        rapl("node_rapl_core_joules_total", "0", "intel-rapl:0:0"),
        118_821.284256
    );
    assert_eq!(
        rapl("node_rapl_dram_joules_total", "0", "intel-rapl:0:1"),
        37.54
    );
}

/// powersupplyclass: µ-units to watts, volts and watt-hours, tenths of a
/// degree to degrees, counts as they are, the text attributes as the info
/// series' labels, and the ignore flag.
#[test]
fn powersupplyclass() {
    let e = scrape(&[]);
    let bat = [("power_supply", "BAT0")];
    assert_eq!(v(&e, "node_power_supply_capacity", &bat), 87.0);
    assert_eq!(v(&e, "node_power_supply_cyclecount", &bat), 142.0);
    assert_eq!(v(&e, "node_power_supply_energy_watthour", &bat), 43.74);
    assert_eq!(v(&e, "node_power_supply_energy_full_design", &bat), 57.0);
    assert_eq!(v(&e, "node_power_supply_voltage_volt", &bat), 12.153);
    assert_eq!(v(&e, "node_power_supply_power_watt", &bat), 9.87);
    assert_eq!(v(&e, "node_power_supply_temp_celsius", &bat), 29.6);
    assert_eq!(
        v(&e, "node_power_supply_online", &[("power_supply", "AC")]),
        0.0
    );
    assert_eq!(
        v(
            &e,
            "node_power_supply_info",
            &[
                ("power_supply", "BAT0"),
                ("type", "Battery"),
                ("status", "Discharging"),
                ("capacity_level", "Normal"),
                ("technology", "Li-ion"),
                ("manufacturer", "LGC"),
                ("model_name", "5B10W13930"),
                ("health", "Good"),
            ]
        ),
        1.0
    );
    assert_eq!(e.samples("node_power_supply_info").len(), 3);
    let e = scrape(&["--collector.powersupply.ignored-supplies=^hidpp_"]);
    assert_eq!(e.samples("node_power_supply_info").len(), 2);
    assert_eq!(
        e.value(
            "node_power_supply_capacity",
            &[("power_supply", "hidpp_battery_0")]
        ),
        None
    );
}

/// bonding (members counted, the MII-up ones active; bonding_masters is
/// not a network device) and nvme (controller info; namespace sizes from
/// 512-byte sectors, use from logical blocks).
#[test]
fn bonding_nvme() {
    let e = scrape(&[]);
    assert_eq!(v(&e, "node_bonding_slaves", &[("master", "bond0")]), 2.0);
    assert_eq!(v(&e, "node_bonding_active", &[("master", "bond0")]), 1.0);
    assert_eq!(
        e.value("node_network_up", &[("device", "bonding_masters")]),
        None
    );
    assert_eq!(
        v(
            &e,
            "node_nvme_info",
            &[
                ("device", "nvme0"),
                ("model", "Samsung SSD 980 PRO 1TB"),
                ("serial", "S4EWNX0R123456"),
                ("firmware_revision", "5B2QGXA7"),
                ("state", "live"),
                ("cntlid", "6"),
            ]
        ),
        1.0
    );
    let ns = [("device", "nvme0"), ("nsid", "1")];
    assert_eq!(
        v(&e, "node_nvme_namespace_size_bytes", &ns),
        1_000_204_886_016.0
    );
    assert_eq!(
        v(&e, "node_nvme_namespace_used_bytes", &ns),
        61_440_000_000.0
    );
    assert_eq!(
        v(&e, "node_nvme_namespace_logical_block_size_bytes", &ns),
        512.0
    );
    assert_eq!(
        v(
            &e,
            "node_nvme_namespace_info",
            &[
                ("device", "nvme0"),
                ("nsid", "1"),
                ("ana_state", "optimized")
            ]
        ),
        1.0
    );
}

/// nfs and nfsd: the fixed lines by position, each procN line after its
/// count (missing procedures count 0), proc4ops by operation number.
#[test]
fn nfs_and_nfsd() {
    let e = scrape(&[]);
    let req = |name: &str, proto: &'static str, method: &'static str| {
        v(&e, name, &[("proto", proto), ("method", method)])
    };
    assert_eq!(
        v(&e, "node_nfs_packets_total", &[("protocol", "tcp")]),
        18628.0
    );
    assert_eq!(v(&e, "node_nfs_connections_total", &[]), 6.0);
    assert_eq!(v(&e, "node_nfs_rpcs_total", &[]), 4_329_785.0);
    assert_eq!(v(&e, "node_nfs_rpc_retransmissions_total", &[]), 3.0);
    assert_eq!(
        v(&e, "node_nfs_rpc_authentication_refreshes_total", &[]),
        11.0
    );
    assert_eq!(req("node_nfs_requests_total", "3", "GetAttr"), 4_084_749.0);
    assert_eq!(req("node_nfs_requests_total", "3", "Commit"), 2.0);
    assert_eq!(req("node_nfs_requests_total", "2", "ReadDir"), 99.0);
    assert_eq!(req("node_nfs_requests_total", "4", "Null"), 1.0);
    assert_eq!(req("node_nfs_requests_total", "4", "Clone"), 7.0);
    assert_eq!(e.samples("node_nfs_requests_total").len(), 18 + 22 + 59);

    assert_eq!(v(&e, "node_nfsd_reply_cache_misses_total", &[]), 6.0);
    assert_eq!(v(&e, "node_nfsd_reply_cache_nocache_total", &[]), 18622.0);
    assert_eq!(v(&e, "node_nfsd_file_handles_stale_total", &[]), 3.0);
    assert_eq!(v(&e, "node_nfsd_disk_bytes_read_total", &[]), 157_286_400.0);
    assert_eq!(v(&e, "node_nfsd_disk_bytes_written_total", &[]), 72864.0);
    assert_eq!(v(&e, "node_nfsd_server_threads", &[]), 8.0);
    assert_eq!(v(&e, "node_nfsd_read_ahead_cache_size_blocks", &[]), 32.0);
    assert_eq!(
        v(&e, "node_nfsd_read_ahead_cache_not_found_total", &[]),
        5.0
    );
    assert_eq!(v(&e, "node_nfsd_packets_total", &[("proto", "udp")]), 1.0);
    assert_eq!(
        v(&e, "node_nfsd_rpc_errors_total", &[("error", "fmt")]),
        1.0
    );
    assert_eq!(
        v(&e, "node_nfsd_rpc_errors_total", &[("error", "auth")]),
        2.0
    );
    assert_eq!(v(&e, "node_nfsd_server_rpcs_total", &[]), 18628.0);
    assert_eq!(req("node_nfsd_requests_total", "3", "Lookup"), 2719.0);
    assert_eq!(req("node_nfsd_requests_total", "4", "Access"), 1098.0);
    assert_eq!(req("node_nfsd_requests_total", "4", "GetAttr"), 8179.0);
    assert_eq!(req("node_nfsd_requests_total", "4", "PutFH"), 9609.0);
    assert_eq!(req("node_nfsd_requests_total", "4", "SetAttr"), 0.0);
    assert_eq!(
        e.value(
            "node_nfsd_requests_total",
            &[("proto", "3"), ("method", "Null")]
        ),
        None
    );
}

/// tapestats: st0 only (nst0 is the same drive), nanoseconds to seconds.
#[test]
fn tapestats() {
    let e = scrape(&[]);
    let st0 = [("device", "st0")];
    assert_eq!(v(&e, "node_tape_io_now", &st0), 1.0);
    assert_eq!(
        v(&e, "node_tape_io_time_seconds_total", &st0),
        9_247.011_087_72
    );
    assert_eq!(v(&e, "node_tape_io_others_total", &st0), 1409.0);
    assert_eq!(v(&e, "node_tape_read_bytes_total", &st0), 979_383_912.0);
    assert_eq!(v(&e, "node_tape_reads_completed_total", &st0), 3741.0);
    assert_eq!(v(&e, "node_tape_residual_total", &st0), 19.0);
    assert_eq!(
        v(&e, "node_tape_written_bytes_total", &st0),
        1_496_246_784_000.0
    );
    assert_eq!(
        v(&e, "node_tape_writes_completed_total", &st0),
        53_772_916.0
    );
    assert_eq!(
        v(&e, "node_tape_write_time_seconds_total", &st0),
        5_233.597_394_395
    );
    assert_eq!(e.samples("node_tape_io_now").len(), 1);
    let e = scrape(&["--collector.tapestats.ignored-devices=^st0$"]);
    assert!(e.samples("node_tape_io_now").is_empty());
}

/// fibrechannel: hexadecimal counters (all ones: not implemented, left
/// out) and the host's attributes as the info series' labels.
#[test]
fn fibrechannel() {
    let e = scrape(&[]);
    let host = [("fc_host", "host0")];
    assert_eq!(
        e.value("node_fibrechannel_dumped_frames_total", &host),
        None
    );
    assert_eq!(v(&e, "node_fibrechannel_error_frames_total", &host), 0.0);
    assert_eq!(v(&e, "node_fibrechannel_invalid_crc_total", &host), 32.0);
    assert_eq!(v(&e, "node_fibrechannel_rx_frames_total", &host), 48.0);
    assert_eq!(v(&e, "node_fibrechannel_tx_words_total", &host), 96.0);
    assert_eq!(v(&e, "node_fibrechannel_link_failure_total", &host), 16.0);
    assert_eq!(
        v(
            &e,
            "node_fibrechannel_seconds_since_last_reset_total",
            &host
        ),
        31.0
    );
    let info = e.samples("node_fibrechannel_info");
    assert_eq!(info.len(), 1);
    let l = &info[0].0;
    assert_eq!(l.get("speed").map(String::as_str), Some("16 Gbit"));
    assert_eq!(l.get("port_state").map(String::as_str), Some("Online"));
    assert_eq!(
        l.get("port_name").map(String::as_str),
        Some("0x1000e0071bce95f2")
    );
    assert_eq!(l.get("dev_loss_tmo").map(String::as_str), Some("30"));
    assert_eq!(l.len(), 11);
}

/// zfs: kstat rows of 64-bit types as untyped series, each pool's io row,
/// its datasets (objset files) and its state.
#[test]
fn zfs() {
    let e = scrape(&[]);
    assert_eq!(v(&e, "node_zfs_arc_hits", &[]), 8_772_612.0);
    assert_eq!(v(&e, "node_zfs_arc_c_max", &[]), 4_150_190_080.0);
    assert_eq!(v(&e, "node_zfs_arc_arc_no_grow", &[]), 0.0);
    assert_eq!(v(&e, "node_zfs_zil_zil_commit_count", &[]), 10.0);
    assert_eq!(
        e.types.get("node_zfs_arc_hits").map(String::as_str),
        Some("untyped")
    );
    let pool = [("zpool", "pool1")];
    assert_eq!(v(&e, "node_zfs_zpool_nread", &pool), 1_884_160.0);
    assert_eq!(v(&e, "node_zfs_zpool_writes", &pool), 132.0);
    assert_eq!(v(&e, "node_zfs_zpool_rupdate", &pool), 79_210_489_849_220.0);
    let ds = [("zpool", "pool1"), ("dataset", "pool1/dataset1")];
    assert_eq!(v(&e, "node_zfs_zpool_dataset_nwritten", &ds), 12302.0);
    assert_eq!(v(&e, "node_zfs_zpool_dataset_nunlinks", &ds), 3.0);
    assert_eq!(
        v(
            &e,
            "node_zfs_zpool_state",
            &[("zpool", "pool1"), ("state", "online")]
        ),
        1.0
    );
    assert_eq!(
        v(
            &e,
            "node_zfs_zpool_state",
            &[("zpool", "pool1"), ("state", "degraded")]
        ),
        0.0
    );
    assert_eq!(e.samples("node_zfs_zpool_state").len(), 7);
}

/// btrfs: per filesystem (features/ is not one), space by block group
/// type and profile (the ratio from the profile and device count), commit
/// statistics in seconds, device sizes from 512-byte sectors.
#[test]
fn btrfs() {
    let e = scrape(&[]);
    let uuid = "0abb23a9-579b-43e6-ad30-227ef47fcb9d";
    let u = [("uuid", uuid)];
    assert_eq!(
        v(
            &e,
            "node_btrfs_info",
            &[("uuid", uuid), ("label", "fixture")]
        ),
        1.0
    );
    assert_eq!(e.samples("node_btrfs_info").len(), 1);
    assert_eq!(v(&e, "node_btrfs_global_rsv_size_bytes", &u), 16_777_216.0);
    assert_eq!(v(&e, "node_btrfs_commits_total", &u), 258_051.0);
    assert_eq!(v(&e, "node_btrfs_last_commit_seconds", &u), 1.0);
    assert_eq!(v(&e, "node_btrfs_max_commit_seconds", &u), 51.462);
    assert_eq!(v(&e, "node_btrfs_commit_seconds_total", &u), 47_836.09);
    let data = [
        ("uuid", uuid),
        ("block_group_type", "data"),
        ("mode", "raid5"),
    ];
    assert_eq!(v(&e, "node_btrfs_used_bytes", &data), 808_189_952.0);
    assert_eq!(v(&e, "node_btrfs_size_bytes", &data), 2_147_483_648.0);
    assert_eq!(v(&e, "node_btrfs_allocation_ratio", &data), 1.5);
    let meta = [
        ("uuid", uuid),
        ("block_group_type", "metadata"),
        ("mode", "raid1"),
    ];
    assert_eq!(v(&e, "node_btrfs_allocation_ratio", &meta), 2.0);
    assert_eq!(
        v(
            &e,
            "node_btrfs_reserved_bytes",
            &[("uuid", uuid), ("block_group_type", "metadata")]
        ),
        65536.0
    );
    assert_eq!(
        v(
            &e,
            "node_btrfs_device_size_bytes",
            &[("uuid", uuid), ("device", "loop26")]
        ),
        10_737_418_240.0
    );
}

/// xfs: each device's stats lines by position; the global sum is not a device.
#[test]
fn xfs() {
    let e = scrape(&[]);
    let d = [("device", "sda1")];
    assert_eq!(
        v(&e, "node_xfs_extent_allocation_extents_allocated_total", &d),
        1.0
    );
    assert_eq!(
        v(&e, "node_xfs_extent_allocation_blocks_allocated_total", &d),
        872.0
    );
    assert_eq!(v(&e, "node_xfs_block_mapping_reads_total", &d), 61.0);
    assert_eq!(
        v(&e, "node_xfs_block_mapping_extent_list_lookups_total", &d),
        91.0
    );
    assert_eq!(
        v(&e, "node_xfs_directory_operation_getdents_total", &d),
        52.0
    );
    assert_eq!(v(&e, "node_xfs_read_calls_total", &d), 28.0);
    assert_eq!(v(&e, "node_xfs_vnode_active_total", &d), 4.0);
    assert_eq!(v(&e, "node_xfs_vnode_remove_total", &d), 18.0);
    assert_eq!(e.samples("node_xfs_read_calls_total").len(), 1);
}

/// ipvs: hexadecimal totals; backends by service (v4, v6 and firewall-mark
/// services), and summed when --collector.ipvs.backend-labels keeps fewer
/// labels.
#[test]
fn ipvs() {
    let e = scrape(&[]);
    assert_eq!(v(&e, "node_ipvs_connections_total", &[]), 23_765_872.0);
    assert_eq!(
        v(&e, "node_ipvs_incoming_packets_total", &[]),
        3_811_989_221.0
    );
    assert_eq!(
        v(&e, "node_ipvs_incoming_bytes_total", &[]),
        89_991_519_156_915.0
    );
    assert_eq!(v(&e, "node_ipvs_outgoing_bytes_total", &[]), 0.0);
    let backend = [
        ("local_address", "192.168.0.22"),
        ("local_port", "3306"),
        ("remote_address", "192.168.82.22"),
        ("remote_port", "3306"),
        ("proto", "TCP"),
        ("local_mark", ""),
    ];
    assert_eq!(
        v(&e, "node_ipvs_backend_connections_active", &backend),
        248.0
    );
    assert_eq!(
        v(&e, "node_ipvs_backend_connections_inactive", &backend),
        2.0
    );
    assert_eq!(v(&e, "node_ipvs_backend_weight", &backend), 100.0);
    let fwm = [
        ("local_address", ""),
        ("local_port", "0"),
        ("remote_address", "192.168.49.32"),
        ("remote_port", "3306"),
        ("proto", "FWM"),
        ("local_mark", "10001000"),
    ];
    assert_eq!(v(&e, "node_ipvs_backend_connections_inactive", &fwm), 2.0);
    let v6 = [
        ("local_address", "2620::1"),
        ("local_port", "80"),
        ("remote_address", "2620::2"),
        ("remote_port", "80"),
        ("proto", "TCP"),
        ("local_mark", ""),
    ];
    assert_eq!(v(&e, "node_ipvs_backend_weight", &v6), 1.0);
    assert_eq!(e.samples("node_ipvs_backend_weight").len(), 9);

    let e = scrape(&["--collector.ipvs.backend-labels=local_address,local_port"]);
    let service = [("local_address", "192.168.0.57"), ("local_port", "3306")];
    assert_eq!(
        v(&e, "node_ipvs_backend_connections_active", &service),
        2997.0
    );
    assert_eq!(v(&e, "node_ipvs_backend_weight", &service), 200.0);
    assert_eq!(e.samples("node_ipvs_backend_weight").len(), 4);
}

/// infiniband: state numbers from `N: NAME`, the rate in bytes per second,
/// data counters in 4-octet words.
#[test]
fn infiniband() {
    let e = scrape(&[]);
    let p = [("device", "mlx5_0"), ("port", "1")];
    assert_eq!(v(&e, "node_infiniband_state_id", &p), 4.0);
    assert_eq!(v(&e, "node_infiniband_physical_state_id", &p), 5.0);
    assert_eq!(
        v(&e, "node_infiniband_rate_bytes_per_second", &p),
        12_500_000_000.0
    );
    assert_eq!(v(&e, "node_infiniband_link_error_recovery_total", &p), 2.0);
    assert_eq!(
        v(&e, "node_infiniband_port_data_received_bytes_total", &p),
        8_884_894_436.0
    );
    assert_eq!(
        v(&e, "node_infiniband_port_data_transmitted_bytes_total", &p),
        106_036_453_180.0
    );
    assert_eq!(v(&e, "node_infiniband_port_errors_received_total", &p), 3.0);
    assert_eq!(
        v(&e, "node_infiniband_legacy_data_received_bytes_total", &p),
        44.0
    );
    assert_eq!(
        e.value("node_infiniband_port_discards_received_total", &p),
        None
    );
}

/// bcache: human sizes read back (powers of 1024), the writeback
/// controller's lines, hit statistics per backing device, and
/// priority_stats only with its flag.
#[test]
fn bcache() {
    let e = scrape(&[]);
    let uuid = "deaddd54-c735-46d5-868e-f331c5fd7c74";
    let u = [("uuid", uuid)];
    assert_eq!(v(&e, "node_bcache_cache_available_percent", &u), 100.0);
    assert_eq!(v(&e, "node_bcache_active_journal_entries", &u), 5.0);
    assert!(
        (v(&e, "node_bcache_btree_read_average_duration_seconds", &u) - 0.001305).abs() < 1e-12
    );
    let b = [("uuid", uuid), ("backing_device", "bdev0")];
    assert_eq!(v(&e, "node_bcache_dirty_data_bytes", &b), 4096.0);
    assert_eq!(v(&e, "node_bcache_writeback_rate", &b), 1_153_433.0);
    assert_eq!(
        v(&e, "node_bcache_dirty_target_bytes", &b),
        21_904_333_209.0
    );
    assert_eq!(
        v(&e, "node_bcache_writeback_rate_proportinal_term", &b),
        437_760.0
    );
    assert_eq!(
        v(&e, "node_bcache_writeback_rate_integral_term", &b),
        -808_960.0
    );
    assert_eq!(
        v(&e, "node_bcache_bypassed_bytes_total", &b),
        1_610_612_736.0
    );
    assert_eq!(v(&e, "node_bcache_cache_misses_total", &b), 1778.0);
    assert_eq!(v(&e, "node_bcache_cache_readaheads_total", &b), 13.0);
    let c = [("uuid", uuid), ("cache_device", "cache0")];
    assert_eq!(v(&e, "node_bcache_metadata_written_bytes_total", &c), 512.0);
    assert_eq!(
        e.value("node_bcache_priority_stats_unused_percent", &c),
        None
    );
    let e = scrape(&["--collector.bcache.priorityStats"]);
    assert_eq!(v(&e, "node_bcache_priority_stats_unused_percent", &c), 99.0);
    assert_eq!(
        v(&e, "node_bcache_priority_stats_metadata_percent", &c),
        0.0
    );
}

/// bcachefs: human sizes, compression per algorithm, errors, counters since
/// filesystem creation, btree writes, and per device info, buckets, I/O done
/// by operation and data type, and I/O errors since creation only.
#[test]
fn bcachefs() {
    let e = scrape(&[]);
    let uuid = "5b1c7bc0-6a0d-4a59-b1b3-3c6f3f2c8a11";
    let u = [("uuid", uuid)];
    assert_eq!(v(&e, "node_bcachefs_info", &u), 1.0);
    assert_eq!(
        v(&e, "node_bcachefs_btree_cache_size_bytes", &u),
        13_107_200.0
    );
    let lz4 = [("uuid", uuid), ("algorithm", "lz4")];
    assert_eq!(
        v(&e, "node_bcachefs_compression_compressed_bytes", &lz4),
        1_610_612_736.0
    );
    assert_eq!(
        v(&e, "node_bcachefs_compression_uncompressed_bytes", &lz4),
        3_221_225_472.0
    );
    assert_eq!(
        v(
            &e,
            "node_bcachefs_errors_total",
            &[("uuid", uuid), ("error_type", "btree_node_read_err")]
        ),
        2.0
    );
    assert_eq!(v(&e, "node_bcachefs_bucket_alloc_total", &u), 1228.0);
    assert_eq!(v(&e, "node_bcachefs_io_read_total", &u), 7.0);
    let initial = [("uuid", uuid), ("type", "initial")];
    assert_eq!(v(&e, "node_bcachefs_btree_writes_total", &initial), 19.0);
    assert_eq!(
        v(&e, "node_bcachefs_btree_write_average_size_bytes", &initial),
        2048.0
    );
    let d = [("uuid", uuid), ("device", "0")];
    assert_eq!(
        v(
            &e,
            "node_bcachefs_device_info",
            &[
                ("uuid", uuid),
                ("device", "0"),
                ("label", "ssd"),
                ("state", "rw")
            ]
        ),
        1.0
    );
    assert_eq!(
        v(&e, "node_bcachefs_device_bucket_size_bytes", &d),
        524_288.0
    );
    assert_eq!(v(&e, "node_bcachefs_device_buckets", &d), 262_144.0);
    assert_eq!(v(&e, "node_bcachefs_device_durability", &d), 1.0);
    let io = |op: &'static str, t: &'static str| {
        v(
            &e,
            "node_bcachefs_device_io_done_bytes_total",
            &[
                ("uuid", uuid),
                ("device", "0"),
                ("operation", op),
                ("data_type", t),
            ],
        )
    };
    assert_eq!(io("read", "btree"), 1_048_576.0);
    assert_eq!(io("write", "user"), 20_971_520.0);
    let err = |t: &'static str| {
        v(
            &e,
            "node_bcachefs_device_io_errors_total",
            &[("uuid", uuid), ("device", "0"), ("type", t)],
        )
    };
    assert_eq!(err("read"), 1.0);
    assert_eq!(err("checksum"), 2.0);
    assert_eq!(e.samples("node_bcachefs_device_io_errors_total").len(), 3);
}
