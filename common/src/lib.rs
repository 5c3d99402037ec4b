//! sidewatch-common: what every sidewatch exporter shares.
//!
//! - [`engine`]: the scrape engine (deadline, isolation, coalescing, series limit)
//! - [`collector`]: the collector traits
//! - [`metrics`] / [`exposition`]: the snapshot model and its two text formats
//! - [`http`]: `/metrics`, health, landing page, graceful shutdown
//! - [`webconfig`]: the exporter-toolkit web config (TLS, basic auth)
//! - [`cli`]: shared flags, one-line errors, exit codes
//! - [`logging`]: logfmt / JSON logs
#![forbid(unsafe_code)]

pub mod cli;
pub mod collector;
pub mod engine;
pub mod exposition;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod process;
pub mod webconfig;

pub use collector::{
    Blocking, BlockingCollector, CollectError, CollectFuture, CollectResult, Collector,
};
pub use engine::{ExporterInfo, ScrapeEngine, ScrapeSettings, TargetProbe};
pub use metrics::{Family, MetricKind, Sample, Snapshot};
