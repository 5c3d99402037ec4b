//! What is known about one directory between scrapes: the files, and the
//! counters (created, removed, written) that events and rescans advance.
//!
//! Each scan replaces the file map; the counters advance by the difference
//! to the previous scan, matching files by inode so that a rename is a
//! created and a removed name but no new bytes.

use crate::scan::{DirScan, FileState, Kind};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Counters since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub created: u64,
    pub removed: u64,
    pub written_bytes: u64,
}

/// What scrapes read: computed once per scan, so a scrape costs the same
/// whether the directory holds ten files or a hundred thousand.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub counters: Counters,
    pub files: usize,
    pub total_size: u64,
    pub oldest: Option<SystemTime>,
    pub newest: Option<SystemTime>,
    pub ready: usize,
    pub done: usize,
    pub oldest_ready: Option<SystemTime>,
    /// (timeline, write position) for PostgreSQL.
    pub positions: Vec<(u32, u64)>,
}

#[derive(Debug)]
pub struct DirState {
    pub kind: Kind,
    /// None until the directory was first read.
    pub scan: Option<DirScan>,
    pub counters: Counters,
    /// Highest write position seen per timeline (PostgreSQL), so that
    /// written bytes follow the WAL, not preallocated file sizes.
    positions: BTreeMap<u32, u64>,
}

impl DirState {
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            scan: None,
            counters: Counters::default(),
            positions: BTreeMap::new(),
        }
    }

    /// Takes a full scan. The first scan sets the baseline (nothing counted:
    /// files that existed at start were not created while watched).
    pub fn reconcile(&mut self, new: DirScan) {
        if let Some(old) = &self.scan {
            let created = new
                .files
                .keys()
                .filter(|k| !old.files.contains_key(*k))
                .count();
            let removed = old
                .files
                .keys()
                .filter(|k| !new.files.contains_key(*k))
                .count();
            self.counters.created += created as u64;
            self.counters.removed += removed as u64;
            if self.kind != Kind::Postgres {
                self.counters.written_bytes += growth(&old.files, &new.files);
            }
        }
        if self.kind == Kind::Postgres {
            self.advance_position(&new);
        }
        self.scan = Some(new);
    }

    fn advance_position(&mut self, scan: &DirScan) {
        let Some((timeline, pos)) = scan.write_position() else {
            return;
        };
        match self.positions.get_mut(&timeline) {
            Some(last) if pos > *last => {
                self.counters.written_bytes += pos - *last;
                *last = pos;
            }
            Some(_) => {}
            None => {
                self.positions.insert(timeline, pos);
            }
        }
    }

    pub fn summary(&self) -> Summary {
        let scan = self.scan.as_ref();
        Summary {
            counters: self.counters,
            files: scan.map_or(0, |s| s.files.len()),
            total_size: scan.map_or(0, DirScan::total_size),
            oldest: scan.and_then(DirScan::oldest_modified),
            newest: scan.and_then(DirScan::newest_modified),
            ready: scan.map_or(0, |s| s.ready.len()),
            done: scan.map_or(0, |s| s.done.len()),
            oldest_ready: scan.and_then(|s| s.ready.values().min().copied()),
            positions: self.positions().collect(),
        }
    }

    /// (timeline, highest write position seen).
    pub fn positions(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.positions.iter().map(|(t, p)| (*t, *p))
    }
}

/// Bytes appended: growth of files in both maps, of renamed files (same
/// inode under a new name) against their old size, and the size of new files.
fn growth(old: &BTreeMap<String, FileState>, new: &BTreeMap<String, FileState>) -> u64 {
    let gone: BTreeMap<u64, u64> = old
        .iter()
        .filter(|(k, _)| !new.contains_key(*k))
        .map(|(_, f)| (f.ino, f.size))
        .collect();
    new.iter()
        .map(|(k, f)| match old.get(k) {
            Some(o) => f.size.saturating_sub(o.size),
            None => f
                .size
                .saturating_sub(gone.get(&f.ino).copied().unwrap_or(0)),
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_of(files: &[(&str, u64, u64)]) -> DirScan {
        DirScan {
            files: files
                .iter()
                .map(|(n, s, t)| {
                    let ino = n.bytes().map(u64::from).sum();
                    let modified = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(*t);
                    (
                        (*n).to_owned(),
                        FileState {
                            size: *s,
                            modified,
                            ino,
                        },
                    )
                })
                .collect(),
            ..DirScan::default()
        }
    }

    #[test]
    fn generic_counters_between_scans() {
        let mut st = DirState::new(Kind::Generic {
            pattern: "*.wal".into(),
        });
        st.reconcile(scan_of(&[("a.wal", 100, 1)]));
        assert_eq!(st.counters, Counters::default());
        // a.wal grows by 50, b.wal appears with 10 bytes.
        st.reconcile(scan_of(&[("a.wal", 150, 2), ("b.wal", 10, 2)]));
        // The same again adds nothing.
        st.reconcile(scan_of(&[("a.wal", 150, 2), ("b.wal", 10, 2)]));
        assert_eq!(
            st.counters,
            Counters {
                created: 1,
                removed: 0,
                written_bytes: 60
            }
        );
        // a.wal goes; b.wal grows by 20; c.wal appears with 5.
        st.reconcile(scan_of(&[("b.wal", 30, 3), ("c.wal", 5, 3)]));
        assert_eq!(
            st.counters,
            Counters {
                created: 2,
                removed: 1,
                written_bytes: 85
            }
        );
    }

    #[test]
    fn a_rename_is_not_new_data() {
        let mut st = DirState::new(Kind::Generic {
            pattern: "*".into(),
        });
        let at = |name: &str, size: u64, ino: u64| DirScan {
            files: [(
                name.to_owned(),
                FileState {
                    size,
                    modified: SystemTime::UNIX_EPOCH,
                    ino,
                },
            )]
            .into(),
            ..DirScan::default()
        };
        st.reconcile(at("x", 10, 7));
        st.reconcile(at("y", 15, 7));
        assert_eq!(
            st.counters,
            Counters {
                created: 1,
                removed: 1,
                written_bytes: 5
            }
        );
    }

    #[test]
    fn postgres_written_bytes_follow_the_write_position() {
        let mb16 = 16u64 << 20;
        let mut st = DirState::new(Kind::Postgres);
        st.reconcile(scan_of(&[
            ("000000010000000000000001", mb16, 10),
            ("000000010000000000000002", mb16, 5),
        ]));
        assert_eq!(st.positions().collect::<Vec<_>>(), vec![(1, mb16)]);
        // Segment 2 (recycled, preallocated) becomes the one being written,
        // then segment 3 appears.
        st.reconcile(scan_of(&[
            ("000000010000000000000001", mb16, 10),
            ("000000010000000000000002", mb16, 20),
        ]));
        st.reconcile(scan_of(&[
            ("000000010000000000000002", mb16, 20),
            ("000000010000000000000003", mb16, 30),
        ]));
        assert_eq!(st.positions().collect::<Vec<_>>(), vec![(1, 3 * mb16)]);
        assert_eq!(
            st.counters,
            Counters {
                created: 1,
                removed: 1,
                written_bytes: 2 * mb16
            }
        );
    }
}
