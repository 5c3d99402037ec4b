//! The files sidewatch-node keeps open between scrapes (`paths::kept`),
//! against real network devices: a network namespace of the test's own,
//! with veth pairs it makes, renames and deletes, and a sysfs mounted for
//! that namespace that the exporter reads as `--path.sysfs`. Each value the
//! exporter reports is held against what the kernel says at that moment.

use std::path::{Path, PathBuf};
use std::process::Command;

use sidewatch_testkit::{http_get, output_ok, Exporter, Exposition};

const BIN: &str = env!("CARGO_BIN_EXE_sidewatch-node");

fn run(program: &str, args: &[&str]) {
    output_ok(Command::new(program).args(args));
}

/// A network namespace and a sysfs of it mounted in a temporary directory;
/// both go away on drop.
struct Namespace {
    name: String,
    sysfs: PathBuf,
    _dir: tempfile::TempDir,
}

impl Namespace {
    fn new() -> Self {
        let name = format!("sw-kept-{}", std::process::id());
        let dir = tempfile::tempdir().expect("tempdir");
        let sysfs = dir.path().join("sys");
        std::fs::create_dir(&sysfs).expect("mkdir");
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run("ip", &["netns", "add", &name]);
        let ns = Self {
            name,
            sysfs,
            _dir: dir,
        };
        // nsenter enters only the network namespace, so the mount is made
        // in this one's mount namespace, and the sysfs shows the devices of
        // the namespace it was mounted from.
        let netns = format!("--net=/run/netns/{}", ns.name);
        let target = ns.sysfs.to_str().expect("utf-8");
        run(
            "nsenter",
            &[&netns, "mount", "-t", "sysfs", "sysfs", target],
        );
        ns
    }

    fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run("ip", &all);
    }

    /// What the kernel says of a device's attribute, read now.
    fn attr(&self, device: &str, name: &str) -> f64 {
        let path = self.sysfs.join("class/net").join(device).join(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .parse()
            .expect("number")
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.sysfs).output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// The files under `sysfs` the exporter holds open, by the path each one's
/// link names.
fn open_files_under(pid: u32, sysfs: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fds")
        .flatten()
    {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let target = target.to_string_lossy().into_owned();
            if target.starts_with(sysfs.to_str().expect("utf-8")) {
                out.push(target);
            }
        }
    }
    out
}

fn scrape(e: &Exporter) -> Exposition {
    Exposition::parse(&http_get(&e.url("/metrics")).expect("scrape"))
}

#[test]
fn kept_device_files_follow_renames_removals_and_new_devices_by_name() {
    let ns = Namespace::new();
    ns.ip(&["link", "add", "swa", "type", "veth", "peer", "name", "swb"]);
    ns.ip(&["link", "set", "swa", "mtu", "1400"]);
    let sysfs = format!("--path.sysfs={}", ns.sysfs.display());
    let mut exporter = Exporter::start(
        Path::new(BIN),
        &[
            "--collector.disable-defaults",
            "--collector.netclass",
            &sysfs,
        ],
    );
    let pid = exporter.service().pid().expect("pid");
    let mtu =
        |e: &Exposition, device: &str| e.value("node_network_mtu_bytes", &[("device", device)]);
    let id = |e: &Exposition, device: &str| e.value("node_network_iface_id", &[("device", device)]);

    let e = scrape(&exporter);
    assert_eq!(mtu(&e, "swa"), Some(1400.0));
    assert_eq!(id(&e, "swa"), Some(ns.attr("swa", "ifindex")));
    assert_eq!(id(&e, "swb"), Some(ns.attr("swb", "ifindex")));
    // The sysfs mounted for the namespace is the kernel's own: its files
    // stay open between scrapes.
    let kept = open_files_under(pid, &ns.sysfs);
    assert!(
        kept.iter().any(|p| p.ends_with("/swa/mtu")),
        "no kept file of swa: {kept:?}"
    );

    // A kept file is read again: the new MTU, not the first one.
    ns.ip(&["link", "set", "swa", "mtu", "1300"]);
    let e = scrape(&exporter);
    assert_eq!(mtu(&e, "swa"), Some(1300.0));

    // Renamed, and another device under the old name: each name reports
    // the device it now means.
    let old_index = ns.attr("swa", "ifindex");
    ns.ip(&["link", "set", "swa", "name", "swc"]);
    ns.ip(&["link", "add", "swa", "type", "veth", "peer", "name", "swd"]);
    ns.ip(&["link", "set", "swa", "mtu", "1200"]);
    let e = scrape(&exporter);
    assert_eq!(id(&e, "swc"), Some(old_index));
    assert_eq!(mtu(&e, "swc"), Some(1300.0));
    assert_eq!(id(&e, "swa"), Some(ns.attr("swa", "ifindex")));
    assert_ne!(id(&e, "swa"), Some(old_index));
    assert_eq!(mtu(&e, "swa"), Some(1200.0));

    // Deleted (with its peer): its series go, and so do its open files.
    ns.ip(&["link", "del", "swc"]);
    let e = scrape(&exporter);
    assert_eq!(mtu(&e, "swc"), None);
    assert_eq!(mtu(&e, "swb"), None);
    assert_eq!(mtu(&e, "swa"), Some(1200.0));
    assert_eq!(mtu(&e, "swd"), Some(ns.attr("swd", "mtu")));
    let kept = open_files_under(pid, &ns.sysfs);
    assert!(
        !kept
            .iter()
            .any(|p| p.contains("/swc/") || p.contains("/swb/")),
        "files of deleted devices still open: {kept:?}"
    );
    assert!(
        kept.iter().any(|p| p.ends_with("/swd/mtu")),
        "no kept file of swd: {kept:?}"
    );
    drop(exporter);
}
