//! Real file operations in temp directories, watched by inotify and by
//! polling: exact counts, bytes and counter increments.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sidewatch_wal::scan::Kind;
use sidewatch_wal::state::Counters;
use sidewatch_wal::watch::{start, DirConfig, WatchSettings, WatchedDir};

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < until {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

fn counters(d: &WatchedDir) -> Counters {
    d.summary.lock().map(|s| s.counters).unwrap_or_default()
}

fn files(d: &WatchedDir) -> usize {
    d.summary.lock().map(|s| s.files).unwrap_or(0)
}

fn generic(path: &std::path::Path, settings: WatchSettings) -> Arc<WatchedDir> {
    start(
        vec![DirConfig {
            name: "app".into(),
            path: path.to_owned(),
            kind: Kind::Generic {
                pattern: "*.wal".into(),
            },
        }],
        settings,
    )
    .remove(0)
}

fn exercise(d: &WatchedDir, dir: &std::path::Path) {
    std::fs::write(dir.join("old.wal"), vec![0u8; 10]).expect("write");
    std::fs::write(dir.join("ignored.tmp"), vec![0u8; 999]).expect("write");
    wait_for("old.wal", || files(d) == 2);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("old.wal"))
        .expect("open");
    f.write_all(&[1u8; 25]).expect("append");
    drop(f);
    std::fs::rename(dir.join("old.wal"), dir.join("moved.wal")).expect("rename");
    std::fs::remove_file(dir.join("first.wal")).expect("remove");
    // The rename keeps the inode: 10 + 25 bytes were written, not 10 + 25 + 35.
    wait_for("the changes", || {
        counters(d)
            == Counters {
                created: 2,
                removed: 2,
                written_bytes: 10 + 25,
            }
    });
}

#[test]
fn inotify_events_drive_exact_counters() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("first.wal"), vec![0u8; 7]).expect("write");
    let d = generic(
        dir.path(),
        WatchSettings {
            rescan_interval: Duration::from_secs(3600),
            ..WatchSettings::default()
        },
    );
    assert!(d.up.load(Ordering::Relaxed));
    assert_eq!(files(&d), 1);
    exercise(&d, dir.path());
    let events: u64 = d.events.lock().map(|e| e.values().sum()).unwrap_or(0);
    assert!(events >= 4, "{events} events");
}

#[test]
fn polling_gives_the_same_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("first.wal"), vec![0u8; 7]).expect("write");
    let d = generic(
        dir.path(),
        WatchSettings {
            poll_interval: Duration::from_millis(100),
            force_poll: true,
            ..WatchSettings::default()
        },
    );
    exercise(&d, dir.path());
    assert!(d.rescans.load(Ordering::Relaxed) > 2);
}

#[test]
fn missing_then_created_deleted_then_recreated() {
    let root = tempfile::tempdir().expect("tempdir");
    let path = root.path().join("wal");
    let d = generic(
        &path,
        WatchSettings {
            poll_interval: Duration::from_millis(100),
            ..WatchSettings::default()
        },
    );
    assert!(!d.up.load(Ordering::Relaxed));
    std::fs::create_dir(&path).expect("mkdir");
    wait_for("up", || d.up.load(Ordering::Relaxed));
    std::fs::write(path.join("a.wal"), b"x").expect("write");
    wait_for("a.wal", || files(&d) == 1);
    std::fs::remove_dir_all(&path).expect("rm");
    wait_for("down", || !d.up.load(Ordering::Relaxed));
    std::fs::create_dir(&path).expect("mkdir again");
    std::fs::write(path.join("b.wal"), b"yy").expect("write");
    wait_for("up again with b.wal", || {
        d.up.load(Ordering::Relaxed) && files(&d) == 1
    });
}

/// The watcher's own scans (opendir, stat) produce inotify open and close
/// events; they must not schedule further rescans. An untouched directory is
/// scanned once at start, then only at the rescan interval.
#[test]
fn an_untouched_directory_is_not_rescanned_by_its_own_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("first.wal"), vec![0u8; 7]).expect("write");
    let d = generic(
        dir.path(),
        WatchSettings {
            rescan_interval: Duration::from_secs(3600),
            debounce: Duration::from_millis(10),
            ..WatchSettings::default()
        },
    );
    // The first scan, and one when the watch is in place.
    wait_for("the watch's scan", || {
        d.rescans.load(Ordering::Relaxed) >= 2
    });
    std::thread::sleep(Duration::from_millis(300));
    let at_start = d.rescans.load(Ordering::Relaxed);
    assert!(at_start <= 2, "{at_start} scans at start");
    // Reading the directory from outside is no change either.
    for _ in 0..5 {
        let _ = std::fs::read_dir(dir.path()).map(|r| r.count());
        let _ = std::fs::read(dir.path().join("first.wal"));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        d.rescans.load(Ordering::Relaxed),
        at_start,
        "rescans without any change; events {:?}",
        d.events.lock().map(|e| e.clone()).unwrap_or_default()
    );
    // A real change still triggers one.
    std::fs::write(dir.path().join("second.wal"), vec![0u8; 3]).expect("write");
    wait_for("the new file", || files(&d) == 2);
}
