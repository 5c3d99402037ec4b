//! sidewatch-wal: write-ahead-log directories watched from disk, no SQL.
//!
//! Work in progress (issue 5): the segment-name parser and the directory
//! scan exist; the watcher, the collectors and the binary do not yet.
#![forbid(unsafe_code)]

pub mod scan;
pub mod segment;
