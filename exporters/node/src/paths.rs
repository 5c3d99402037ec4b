//! Where the host's /proc, /sys and / are: the host's own, or mounted into a
//! sidecar (e.g. `--path.procfs=/host/proc`).

use std::fs;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use sidewatch_common::{Blocking, BlockingCollector, CollectError, Collector, Inline};

#[derive(Clone, Debug)]
pub struct HostPaths {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    pub udev_data: PathBuf,
    /// Whether `procfs` and `sysfs` are the kernel's own proc and sysfs, and
    /// `udev_data` a tmpfs or absent (not a copy, a fixture tree or anything
    /// else a flag can point at): then their files are kept in kernel memory,
    /// cannot block on a device, a FIFO or a network, and the collectors that read only them run on the
    /// runtime's thread instead of the blocking pool ([`reader`]).
    pub kernel: bool,
}

impl HostPaths {
    pub fn proc(&self, rel: &str) -> PathBuf {
        self.procfs.join(rel)
    }

    pub fn sys(&self, rel: &str) -> PathBuf {
        self.sysfs.join(rel)
    }

    /// A host path (absolute, as the host sees it) under --path.rootfs.
    pub fn root(&self, host_path: &str) -> PathBuf {
        self.rootfs.join(host_path.trim_start_matches('/'))
    }

    /// The host's name for a path under --path.rootfs.
    pub fn strip_root<'a>(&self, path: &'a str) -> &'a str {
        let root = self.rootfs.to_str().unwrap_or("/").trim_end_matches('/');
        if root.is_empty() {
            return path;
        }
        match path.strip_prefix(root) {
            Some("") => "/",
            Some(rest) if rest.starts_with('/') => rest,
            _ => path,
        }
    }
}

/// Whether `procfs` is a proc filesystem, `sysfs` a sysfs and `udev_data`
/// (which diskstats reads) a tmpfs or absent, by their statfs magic numbers;
/// false when any cannot be asked.
pub fn kernel_filesystems(procfs: &Path, sysfs: &Path, udev_data: &Path) -> bool {
    const PROC_SUPER_MAGIC: u64 = 0x9fa0;
    const SYSFS_MAGIC: u64 = 0x6265_6572;
    const TMPFS_MAGIC: u64 = 0x0102_1994;
    let magic = |p: &Path| rustix::fs::statfs(p).ok().map(|s| s.f_type as u64);
    let udev = match rustix::fs::statfs(udev_data) {
        Ok(s) => s.f_type as u64 == TMPFS_MAGIC,
        Err(e) => e == rustix::io::Errno::NOENT,
    };
    magic(procfs) == Some(PROC_SUPER_MAGIC) && magic(sysfs) == Some(SYSFS_MAGIC) && udev
}

/// How a collector that reads only /proc and /sys runs: on the runtime's
/// thread when they are the kernel's own ([`HostPaths::kernel`]), saving two
/// thread wake-ups a collector a scrape; otherwise on the blocking pool,
/// where a read that hangs cannot hold the scrape.
pub fn reader<T: BlockingCollector>(paths: &HostPaths, collector: T) -> Arc<dyn Collector> {
    if paths.kernel {
        Arc::new(Inline::new(collector))
    } else {
        Arc::new(Blocking::new(collector))
    }
}

/// The entries of a sysfs (or procfs) directory whose names start with
/// `prefix`, as (name, path), sorted by name; none when the directory is
/// absent (the hardware or the driver is not there).
pub fn entries(dir: &Path, prefix: &str) -> Vec<(String, PathBuf)> {
    let Ok(read) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = read
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.starts_with(prefix).then(|| (name, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// Whether a sysfs (or procfs) directory is absent or has no entries: a
/// collector of a device class with nothing to read, which therefore cannot
/// hang and needs no thread of the blocking pool (see
/// `BlockingCollector::nothing_to_block_on`). Listing a sysfs directory is
/// the kernel's own bookkeeping; it calls no driver.
pub fn absent_or_empty(paths: &HostPaths, rel: &str) -> bool {
    paths.kernel && fs::read_dir(paths.sys(rel)).map_or(true, |mut d| d.next().is_none())
}

/// One attribute file of a sysfs object, trimmed; `None` when it is absent
/// or the kernel refuses to answer (EINVAL, EAGAIN, EPERM).
pub fn attr(dir: &Path, name: &str) -> Option<String> {
    read_text(dir.join(name)).ok().map(|s| s.trim().to_owned())
}

/// An attribute as a number: decimal, or hexadecimal with `0x`.
pub fn attr_number(dir: &Path, name: &str) -> Option<f64> {
    let text = attr(dir, name)?;
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok().map(|v| v as f64),
        None => text.parse().ok(),
    }
}

/// Reads a whole /proc or /sys file. Unlike `fs::read_to_string`, it does
/// not ask for the file's size first: /proc and /sys report 0 or a page, so
/// that `statx` per file (150 a scrape) bought nothing.
///
/// The file is read into a buffer kept by the thread, and the text returned
/// is allocated at its own size: most sysfs attributes are a few bytes, and
/// a fresh 4 KiB buffer for each of a scrape's ~150 files kept glibc's
/// malloc in its slow path (sorting and merging freed chunks: a third of
/// sidewatch-node's instructions, by callgrind).
///
/// A file of the kernel's own /proc or /sys ([`kept`]) stays open between
/// scrapes and is read again from offset 0.
pub fn read_text(path: impl AsRef<Path>) -> std::io::Result<String> {
    let path = path.as_ref();
    kept::read(path, false).unwrap_or_else(|| read_fresh(path))
}

/// [`read_text`] for a file under a subtree that [`kept`] leaves out
/// because its objects can be renamed (/sys/class/net): the caller keeps it
/// open only because it checks, each scrape, that the name still means the
/// same object, and calls [`kept::forget`] when it does not.
pub fn read_text_renamable(path: impl AsRef<Path>) -> std::io::Result<String> {
    let path = path.as_ref();
    kept::read(path, true).unwrap_or_else(|| read_fresh(path))
}

/// Opens, reads and closes.
pub fn read_fresh(path: &Path) -> std::io::Result<String> {
    read_stream(&mut fs::File::open(path)?)
}

/// Reads an open file from where it stands to its end, with `read`.
fn read_stream(file: &mut fs::File) -> std::io::Result<String> {
    use std::io::Read as _;
    // Through `take`: `File::read_to_end` itself would ask for the size
    // first (a statx and an lseek per file).
    with_buffer(|buffer| file.take(u64::MAX).read_to_end(buffer).map(drop))
}

/// Fills the thread's buffer with `fill` and returns its text at its own
/// size.
fn with_buffer(fill: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> std::io::Result<String> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    /// A buffer grown past this by one large file is not kept.
    const KEEP: usize = 256 * 1024;
    BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        buffer.clear();
        if buffer.capacity() == 0 {
            buffer.reserve(16 * 1024);
        }
        let text = fill(&mut buffer).and_then(|_| {
            std::str::from_utf8(&buffer)
                .map(str::to_owned)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        });
        if buffer.capacity() > KEEP {
            *buffer = Vec::new();
        }
        text
    })
}

/// Files of the kernel's own /proc and /sys kept open between scrapes.
///
/// Opening a sysfs attribute walks its whole path (a symlink and six or
/// seven directories for /sys/class/net/<device>/mtu, each one revalidated
/// by kernfs), and opening and closing were half of sidewatch-node's system
/// time (perf, docs/benchmarks.md). Both filesystems make their text again
/// on every read from offset 0 (seq_file, sysctl), so a file once opened is
/// read with `pread` at 0 on later scrapes instead.
///
/// - Only under the roots [`enable`] was given, which sidewatch-node gives
///   only when `--path.procfs` and `--path.sysfs` are the kernel's own
///   ([`HostPaths::kernel`]): a regular file that is replaced would go on
///   being read from its old inode.
/// - A sysfs object that goes away answers `ENODEV` on its open files; any
///   error on a kept file closes it and the path is opened again, so a
///   device removed and added again under its name is read afresh.
/// - /sys/class/net and /sys/class/infiniband are left out by default:
///   their devices can be renamed, and an open file follows the device, not
///   the name. netclass keeps its files with [`read_text_renamable`] and
///   checks each device's ifindex itself.
/// - At most [`capacity`] files under each root (128 at the usual soft
///   limit of 1024 open files, at most 512); past that a file is opened for
///   each read as before. A file not read for [`IDLE`] is closed when room
///   is needed.
pub mod kept {
    use std::collections::HashMap;
    use std::fs::File;
    use std::path::{Component, Path, PathBuf};
    use std::sync::{Mutex, MutexGuard};
    use std::time::{Duration, Instant};

    /// A kept file unread this long is closed when its root's table is
    /// full.
    pub const IDLE: Duration = Duration::from_secs(300);

    /// Subtrees of a sysfs root whose objects can be renamed.
    const RENAMABLE: &[&str] = &["class/net", "class/infiniband"];

    struct Root {
        path: PathBuf,
        sysfs: bool,
        capacity: usize,
        files: HashMap<PathBuf, Kept>,
    }

    struct Kept {
        /// None while a reader has it.
        file: Option<File>,
        used: Instant,
    }

    static ROOTS: Mutex<Vec<Root>> = Mutex::new(Vec::new());

    fn roots() -> MutexGuard<'static, Vec<Root>> {
        ROOTS.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most files kept under one root: an eighth of the soft limit on
    /// open files (128 each for /proc and /sys at the usual 1024, a quarter
    /// of it in all), at most 512.
    pub fn capacity() -> usize {
        let soft = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|limits| soft_open_files_of(&limits))
            .unwrap_or(u64::MAX);
        usize::try_from(soft / 8).unwrap_or(usize::MAX).min(512)
    }

    /// The soft limit in /proc/self/limits' "Max open files" line (None
    /// when it is "unlimited" or absent).
    pub(crate) fn soft_open_files_of(limits: &str) -> Option<u64> {
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        line["Max open files".len()..]
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// Keeps files under `procfs` and `sysfs` open from now on.
    pub fn enable(procfs: &Path, sysfs: &Path) {
        let capacity = capacity();
        enable_with(procfs, false, capacity);
        enable_with(sysfs, true, capacity);
    }

    /// [`enable`] for one root of any kind and a capacity (the unit tests
    /// use a temporary directory, whose files they rewrite in place).
    pub fn enable_with(root: &Path, sysfs: bool, capacity: usize) {
        let mut roots = roots();
        match roots.iter_mut().find(|r| r.path == root) {
            Some(r) => r.capacity = capacity,
            None => roots.push(Root {
                path: root.to_path_buf(),
                sysfs,
                capacity,
                files: HashMap::new(),
            }),
        }
    }

    /// The root that keeps `path`: under it, with no `..`, not under
    /// /proc/thread-self (a different file for every thread), and (unless
    /// `renamable`) not under a subtree whose objects can be renamed.
    fn root_of(roots: &[Root], path: &Path, renamable: bool) -> Option<usize> {
        if path.components().any(|c| c == Component::ParentDir) {
            return None;
        }
        roots.iter().position(|root| {
            path.strip_prefix(&root.path).is_ok_and(|rel| {
                if root.sysfs {
                    renamable || !RENAMABLE.iter().any(|sub| rel.starts_with(sub))
                } else {
                    !rel.starts_with("thread-self")
                }
            })
        })
    }

    /// Whether [`read`] would keep `path`.
    #[cfg(test)]
    pub fn covers(path: &Path, renamable: bool) -> bool {
        root_of(&roots(), path, renamable).is_some()
    }

    /// Reads `path` through its kept file, opening (and keeping) it when
    /// there is none or the kept one fails; `None` when `path` is not one
    /// that is kept (not under a root, or under a subtree left out).
    pub fn read(path: &Path, renamable: bool) -> Option<std::io::Result<String>> {
        let (root, sysfs, taken) = {
            let mut roots = roots();
            let root = root_of(&roots, path, renamable)?;
            let taken = roots[root]
                .files
                .get_mut(path)
                .and_then(|kept| kept.file.take());
            (root, roots[root].sysfs, taken)
        };
        if let Some(file) = taken {
            if let Ok(text) = read_from_start(&file, sysfs) {
                let mut roots = roots();
                // Unless it was forgotten meanwhile.
                if let Some(kept) = roots.get_mut(root).and_then(|r| r.files.get_mut(path)) {
                    kept.file = Some(file);
                    kept.used = Instant::now();
                }
                return Some(Ok(text));
            }
            // ENODEV (the object is gone) or any other failure: this file
            // is closed and the path opened again.
            drop(file);
            if let Some(r) = roots().get_mut(root) {
                r.files.remove(path);
            }
        }
        Some(open_and_keep(root, sysfs, path))
    }

    fn open_and_keep(root: usize, sysfs: bool, path: &Path) -> std::io::Result<String> {
        let mut file = File::open(path)?;
        match read_from_start(&file, sysfs) {
            Ok(text) => {
                let mut roots = roots();
                if let Some(r) = roots.get_mut(root) {
                    let now = Instant::now();
                    if r.files.len() >= r.capacity {
                        r.files
                            .retain(|_, kept| now.duration_since(kept.used) < IDLE);
                    }
                    if r.files.len() < r.capacity {
                        let kept = Kept {
                            file: Some(file),
                            used: now,
                        };
                        r.files.insert(path.to_path_buf(), kept);
                    }
                }
                Ok(text)
            }
            // A file that cannot be read at an offset is read as a stream
            // and not kept.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::SPIPE.raw_os_error()) => {
                super::read_stream(&mut file)
            }
            Err(e) => Err(e),
        }
    }

    /// Reads a kept file from offset 0 to its end. A sysfs file answers a
    /// read at 0 with all of its text when that is shorter than a page
    /// (an attribute's show() writes at most a page, and a binary
    /// attribute is read a page at a time), so a read shorter than the
    /// smallest page, 4096 bytes, is its end there and needs no second
    /// read to see 0. A procfs seq_file stops a read where its buffer
    /// fills, so there the file is read until 0.
    fn read_from_start(file: &File, sysfs: bool) -> std::io::Result<String> {
        const SMALLEST_PAGE: usize = 4096;
        super::with_buffer(|buffer| loop {
            if buffer.capacity() - buffer.len() < SMALLEST_PAGE {
                buffer.reserve(buffer.capacity().max(SMALLEST_PAGE));
            }
            let offset = buffer.len() as u64;
            match rustix::io::pread(file, rustix::buffer::spare_capacity(buffer), offset) {
                Ok(0) => return Ok(()),
                Ok(n) if sysfs && offset == 0 && n < SMALLEST_PAGE => return Ok(()),
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        })
    }

    /// Closes the kept files under `dir` (a device renamed or gone).
    pub fn forget(dir: &Path) {
        for root in roots().iter_mut() {
            if dir.starts_with(&root.path) || root.path.starts_with(dir) {
                root.files.retain(|path, _| !path.starts_with(dir));
            }
        }
    }

    /// How many files are kept under `dir`.
    #[cfg(test)]
    pub fn count(dir: &Path) -> usize {
        roots()
            .iter()
            .map(|r| r.files.keys().filter(|p| p.starts_with(dir)).count())
            .sum()
    }
}

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<String, CollectError> {
    read_text(path).map_err(|e| CollectError::io(path.display().to_string(), e))
}

/// Parses a number, naming the file and the field in the error.
pub fn number(value: &str, what: &str) -> Result<f64, CollectError> {
    number_of(value, || what.to_owned())
}

/// [`number`] whose `what` is only written when the value is not a number:
/// for names built per field, which a scrape would otherwise format for
/// every value it parses.
pub fn number_of(value: &str, what: impl FnOnce() -> String) -> Result<f64, CollectError> {
    value
        .trim()
        .parse::<f64>()
        .map_err(|_| CollectError::parse(format!("{}: {value:?} is not a number", what())))
}

/// Reads `path` ([`read_text`], so kept open like the others) and parses it
/// with one of procfs's parsers.
pub fn parse_with<T: procfs::FromBufRead>(path: &Path) -> Result<T, CollectError> {
    let text = read(path)?;
    T::from_buf_read(text.as_bytes())
        .map_err(|e| CollectError::parse(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_kernels_own_proc_and_sys_count_as_kernel_filesystems() {
        let (proc, sys) = (Path::new("/proc"), Path::new("/sys"));
        let absent = Path::new("/nonexistent/udev/data");
        assert!(kernel_filesystems(proc, sys, absent));
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        // A fixture tree, a swapped pair, or udev data on a disk: the pool.
        assert!(!kernel_filesystems(
            &here.join("tests/fixtures/proc"),
            sys,
            absent
        ));
        assert!(!kernel_filesystems(sys, proc, absent));
        assert!(!kernel_filesystems(proc, sys, here));
    }

    /// The kept-files table is one per process: these tests use roots of
    /// their own, which no other test reads.
    #[test]
    fn kept_files_are_read_again_from_the_start() {
        use std::io::{Seek as _, Write as _};
        let root = tempfile::tempdir().expect("tempdir");
        kept::enable_with(root.path(), true, 2);
        let (a, b, c) = (
            root.path().join("a"),
            root.path().join("b"),
            root.path().join("c"),
        );
        for p in [&a, &b, &c] {
            fs::write(p, "one\n").expect("write");
        }
        assert!(kept::covers(&a, false));
        assert!(!kept::covers(&root.path().join("x/../a"), false));
        assert!(!kept::covers(Path::new("/etc/os-release"), false));
        assert_eq!(read_text(&a).expect("read"), "one\n");
        assert_eq!(kept::count(root.path()), 1);
        // Rewritten in place (the same inode, as a seq_file makes its text
        // again): the kept file reads the new text, longer than a buffer's
        // first read and shorter again.
        let long = "x".repeat(40_000);
        for text in [long.as_str(), "two\n"] {
            let mut f = fs::OpenOptions::new().write(true).open(&a).expect("open");
            f.set_len(0).expect("truncate");
            f.rewind().expect("rewind");
            f.write_all(text.as_bytes()).expect("write");
            drop(f);
            assert_eq!(read_text(&a).expect("read"), text);
        }
        // At most `capacity` files; past that, read as before.
        assert_eq!(read_text(&b).expect("read"), "one\n");
        assert_eq!(read_text(&c).expect("read"), "one\n");
        assert_eq!(kept::count(root.path()), 2);
        // A replaced file (a new inode) is what the table cannot see, which
        // is why only the kernel's /proc and /sys are kept; forget() closes.
        let new = root.path().join("a.new");
        fs::write(&new, "three\n").expect("write");
        fs::rename(&new, &a).expect("rename");
        assert_eq!(read_text(&a).expect("read"), "two\n");
        kept::forget(&a);
        assert_eq!(read_text(&a).expect("read"), "three\n");
        // A file that is gone: the kept one still answers until forgotten,
        // and then the error is the open's.
        fs::remove_file(&b).expect("remove");
        kept::forget(root.path());
        assert_eq!(kept::count(root.path()), 0);
        let err = read_text(&b).expect_err("gone");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn kept_subtrees_that_can_be_renamed_only_on_request() {
        let root = tempfile::tempdir().expect("tempdir");
        let sys = root.path().join("sys");
        let proc = root.path().join("proc");
        kept::enable_with(&proc, false, 8);
        kept::enable_with(&sys, true, 8);
        assert!(kept::covers(
            &sys.join("class/thermal/thermal_zone0/temp"),
            false
        ));
        assert!(!kept::covers(&sys.join("class/net/eth0/mtu"), false));
        assert!(!kept::covers(
            &sys.join("class/infiniband/mlx5_0/ports"),
            false
        ));
        assert!(kept::covers(&sys.join("class/net/eth0/mtu"), true));
        // Only a sysfs root has such subtrees; a procfs has thread-self.
        assert!(kept::covers(&proc.join("class/net/x"), false));
        assert!(!kept::covers(&proc.join("thread-self/stat"), false));
    }

    #[test]
    fn procfs_text_is_made_again_for_a_kept_file() {
        // /proc/self/stat's field 10 (minflt) grows as this thread faults
        // pages in; the kept file must show it grow, not its first text.
        kept::enable(Path::new("/proc"), Path::new("/sys"));
        let stat = Path::new("/proc/self/stat");
        let minflt = || -> u64 {
            let text = read_text(stat).expect("read");
            let fields: Vec<&str> = text
                .rsplit_once(')')
                .expect("comm")
                .1
                .split_whitespace()
                .collect();
            fields[7].parse().expect("minflt")
        };
        let before = minflt();
        assert_eq!(kept::count(stat), 1);
        let mut pages = vec![0u8; 8 << 20];
        for i in (0..pages.len()).step_by(4096) {
            pages[i] = 1;
        }
        std::hint::black_box(&pages);
        assert!(minflt() > before, "the kept file was not read afresh");
        assert_eq!(
            kept::soft_open_files_of(
                "Max open files            1024                 524288               files\n"
            ),
            Some(1024)
        );
        assert_eq!(
            kept::soft_open_files_of(
                "Max open files            unlimited            unlimited            files\n"
            ),
            None
        );
    }

    #[test]
    fn strip_root_maps_back_to_host_paths() {
        let p = HostPaths {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/host/root".into(),
            udev_data: "/run/udev/data".into(),
            kernel: false,
        };
        assert_eq!(p.strip_root("/host/root"), "/");
        assert_eq!(p.strip_root("/host/root/var/lib"), "/var/lib");
        assert_eq!(p.strip_root("/host/rootfs"), "/host/rootfs");
        assert_eq!(
            p.root("/etc/os-release"),
            PathBuf::from("/host/root/etc/os-release")
        );
        let slash = HostPaths {
            rootfs: "/".into(),
            ..p
        };
        assert_eq!(slash.strip_root("/var"), "/var");
    }
}
