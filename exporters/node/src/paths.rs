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
pub fn read_text(path: impl AsRef<Path>) -> std::io::Result<String> {
    use std::io::Read as _;
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    /// A buffer grown past this by one large file is not kept.
    const KEEP: usize = 256 * 1024;
    let mut file = fs::File::open(path)?;
    BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        buffer.clear();
        if buffer.capacity() == 0 {
            buffer.reserve(16 * 1024);
        }
        // Through `take`: `File::read_to_end` itself would ask for the
        // size first (a statx and an lseek per file).
        let read = (&mut file).take(u64::MAX).read_to_end(&mut buffer);
        let text = read.and_then(|_| {
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

/// Opens `path` and parses it with one of procfs's parsers.
pub fn parse_with<T: procfs::FromBufRead>(path: &Path) -> Result<T, CollectError> {
    let file = fs::File::open(path).map_err(|e| CollectError::io(path.display().to_string(), e))?;
    T::from_buf_read(std::io::BufReader::new(file))
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
