//! Where the host's /proc, /sys and / are: the host's own, or mounted into a
//! sidecar (e.g. `--path.procfs=/host/proc`).

use std::fs;
use std::path::{Path, PathBuf};

use sidewatch_common::CollectError;

#[derive(Clone, Debug)]
pub struct HostPaths {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    pub udev_data: PathBuf,
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

/// One attribute file of a sysfs object, trimmed; `None` when it is absent
/// or the kernel refuses to answer (EINVAL, EAGAIN, EPERM).
pub fn attr(dir: &Path, name: &str) -> Option<String> {
    fs::read_to_string(dir.join(name))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// An attribute as a number: decimal, or hexadecimal with `0x`.
pub fn attr_number(dir: &Path, name: &str) -> Option<f64> {
    let text = attr(dir, name)?;
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok().map(|v| v as f64),
        None => text.parse().ok(),
    }
}

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<String, CollectError> {
    fs::read_to_string(path).map_err(|e| CollectError::io(path.display().to_string(), e))
}

/// Parses a number, naming the file and the field in the error.
pub fn number(value: &str, what: &str) -> Result<f64, CollectError> {
    value
        .trim()
        .parse::<f64>()
        .map_err(|_| CollectError::parse(format!("{what}: {value:?} is not a number")))
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
    fn strip_root_maps_back_to_host_paths() {
        let p = HostPaths {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/host/root".into(),
            udev_data: "/run/udev/data".into(),
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
