//! sidewatch-wal: write-ahead-log directories watched from disk, no SQL.
//!
//! Work in progress (issue 5): the segment-name parser, the directory scan,
//! the per-directory state and the watcher (inotify-triggered rescans,
//! periodic rescans, polling fallback) exist; the collectors and the binary
//! do not yet.
#![forbid(unsafe_code)]

pub mod scan;
pub mod segment;
pub mod state;
pub mod watch;
