//! The `wal` collector: reads each directory's state (never the disk) and
//! turns it into families labelled by `dir`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use sidewatch_common::{CollectFuture, CollectResult, Collector, Family};

use crate::scan::Kind;
use crate::watch::WatchedDir;

pub struct WalCollector {
    pub dirs: Vec<Arc<WatchedDir>>,
}

fn age(now: SystemTime, t: SystemTime) -> f64 {
    now.duration_since(t)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Collector for WalCollector {
    fn name(&self) -> &'static str {
        "wal"
    }

    fn collect<'a>(&'a self, _ctx: &'a sidewatch_common::ScrapeContext) -> CollectFuture<'a> {
        // Only memory is read: no blocking pool, no disk.
        Box::pin(async move { self.families() })
    }
}

impl WalCollector {
    fn families(&self) -> CollectResult {
        let now = SystemTime::now();
        let g = |n: &str, h: &'static str| Family::gauge(format!("sidewatch_wal_{n}"), h);
        let c = |n: &str, h: &'static str| Family::counter(format!("sidewatch_wal_{n}"), h);
        let mut up = g("up", "1 when the directory could be read at the last scan.");
        let mut segments = g("segments", "Segment files in the directory.");
        let mut size = g("size_bytes", "Total size of the segment files.");
        let mut oldest = g(
            "oldest_segment_age_seconds",
            "Age of the least recently modified segment.",
        );
        let mut last_write = g(
            "last_write_age_seconds",
            "Time since any segment last changed; a stalled writer makes it grow.",
        );
        let mut created = c(
            "segments_created_total",
            "Segment files that appeared while watched.",
        );
        let mut removed = c(
            "segments_removed_total",
            "Segment files that went away while watched.",
        );
        let mut written = c(
            "written_bytes_total",
            "Bytes written: growth of segment files (PostgreSQL: advance of the write position).",
        );
        let mut ready = g(
            "archive_ready_segments",
            "Segments waiting for archive_command (archive_status/*.ready).",
        );
        let mut done = g(
            "archive_done_segments",
            "Segments archived and not yet recycled (archive_status/*.done).",
        );
        let mut ready_age = g(
            "archive_oldest_ready_age_seconds",
            "Age of the oldest .ready marker: how long archiving has been behind.",
        );
        let mut position = g(
            "position_bytes",
            "Write position in the WAL (start of the segment being written); rate() is the WAL generation rate.",
        );
        let mut events = c("watch_events_total", "Filesystem events received, by kind.");
        let mut rescans = c("rescans_total", "Full scans of the directory.");
        for d in &self.dirs {
            let name = d.config.name.as_str();
            let l = [("dir", name)];
            let is_up = d.up.load(Ordering::Relaxed);
            up.add(&l, if is_up { 1.0 } else { 0.0 });
            rescans.add(&l, d.rescans.load(Ordering::Relaxed) as f64);
            for (kind, n) in d.events.lock().map(|e| e.clone()).unwrap_or_default() {
                events.add(&[("dir", name), ("kind", kind)], n as f64);
            }
            let st = d.summary.lock().map(|s| s.clone()).unwrap_or_default();
            created.add(&l, st.counters.created as f64);
            removed.add(&l, st.counters.removed as f64);
            written.add(&l, st.counters.written_bytes as f64);
            if d.config.kind == Kind::Postgres {
                for (timeline, pos) in &st.positions {
                    position.add(
                        &[("dir", name), ("timeline", &timeline.to_string())],
                        *pos as f64,
                    );
                }
            }
            if !is_up {
                continue;
            }
            segments.add(&l, st.files as f64);
            size.add(&l, st.total_size as f64);
            if let Some(t) = st.oldest {
                oldest.add(&l, age(now, t));
            }
            if let Some(t) = st.newest {
                last_write.add(&l, age(now, t));
            }
            if d.config.kind == Kind::Postgres {
                ready.add(&l, st.ready as f64);
                done.add(&l, st.done as f64);
                ready_age.add(&l, st.oldest_ready.map_or(0.0, |t| age(now, t)));
            }
        }
        Ok(vec![
            up, segments, size, oldest, last_write, created, removed, written, ready, done,
            ready_age, position, events, rescans,
        ])
    }
}
