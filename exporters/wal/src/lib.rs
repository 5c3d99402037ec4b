//! sidewatch-wal: write-ahead-log directories watched from disk, no SQL.
//!
//! Families (label `dir`): `sidewatch_wal_up`, `_segments`, `_size_bytes`,
//! `_oldest_segment_age_seconds`, `_last_write_age_seconds`,
//! `_segments_created_total`, `_segments_removed_total`, `_written_bytes_total`,
//! `_watch_events_total{kind}`, `_rescans_total`; PostgreSQL kind also
//! `_archive_ready_segments`, `_archive_done_segments`,
//! `_archive_oldest_ready_age_seconds`, `_position_bytes{timeline}`.
//!
//! Modules: [`segment`] (PostgreSQL names), [`scan`] (one full scan),
//! [`state`] (counters by scan difference, the summary scrapes read),
//! [`watch`] (inotify-triggered, periodic and polling rescans),
//! [`collector`], [`config`].
#![forbid(unsafe_code)]

pub mod collector;
pub mod config;
pub mod scan;
pub mod segment;
pub mod state;
pub mod watch;

pub const INFO: sidewatch_common::ExporterInfo = sidewatch_common::ExporterInfo {
    namespace: "sidewatch_wal",
    exporter: "wal",
    version: env!("CARGO_PKG_VERSION"),
    peer_self_metrics: None,
};

impl sidewatch_common::exporter::Exporter for config::WalConfig {
    const NAME: &'static str = "sidewatch-wal";
    const DEFAULT_LISTEN: &'static str = ":9741";

    fn from_env() -> Result<Self, sidewatch_common::cli::StartError> {
        config::WalConfig::from_args(std::env::args_os())
    }

    fn common(&self) -> &sidewatch_common::cli::CommonArgs {
        &self.cli.common
    }

    fn describe(&self) -> String {
        format!("{} directories", self.dirs.len())
    }

    fn build(
        self,
    ) -> (
        std::sync::Arc<sidewatch_common::ScrapeEngine>,
        sidewatch_common::http::HttpOptions,
    ) {
        for d in &self.dirs {
            tracing::info!(dir = %d.name, path = %d.path.display(), kind = ?d.kind, "watching");
        }
        let dirs = watch::start(self.dirs, self.watch);
        let engine = sidewatch_common::ScrapeEngine::new(
            INFO,
            self.cli.common.scrape.settings(),
            vec![std::sync::Arc::new(collector::WalCollector { dirs })],
            None,
        );
        (engine, self.http)
    }
}
