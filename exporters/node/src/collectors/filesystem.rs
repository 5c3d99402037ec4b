//! `filesystem`: size, free space and inodes of each mounted filesystem.
//!
//! statfs on a dead network mount can block for minutes. The calls run on a
//! statfs thread of their own, one mount after the other, each waited for at
//! most `--collector.filesystem.mount-timeout`; a mount that times out reports
//! `node_filesystem_device_error 1`, keeps the thread it hung, and is skipped
//! until that call returns, so stuck threads never pile up. The next mount
//! gets a new thread; while nothing hangs, one thread serves every scrape.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::filter::Regex;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::paths::HostPaths;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::Blocking;

use crate::config::NodeConfig;

/// `--collector.filesystem`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("filesystem", "filesystem space and inodes (statfs)", |c| {
        Arc::new(Blocking::new(FilesystemCollector::new(
            c.paths.clone(),
            c.cli.filesystem.mount_points_exclude.clone(),
            c.cli.filesystem.fs_types_exclude.clone(),
            c.cli.filesystem.mount_timeout,
        )))
    });

/// This collector's own flags.
#[derive(Debug, Clone, clap::Args)]
pub struct FilesystemArgs {
    /// Mount points to ignore (regular expression).
    #[arg(
        id = "collector.filesystem.mount-points-exclude", long = "collector.filesystem.mount-points-exclude",
        env = "SIDEWATCH_COLLECTOR_FILESYSTEM_MOUNT_POINTS_EXCLUDE",
        default_value = "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",
        value_parser = crate::config::parse_regex,
        value_name = "REGEX"
    )]
    pub mount_points_exclude: Regex,

    /// Filesystem types to ignore (regular expression).
    #[arg(
        id = "collector.filesystem.fs-types-exclude", long = "collector.filesystem.fs-types-exclude",
        env = "SIDEWATCH_COLLECTOR_FILESYSTEM_FS_TYPES_EXCLUDE",
        default_value = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$",
        value_parser = crate::config::parse_regex,
        value_name = "REGEX"
    )]
    pub fs_types_exclude: Regex,

    /// How long statfs may take before a mount is marked stuck and skipped
    /// until it answers again.
    #[arg(
        id = "collector.filesystem.mount-timeout", long = "collector.filesystem.mount-timeout",
        env = "SIDEWATCH_COLLECTOR_FILESYSTEM_MOUNT_TIMEOUT",
        default_value = "5s",
        value_parser = sidewatch_common::cli::parse_duration,
        value_name = "DURATION"
    )]
    pub mount_timeout: Duration,
}

/// The numbers statfs reports, in bytes and inodes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FsStats {
    pub size_bytes: f64,
    pub free_bytes: f64,
    pub avail_bytes: f64,
    pub files: f64,
    pub files_free: f64,
}

/// How a mount point is measured; swapped in tests to simulate a hung mount.
pub type StatFn = fn(&Path) -> std::io::Result<FsStats>;

/// statfs(2), the way node_exporter computes its values.
pub fn statfs(path: &Path) -> std::io::Result<FsStats> {
    let s = rustix::fs::statfs(path).map_err(std::io::Error::from)?;
    let bsize = s.f_bsize as f64;
    Ok(FsStats {
        size_bytes: s.f_blocks as f64 * bsize,
        free_bytes: s.f_bfree as f64 * bsize,
        avail_bytes: s.f_bavail as f64 * bsize,
        files: s.f_files as f64,
        files_free: s.f_ffree as f64,
    })
}

pub struct FilesystemCollector {
    paths: Arc<HostPaths>,
    mount_points_exclude: Regex,
    fs_types_exclude: Regex,
    mount_timeout: Duration,
    stat: StatFn,
    stuck: Arc<Mutex<HashSet<PathBuf>>>,
    /// The statfs thread's queue; `None` until the first scrape, or after
    /// its thread got stuck.
    worker: Mutex<Option<mpsc::Sender<StatJob>>>,
}

impl FilesystemCollector {
    pub fn new(
        paths: Arc<HostPaths>,
        mount_points_exclude: Regex,
        fs_types_exclude: Regex,
        mount_timeout: Duration,
    ) -> Self {
        Self::with_stat(
            paths,
            mount_points_exclude,
            fs_types_exclude,
            mount_timeout,
            statfs,
        )
    }

    pub fn with_stat(
        paths: Arc<HostPaths>,
        mount_points_exclude: Regex,
        fs_types_exclude: Regex,
        mount_timeout: Duration,
        stat: StatFn,
    ) -> Self {
        Self {
            paths,
            mount_points_exclude,
            fs_types_exclude,
            mount_timeout,
            stat,
            stuck: Arc::new(Mutex::new(HashSet::new())),
            worker: Mutex::new(None),
        }
    }

    /// The mount table, from PID 1's mountinfo (the host's view when /proc
    /// is the host's), else ours: one read gives the devices, types,
    /// options and device numbers.
    fn mounts(&self) -> Result<Vec<MountLine>, CollectError> {
        let path = self.paths.proc("1/mountinfo");
        let text = crate::paths::read_text(&path)
            .or_else(|_| crate::paths::read_text(self.paths.proc("self/mountinfo")))
            .map_err(|e| CollectError::io(path.display().to_string(), e))?;
        Ok(text.lines().filter_map(MountLine::parse).collect())
    }
}

/// One line of /proc/<pid>/mountinfo (proc(5)):
/// `id parent major:minor root mountpoint options [optional...] - fstype source super-options`.
#[derive(Debug, PartialEq)]
pub struct MountLine {
    pub major: String,
    pub minor: String,
    pub mountpoint: String,
    pub fstype: String,
    pub source: String,
    /// Read-only through this mount or for the whole superblock, as
    /// /proc/mounts's `ro` says.
    pub readonly: bool,
}

impl MountLine {
    pub fn parse(line: &str) -> Option<MountLine> {
        let (head, tail) = line.split_once(" - ")?;
        let mut f = head.split(' ');
        let (_id, _parent, dev, _root, mountpoint, options) = (
            f.next()?,
            f.next()?,
            f.next()?,
            f.next()?,
            f.next()?,
            f.next()?,
        );
        let (major, minor) = dev.split_once(':')?;
        let mut t = tail.split(' ');
        let (fstype, source, super_options) = (t.next()?, t.next()?, t.next().unwrap_or(""));
        let ro = |opts: &str| opts.split(',').any(|o| o == "ro");
        Some(MountLine {
            major: major.to_owned(),
            minor: minor.to_owned(),
            mountpoint: unescape_octal(mountpoint),
            fstype: fstype.to_owned(),
            source: unescape_octal(source),
            readonly: ro(options) || ro(super_options),
        })
    }
}

/// Decodes the kernel's octal escapes in mount paths (`\040` is a space).
pub fn unescape_octal(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)))
            .and_then(|d| {
                let code = d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                u8::try_from(code).ok()
            });
        if let Some(code) = octal {
            out.push(code);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Mount {
    major: String,
    minor: String,
    device: String,
    fstype: String,
    mountpoint: String,
    readonly: bool,
    path: PathBuf,
}

impl FilesystemCollector {
    /// statfs of each mount, in order, on the one statfs thread: the
    /// mounts go to it as one batch and its answers come back one by one,
    /// so that a scrape wakes it once, not once per mount. A mount whose
    /// answer does not come within `--collector.filesystem.mount-timeout`
    /// is marked stuck and its thread is left to it: the mounts after it go
    /// to a new thread as a new batch. Mounts marked stuck are skipped until
    /// their call returns. No wait goes past the scrape's deadline, so
    /// however many mounts hang at once, the run ends with the scrape (a
    /// mount cut off by it counts as stuck: its call has not returned).
    fn stat_all(
        &self,
        mounts: &[Mount],
        deadline: std::time::Instant,
    ) -> Vec<Result<FsStats, String>> {
        let mut worker = self.worker.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<Result<FsStats, String>> = Vec::with_capacity(mounts.len());
        // The answers of the batch in flight, and how many are still to come.
        let mut batch: Option<(mpsc::Receiver<std::io::Result<FsStats>>, usize)> = None;
        // Which mounts are stuck is read once: a batch holds the others, and
        // its answers come in their order, so the choice must not change
        // while they are taken (a stuck call may return meanwhile).
        let skipped: Vec<bool> = {
            let stuck = self.stuck.lock().unwrap_or_else(|p| p.into_inner());
            mounts.iter().map(|m| stuck.contains(&m.path)).collect()
        };
        for (i, mount) in mounts.iter().enumerate() {
            if skipped[i] {
                out.push(Err("mount is still stuck from an earlier scrape".to_owned()));
                continue;
            }
            // The batch in flight while it has answers to come, else a new
            // one for this mount and those after it.
            let in_flight = batch
                .take()
                .filter(|(_, pending)| *pending > 0)
                .or_else(|| self.send_batch(&mut worker, &mounts[i..], &skipped[i..]));
            let Some((answers, pending)) = in_flight.map(|b| batch.insert(b)) else {
                out.push(Err("cannot start a statfs thread".to_owned()));
                continue;
            };
            *pending -= 1;
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            out.push(match answers.recv_timeout(self.mount_timeout.min(left)) {
                Ok(Ok(stats)) => Ok(stats),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => {
                    self.stuck
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(mount.path.clone());
                    // The thread is stuck in this call. Dropping the batch's
                    // answers tells it, when the call returns, to stop: the
                    // rest of its batch goes to a new thread.
                    *worker = None;
                    batch = None;
                    Err(format!(
                        "statfs did not answer within {:?}; skipping until it does",
                        self.mount_timeout
                    ))
                }
            });
        }
        out
    }

    /// Sends the mounts of `rest` not `skipped` to the statfs thread,
    /// starting one if there is none; returns where their answers come and
    /// how many will.
    fn send_batch(
        &self,
        worker: &mut Option<mpsc::Sender<StatJob>>,
        rest: &[Mount],
        skipped: &[bool],
    ) -> Option<(mpsc::Receiver<std::io::Result<FsStats>>, usize)> {
        let paths: Vec<PathBuf> = rest
            .iter()
            .zip(skipped)
            .filter(|(_, &skip)| !skip)
            .map(|(m, _)| m.path.clone())
            .collect();
        let count = paths.len();
        let (reply, answers) = mpsc::channel();
        let job = (paths, reply);
        let sent = match worker.as_ref() {
            Some(jobs) => jobs.send(job).map_err(|e| e.0),
            None => Err(job),
        };
        if let Err(job) = sent {
            let jobs = self.spawn_worker()?;
            jobs.send(job).ok()?;
            *worker = Some(jobs);
        }
        Some((answers, count))
    }

    fn spawn_worker(&self) -> Option<mpsc::Sender<StatJob>> {
        let (jobs, queue) = mpsc::channel::<StatJob>();
        let (stat, stuck) = (self.stat, Arc::clone(&self.stuck));
        std::thread::Builder::new()
            .name("statfs".into())
            .spawn(move || {
                for (paths, reply) in queue {
                    for path in paths {
                        let result = stat(&path);
                        if reply.send(result).is_err() {
                            // Nobody waited any more: the mount was marked
                            // stuck, and the rest of the batch went elsewhere.
                            stuck
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .remove(&path);
                            tracing::info!(mountpoint = %path.display(), "stuck mount answered again");
                            break;
                        }
                    }
                }
            })
            .ok()
            .map(|_| jobs)
    }
}

/// A batch for the statfs thread: the mounts' paths, and where to answer,
/// one answer per path in their order.
type StatJob = (Vec<PathBuf>, mpsc::Sender<std::io::Result<FsStats>>);

impl BlockingCollector for FilesystemCollector {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn collect_blocking(&self, ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let mut seen = HashSet::new();
        let mounts: Vec<Mount> = self
            .mounts()?
            .into_iter()
            .filter_map(|m| {
                let mountpoint = self.paths.strip_root(&m.mountpoint).to_owned();
                if self.mount_points_exclude.is_match(&mountpoint)
                    || self.fs_types_exclude.is_match(&m.fstype)
                    || !seen.insert((m.source.clone(), mountpoint.clone()))
                {
                    return None;
                }
                Some(Mount {
                    readonly: m.readonly,
                    path: self.paths.root(&mountpoint),
                    major: m.major,
                    minor: m.minor,
                    device: m.source,
                    fstype: m.fstype,
                    mountpoint,
                })
            })
            .collect();

        let results = self.stat_all(&mounts, ctx.deadline().into_std());

        let g =
            |name: &str, help: &'static str| Family::gauge(format!("node_filesystem_{name}"), help);
        let mut size = g("size_bytes", "Filesystem size in bytes.");
        let mut free = g("free_bytes", "Filesystem free space in bytes.");
        let mut avail = g(
            "avail_bytes",
            "Filesystem space available to non-root users in bytes.",
        );
        let mut files = g("files", "Filesystem total file nodes.");
        let mut files_free = g("files_free", "Filesystem total free file nodes.");
        let mut purgeable = g(
            "purgeable_bytes",
            "Filesystem space available including purgeable space (MacOS specific).",
        );
        let mut readonly = g("readonly", "Filesystem read-only status.");
        let mut device_error = g(
            "device_error",
            "Whether an error occurred while getting statistics for the given device.",
        );
        let mut mount_info = g("mount_info", "Filesystem mount information.");
        for (mount, result) in mounts.iter().zip(results) {
            // As node_exporter 1.9+: the error, if any, is a label of every
            // family of the mount ("" when the statistics were read).
            let error_text = result.as_ref().err().cloned().unwrap_or_default();
            let labels = [
                ("device", mount.device.as_str()),
                ("device_error", error_text.as_str()),
                ("fstype", mount.fstype.as_str()),
                ("mountpoint", mount.mountpoint.as_str()),
            ];
            mount_info.add(
                &[
                    ("device", mount.device.as_str()),
                    ("major", mount.major.as_str()),
                    ("minor", mount.minor.as_str()),
                    ("mountpoint", mount.mountpoint.as_str()),
                ],
                1.0,
            );
            readonly.add(&labels, if mount.readonly { 1.0 } else { 0.0 });
            match result {
                Ok(s) => {
                    device_error.add(&labels, 0.0);
                    size.add(&labels, s.size_bytes);
                    free.add(&labels, s.free_bytes);
                    avail.add(&labels, s.avail_bytes);
                    files.add(&labels, s.files);
                    files_free.add(&labels, s.files_free);
                    // Linux has no purgeable space (an APFS notion).
                    purgeable.add(&labels, 0.0);
                }
                Err(error) => {
                    tracing::debug!(mountpoint = %mount.mountpoint, %error, "filesystem statistics unavailable");
                    device_error.add(&labels, 1.0);
                }
            }
        }
        Ok(vec![
            avail,
            device_error,
            mount_info,
            purgeable,
            files,
            files_free,
            free,
            readonly,
            size,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn hanging_run(path: &Path) -> std::io::Result<FsStats> {
        if path.ends_with("run") {
            std::thread::sleep(Duration::from_secs(2));
        }
        statfs(path)
    }

    #[test]
    fn a_hung_mount_is_reported_and_skipped_without_holding_the_scrape() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let paths = Arc::new(HostPaths {
            procfs: fixtures.join("proc"),
            sysfs: fixtures.join("sys"),
            rootfs: fixtures.join("root"),
            udev_data: fixtures.join("udev"),
            kernel: false,
        });
        let collector = FilesystemCollector::with_stat(
            paths,
            Regex::new("^/proc($|/)").expect("regex"),
            Regex::new("^proc$").expect("regex"),
            Duration::from_millis(200),
            hanging_run,
        );
        let error_of = |families: &[Family], mountpoint: &str| {
            families
                .iter()
                .find(|f| f.name == "node_filesystem_device_error")
                .and_then(|f| {
                    f.samples.iter().find(|s| {
                        s.labels
                            .iter()
                            .any(|(k, v)| k == "mountpoint" && v == mountpoint)
                    })
                })
                .map(|s| s.value)
        };
        for _ in 0..2 {
            let started = Instant::now();
            let families = collector
                .collect_blocking(&sidewatch_common::ScrapeContext::within(
                    Duration::from_secs(10),
                ))
                .expect("collect");
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{:?}",
                started.elapsed()
            );
            assert_eq!(error_of(&families, "/run"), Some(1.0));
            assert_eq!(error_of(&families, "/"), Some(0.0));
            // The mount after the hung one, in the same batch, is measured
            // by a new thread.
            assert_eq!(error_of(&families, "/data dir"), Some(0.0));
        }
        // Once the stuck call returns, the mount is measured again.
        std::thread::sleep(Duration::from_millis(2200));
        assert!(collector.stuck.lock().expect("lock").is_empty());
    }

    #[test]
    fn mountinfo_lines() {
        let line = "40 27 254:16 / /data\\040dir rw,relatime shared:9 master:2 - ext4 /dev/vdb ro,errors=remount-ro";
        assert_eq!(
            MountLine::parse(line),
            Some(MountLine {
                major: "254".into(),
                minor: "16".into(),
                mountpoint: "/data dir".into(),
                fstype: "ext4".into(),
                source: "/dev/vdb".into(),
                // rw through this mount, but the superblock is read-only.
                readonly: true,
            })
        );
        let no_optional = "22 27 0:21 / /proc ro,nosuid - proc proc rw";
        assert!(MountLine::parse(no_optional).is_some_and(|m| m.readonly && m.fstype == "proc"));
        assert_eq!(MountLine::parse("22 27 0:21 / /proc rw"), None);
        assert_eq!(MountLine::parse(""), None);
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(unescape_octal("/data\\040dir"), "/data dir");
        assert_eq!(unescape_octal("/a\\134b"), "/a\\b");
        assert_eq!(unescape_octal("/trailing\\04"), "/trailing\\04");
        assert_eq!(unescape_octal("/big\\777"), "/big\\777");
        assert_eq!(unescape_octal("/plain"), "/plain");
    }
}
