//! sidewatch-common: what every sidewatch exporter shares.
//!
//! - [`exporter`]: the one start-up path (`Exporter`, `main`)
//! - [`engine`]: the scrape engine (deadline, isolation, coalescing, series limit)
//! - [`collector`]: the collector traits
//! - [`metrics`] / [`exposition`]: the snapshot model and its two text formats
//! - [`multitarget`]: `/probe` and `/scrape`, once for every exporter
//! - [`http`]: `/metrics`, health, landing page, graceful shutdown
//! - [`webconfig`]: the exporter-toolkit web config (TLS, basic auth)
//! - [`tls`]: PEM loading and TLS client settings for targets
//! - [`probe`]: which targets `/probe` and `/scrape` may reach
//! - [`cli`]: shared flags, one-line errors, exit codes
//! - [`healthcheck`]: `sidewatch-<x> healthcheck`, a container healthcheck without a shell
//! - [`logging`]: logfmt / JSON logs
#![forbid(unsafe_code)]

pub mod cli;
pub mod collector;
pub mod engine;
pub mod exporter;
pub mod exposition;
pub mod glob;
pub mod healthcheck;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod multitarget;
pub mod probe;
pub mod process;
pub mod tls;
pub mod webconfig;

pub use collector::{
    Blocking, BlockingCollector, CollectError, CollectFuture, CollectResult, Collector, Inline,
    ScrapeContext,
};
pub use engine::{ExporterInfo, PeerSelfMetrics, ScrapeEngine, ScrapeSettings, TargetProbe};
pub use metrics::{
    intern, intern_fmt, Family, LabelName, LabelValue, Labels, MetricKind, Sample, Snapshot,
};

/// The runtime every exporter runs on. An exporter's load is a few requests a
/// minute: the HTTP server, the engine and the network collectors run on the
/// main thread (a current-thread runtime, so no worker thread with its own
/// stack and malloc arena), and what can block (file reads, syscalls) goes to a
/// small bounded blocking pool. A collector stuck in a blocking call holds at
/// most one of its threads (see [`Blocking`]); nothing on the main thread
/// blocks, so a stuck read never stalls `/metrics` or the health endpoints.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(4)
        .thread_keep_alive(std::time::Duration::from_secs(60))
        .enable_all()
        .build()
}
