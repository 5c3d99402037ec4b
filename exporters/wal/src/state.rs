//! What is known about one directory between scrapes: the files, and the
//! counters (created, removed, written) that events and rescans advance.
//!
//! Events update single files; a full rescan replaces the file map and adds
//! to the counters only what the events missed, so counting is neither
//! doubled nor lost when both happen.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::scan::{DirScan, FileState, Kind};

/// Counters since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub created: u64,
    pub removed: u64,
    pub written_bytes: u64,
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

    /// One file appeared or changed (an event): counted now, so the next
    /// rescan finds nothing new to count.
    pub fn file_changed(&mut self, name: &str, state: FileState) {
        let Some(scan) = self.scan.as_mut() else {
            return;
        };
        match scan.files.insert(name.to_owned(), state) {
            None => {
                self.counters.created += 1;
                if self.kind != Kind::Postgres {
                    self.counters.written_bytes += state.size;
                }
            }
            Some(old) => {
                if self.kind != Kind::Postgres {
                    self.counters.written_bytes += state.size.saturating_sub(old.size);
                }
            }
        }
        if self.kind == Kind::Postgres {
            if let Some(scan) = self.scan.take() {
                self.advance_position(&scan);
                self.scan = Some(scan);
            }
        }
    }

    /// One file went away (an event).
    pub fn file_removed(&mut self, name: &str) {
        if let Some(scan) = self.scan.as_mut() {
            if scan.files.remove(name).is_some() {
                self.counters.removed += 1;
            }
        }
    }

    /// A file in `archive_status/` changed: `modified` is its time when it
    /// exists, None when it is gone.
    pub fn marker_changed(&mut self, file: &str, modified: Option<SystemTime>) {
        let Some(scan) = self.scan.as_mut() else {
            return;
        };
        if let Some(seg) = file.strip_suffix(".ready") {
            match modified {
                Some(t) => {
                    scan.ready.insert(seg.to_owned(), t);
                }
                None => {
                    scan.ready.remove(seg);
                }
            }
        } else if let Some(seg) = file.strip_suffix(".done") {
            if modified.is_some() {
                scan.done.insert(seg.to_owned());
            } else {
                scan.done.remove(seg);
            }
        }
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

    /// (timeline, highest write position seen).
    pub fn positions(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.positions.iter().map(|(t, p)| (*t, *p))
    }
}

/// Bytes appended: growth of files in both maps plus the size of new files.
fn growth(old: &BTreeMap<String, FileState>, new: &BTreeMap<String, FileState>) -> u64 {
    new.iter()
        .map(|(k, f)| match old.get(k) {
            Some(o) => f.size.saturating_sub(o.size),
            None => f.size,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(size: u64, secs: u64) -> FileState {
        FileState {
            size,
            modified: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs),
        }
    }

    fn scan_of(files: &[(&str, u64, u64)]) -> DirScan {
        DirScan {
            files: files
                .iter()
                .map(|(n, s, t)| ((*n).to_owned(), file(*s, *t)))
                .collect(),
            ..DirScan::default()
        }
    }

    #[test]
    fn generic_counters_from_rescans_and_events_do_not_double() {
        let mut st = DirState::new(Kind::Generic {
            pattern: "*.wal".into(),
        });
        st.reconcile(scan_of(&[("a.wal", 100, 1)]));
        assert_eq!(st.counters, Counters::default());
        // Events: a.wal grows by 50, b.wal appears with 10 bytes.
        st.file_changed("a.wal", file(150, 2));
        st.file_changed("b.wal", file(10, 2));
        // A rescan that sees the same adds nothing.
        st.reconcile(scan_of(&[("a.wal", 150, 2), ("b.wal", 10, 2)]));
        assert_eq!(
            st.counters,
            Counters {
                created: 1,
                removed: 0,
                written_bytes: 60
            }
        );
        // Missed events (queue overflow): the rescan counts them.
        st.reconcile(scan_of(&[("b.wal", 30, 3), ("c.wal", 5, 3)]));
        assert_eq!(
            st.counters,
            Counters {
                created: 2,
                removed: 1,
                written_bytes: 85
            }
        );
        st.file_removed("c.wal");
        st.file_removed("c.wal");
        assert_eq!(st.counters.removed, 2);
    }

    #[test]
    fn archive_markers_move_from_ready_to_done() {
        let mut st = DirState::new(Kind::Postgres);
        st.reconcile(DirScan::default());
        let t = SystemTime::UNIX_EPOCH;
        st.marker_changed("000000010000000000000001.ready", Some(t));
        st.marker_changed("000000010000000000000002.ready", Some(t));
        st.marker_changed("000000010000000000000001.ready", None);
        st.marker_changed("000000010000000000000001.done", Some(t));
        st.marker_changed("000000010000000000000001.done", Some(t));
        let scan = st.scan.as_ref().expect("scan");
        assert_eq!(scan.ready.len(), 1);
        assert_eq!(scan.done.len(), 1);
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
        st.file_changed("000000010000000000000002", file(mb16, 20));
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
