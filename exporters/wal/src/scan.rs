//! A full scan of one WAL directory: which segment files exist, their sizes
//! and modification times, and (PostgreSQL) the archiver's `.ready` / `.done`
//! markers. Files that vanish while the scan runs are skipped, not errors.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use crate::segment::{is_segment_size, Segment};

/// What a directory holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// PostgreSQL `pg_wal`: 24-hex-digit segments and `archive_status/`.
    Postgres,
    /// Any application's segments, matched by a glob (`*` and `?`).
    Generic { pattern: String },
}

impl Kind {
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Kind::Postgres => Segment::parse(name).is_some(),
            Kind::Generic { pattern } => sidewatch_common::glob::matches(pattern, name),
        }
    }
}

/// One segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileState {
    pub size: u64,
    pub modified: SystemTime,
    /// Inode number: a renamed file keeps it, so a rename is not new data.
    pub ino: u64,
}

/// The result of one scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirScan {
    /// Segment files by name.
    pub files: BTreeMap<String, FileState>,
    /// `archive_status/*.ready`: segment name → when the marker was written.
    pub ready: BTreeMap<String, SystemTime>,
    /// `archive_status/*.done`: segment names.
    pub done: std::collections::BTreeSet<String>,
}

/// Reads the directory. An error here means the directory itself could not
/// be read (missing, permission denied); single files that vanish or cannot
/// be inspected are left out.
pub fn scan(dir: &Path, kind: &Kind) -> io::Result<DirScan> {
    let mut out = DirScan::default();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !kind.matches(name) {
            continue;
        }
        // Follows symlinks: a segment may be a link into another volume.
        let Ok(meta) = std::fs::metadata(entry.path()) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        out.files.insert(
            name.to_owned(),
            FileState {
                size: meta.len(),
                modified,
                ino: std::os::unix::fs::MetadataExt::ino(&meta),
            },
        );
    }
    if *kind == Kind::Postgres {
        // A missing archive_status (archiving never used) is no error.
        if let Ok(entries) = std::fs::read_dir(dir.join("archive_status")) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if let Some(seg) = name.strip_suffix(".ready") {
                    let when = entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(SystemTime::UNIX_EPOCH);
                    out.ready.insert(seg.to_owned(), when);
                } else if let Some(seg) = name.strip_suffix(".done") {
                    out.done.insert(seg.to_owned());
                }
            }
        }
    }
    Ok(out)
}

impl DirScan {
    pub fn total_size(&self) -> u64 {
        self.files.values().map(|f| f.size).sum()
    }

    pub fn oldest_modified(&self) -> Option<SystemTime> {
        self.files.values().map(|f| f.modified).min()
    }

    pub fn newest_modified(&self) -> Option<SystemTime> {
        self.files.values().map(|f| f.modified).max()
    }

    /// PostgreSQL: the segment size, from the files (the most common size
    /// that PostgreSQL allows).
    pub fn segment_size(&self) -> Option<u64> {
        let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
        for f in self.files.values().filter(|f| is_segment_size(f.size)) {
            *counts.entry(f.size).or_default() += 1;
        }
        counts.into_iter().max_by_key(|(_, n)| *n).map(|(s, _)| s)
    }

    /// PostgreSQL: (timeline, byte position) of the segment being written —
    /// the most recently modified one, not the highest-numbered: recycled
    /// segments are renamed ahead of the write position before they are used.
    pub fn write_position(&self) -> Option<(u32, u64)> {
        let size = self.segment_size()?;
        let (name, _) = self
            .files
            .iter()
            .max_by(|a, b| a.1.modified.cmp(&b.1.modified).then(a.0.cmp(b.0)))?;
        let seg = Segment::parse(name)?;
        Some((seg.timeline, seg.start_position(size)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn touch(path: &Path, size: u64, age: Duration) {
        let f = std::fs::File::create(path).expect("create");
        f.set_len(size).expect("set_len");
        f.set_modified(SystemTime::now() - age).expect("mtime");
    }

    #[test]
    fn postgres_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let mb16 = 16 << 20;
        // 0x10 is being written; 0x11 and 0x12 are recycled, renamed ahead.
        touch(
            &d.join("000000010000000000000010"),
            mb16,
            Duration::from_secs(1),
        );
        touch(
            &d.join("000000010000000000000011"),
            mb16,
            Duration::from_secs(600),
        );
        touch(
            &d.join("000000010000000000000012"),
            mb16,
            Duration::from_secs(900),
        );
        touch(&d.join("00000002.history"), 40, Duration::ZERO);
        std::fs::create_dir(d.join("archive_status")).expect("mkdir");
        touch(
            &d.join("archive_status/00000001000000000000000F.ready"),
            0,
            Duration::from_secs(30),
        );
        touch(
            &d.join("archive_status/00000001000000000000000E.done"),
            0,
            Duration::ZERO,
        );
        let s = scan(d, &Kind::Postgres).expect("scan");
        assert_eq!(s.files.len(), 3);
        assert_eq!(s.total_size(), 3 * mb16);
        assert_eq!(s.segment_size(), Some(mb16));
        assert_eq!(s.write_position(), Some((1, 0x10 * mb16)));
        assert_eq!(s.ready.len(), 1);
        assert_eq!(s.done.len(), 1);
    }

    #[test]
    fn generic_directory_and_missing_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        touch(&d.join("a.wal"), 10, Duration::ZERO);
        touch(&d.join("b.wal"), 20, Duration::ZERO);
        touch(&d.join("c.tmp"), 30, Duration::ZERO);
        std::fs::create_dir(d.join("d.wal")).expect("a directory named like a segment");
        let kind = Kind::Generic {
            pattern: "*.wal".into(),
        };
        let s = scan(d, &kind).expect("scan");
        assert_eq!(s.files.len(), 2);
        assert_eq!(s.total_size(), 30);
        assert!(scan(&d.join("missing"), &kind).is_err());
    }
}
