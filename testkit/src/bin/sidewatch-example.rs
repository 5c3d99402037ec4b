//! sidewatch-example: the smallest whole exporter, kept as the worked example
//! of `docs/new-exporter.md` and run by `testkit/tests/example.rs`.
//!
//! It reads a JSON object from a file at each scrape and serves every number
//! in it as `example_value{key}`; `example_up` says whether the file could be
//! read. Metric families:
//! - values (on): `example_value{key}`
//! - file (off): `example_file_size_bytes`, `example_file_modified_seconds`
//!
//! and always `example_up`, `example_scrape_collector_*{collector}`,
//! `sidewatch_build_info`, `process_*`.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches, Parser};
use futures::future::BoxFuture;
use sidewatch_common::cli::{self, CommonArgs, StartError};
use sidewatch_common::collector::{self, CollectorDecl};
use sidewatch_common::exporter::{self, Exporter};
use sidewatch_common::http::HttpOptions;
use sidewatch_common::{
    Blocking, BlockingCollector, CollectError, CollectResult, ExporterInfo, Family, ScrapeEngine,
    TargetProbe,
};

const INFO: ExporterInfo = ExporterInfo {
    namespace: "example",
    exporter: "example",
    version: env!("CARGO_PKG_VERSION"),
    peer_self_metrics: None,
};

/// Prometheus exporter for the numbers in a JSON file (an example).
#[derive(Debug, Parser)]
#[command(name = "sidewatch-example", version, about, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    /// The JSON file read at each scrape: an object whose number values
    /// become `example_value{key}`.
    #[arg(
        long = "example.file",
        env = "SIDEWATCH_EXAMPLE_FILE",
        value_name = "FILE"
    )]
    file: PathBuf,
}

/// The validated configuration.
struct ExampleConfig {
    cli: Cli,
    collectors: Vec<&'static str>,
    http: HttpOptions,
}

/// Every collector, each declared once: the flags, `--help`, the landing
/// page and the built set come from here.
const COLLECTORS: &[CollectorDecl<ExampleConfig>] = &[
    CollectorDecl::on("values", "every number in the file", |c| {
        Arc::new(Blocking::new(Values {
            path: c.cli.file.clone(),
        }))
    }),
    CollectorDecl::off("file", "the file's size and modification time", |c| {
        Arc::new(Blocking::new(FileStat {
            path: c.cli.file.clone(),
        }))
    }),
];

impl Exporter for ExampleConfig {
    const NAME: &'static str = "sidewatch-example";
    const DEFAULT_LISTEN: &'static str = ":9799";

    fn from_env() -> Result<Self, StartError> {
        let specs = collector::specs(COLLECTORS);
        let cmd = cli::add_collector_flags(
            Cli::command().mut_arg("listen_address", |a| a.default_value(":9799")),
            &specs,
        );
        cli::check_collector_env(&cmd, std::env::vars().map(|(k, _)| k))?;
        let matches = cli::get_matches(cmd, std::env::args_os())?;
        let cli = Cli::from_arg_matches(&matches)?;
        let http = HttpOptions::from_flags(&cli.common.web, &cli.common.scrape)?;
        Ok(Self {
            collectors: cli::enabled_collectors(&matches, &specs),
            cli,
            http,
        })
    }

    fn common(&self) -> &CommonArgs {
        &self.cli.common
    }

    fn describe(&self) -> String {
        format!(
            "{} collectors, file {}",
            self.collectors.len(),
            self.cli.file.display()
        )
    }

    fn build(self) -> (Arc<ScrapeEngine>, HttpOptions) {
        let engine = ScrapeEngine::new(
            INFO,
            self.cli.common.scrape.settings(),
            collector::build_enabled(COLLECTORS, &self.collectors, &self),
            Some(Arc::new(FileProbe(self.cli.file.clone()))),
        );
        (engine, self.http)
    }
}

/// `example_up`: the file can be read.
struct FileProbe(PathBuf);

impl TargetProbe for FileProbe {
    fn probe(&self, _deadline: tokio::time::Instant) -> BoxFuture<'_, bool> {
        Box::pin(async move { tokio::fs::metadata(&self.0).await.is_ok() })
    }
}

/// `values`: every number of the file's top-level object.
struct Values {
    path: PathBuf,
}

impl BlockingCollector for Values {
    fn name(&self) -> &'static str {
        "values"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let text = sidewatch_common::cli::read_config_file(&self.path)
            .map_err(|e| CollectError::parse(format!("{}: {e}", self.path.display())))?;
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
            .map_err(|e| CollectError::parse(format!("{}: {e}", self.path.display())))?;
        let mut family = Family::gauge("example_value", "A number from the file, by key.");
        for (key, value) in &object {
            if let Some(v) = value.as_f64() {
                family.add(&[("key", key)], v);
            }
        }
        Ok(vec![family])
    }
}

/// `file`: the file's size and modification time.
struct FileStat {
    path: PathBuf,
}

impl BlockingCollector for FileStat {
    fn name(&self) -> &'static str {
        "file"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let meta = std::fs::metadata(&self.path)
            .map_err(|e| CollectError::io(self.path.display().to_string(), e))?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_secs_f64());
        Ok(vec![
            Family::gauge("example_file_size_bytes", "Size of the file.")
                .with(&[], meta.len() as f64),
            Family::gauge(
                "example_file_modified_seconds",
                "Modification time of the file.",
            )
            .with(&[], modified),
        ])
    }
}

fn main() {
    exporter::main::<ExampleConfig>();
}
