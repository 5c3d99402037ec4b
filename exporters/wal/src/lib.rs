//! sidewatch-wal: write-ahead-log directories watched from disk, no SQL.
//!
//! Work in progress (issue 5): the segment-name parser, the directory scan
//! and the per-directory state (counters reconciled between events and
//! rescans) exist; the watcher, the collectors and the binary do not yet.
#![forbid(unsafe_code)]

pub mod scan;
pub mod segment;
pub mod state;
