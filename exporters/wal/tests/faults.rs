//! Bad directories never panic or hang: permission denied, a symlinked
//! directory, files appearing and vanishing while scans run.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use sidewatch_testkit::{http_get, wait_until, Exporter, Exposition};

const BIN: &str = env!("CARGO_BIN_EXE_sidewatch-wal");

fn scrape(e: &Exporter) -> Exposition {
    Exposition::parse(
        &http_get(&e.url("/metrics")).unwrap_or_else(|err| panic!("{err}\n{}", e.log())),
    )
}

fn value(e: &Exporter, name: &str, dir: &str) -> f64 {
    scrape(e).value(name, &[("dir", dir)]).unwrap_or(f64::NAN)
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    assert!(
        wait_until(Duration::from_secs(20), &mut check),
        "timed out waiting for {what}"
    );
}

#[test]
fn permission_denied_is_up_0_with_a_clear_log_line_then_recovers() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let dir = root.path().join("wal");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("a.wal"), b"x").expect("write");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let is_root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    assert!(
        is_root,
        "this test drops to an unprivileged user and needs root (as CI runs)"
    );
    let d = format!("--wal.dir={}", dir.display());
    // As nobody, which cannot read a root-owned 0700 directory.
    let e = Exporter::start_unchecked(
        Path::new("/usr/bin/setpriv"),
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
            &d,
            "--wal.kind=generic",
            "--wal.pattern=*.wal",
            "--wal.poll-interval=200ms",
        ],
    );
    assert!(e.wait_listening(), "{}", e.log());
    let label = dir.display().to_string();
    assert_eq!(value(&e, "sidewatch_wal_up", &label), 0.0);
    assert!(e.log().contains("Permission denied"), "{}", e.log());
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    wait_for("up 1", || value(&e, "sidewatch_wal_up", &label) == 1.0);
    assert_eq!(value(&e, "sidewatch_wal_segments", &label), 1.0);
}

#[test]
fn symlinked_directory_and_churn_during_scans() {
    let root = tempfile::tempdir().expect("tempdir");
    let real = root.path().join("real");
    std::fs::create_dir(&real).expect("mkdir");
    let link = root.path().join("link");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let d = format!("--wal.dir={}", link.display());
    let e = Exporter::start_unchecked(
        Path::new(BIN),
        &[
            &d,
            "--wal.kind=generic",
            "--wal.pattern=*.wal",
            "--wal.rescan-interval=100ms",
        ],
    );
    assert!(e.wait_listening(), "{}", e.log());
    let label = link.display().to_string();
    assert_eq!(value(&e, "sidewatch_wal_up", &label), 1.0);
    // Files appear and vanish while rescans and scrapes run.
    let churn_dir = real.clone();
    let churn = std::thread::spawn(move || {
        for i in 0..2000 {
            let p = churn_dir.join(format!("{}.wal", i % 50));
            let _ = std::fs::write(&p, vec![0u8; i % 100]);
            if i % 3 == 0 {
                let _ = std::fs::remove_file(&p);
            }
        }
    });
    for _ in 0..30 {
        assert_eq!(value(&e, "sidewatch_wal_up", &label), 1.0);
    }
    churn.join().expect("churn");
    let on_disk = std::fs::read_dir(&real).expect("read").count() as f64;
    wait_for("the final state", || {
        value(&e, "sidewatch_wal_segments", &label) == on_disk
    });
}
