//! sidewatch-queue's flags and its validated configuration: the queue file
//! read, its backends and queues built once (connections open lazily).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use sidewatch_common::cli::{self, CommonArgs, StartError};
use sidewatch_common::http::HttpOptions;
use sidewatch_common::ScrapeEngine;
use sidewatch_postgres_client::pool::PoolSettings;
use sidewatch_redis_client::client::ClientSettings;
use sidewatch_redis_client::scan::KeyBudget;

use crate::collector::QueueCollector;

/// Prometheus exporter for job-queue depth, age and consumer lag in Redis
/// (lists, streams, sorted sets, BullMQ, Sidekiq, Celery, RQ) and PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "sidewatch-queue", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Backends and queues (YAML, see docs/queue.md).
    #[arg(
        id = "queues_file",
        long = "config.file",
        env = "SIDEWATCH_QUEUE_CONFIG_FILE",
        value_name = "FILE"
    )]
    pub queues_file: PathBuf,
    /// Bound of connecting and of every Redis command.
    #[arg(long = "redis.timeout", env = "SIDEWATCH_QUEUE_REDIS_TIMEOUT", default_value = "5s",
          value_parser = cli::parse_duration, value_name = "DURATION")]
    pub redis_timeout: Duration,
    /// Largest reply accepted from a Redis backend, in bytes; a bigger one
    /// fails that read.
    #[arg(long = "redis.max-reply-bytes", env = "SIDEWATCH_QUEUE_REDIS_MAX_REPLY_BYTES",
          default_value_t = 64 << 20, value_parser = clap::value_parser!(u64).range(1024..),
          value_name = "BYTES")]
    pub redis_max_reply_bytes: u64,
    /// Server-side statement_timeout of SQL queue queries (never past the scrape deadline).
    #[arg(long = "pg.statement-timeout", env = "SIDEWATCH_QUEUE_PG_STATEMENT_TIMEOUT", default_value = "5s",
          value_parser = cli::parse_duration, value_name = "DURATION")]
    pub statement_timeout: Duration,
    /// Most keys a queue pattern's SCAN walk examines per scrape.
    #[arg(long = "discover.max-keys", env = "SIDEWATCH_QUEUE_DISCOVER_MAX_KEYS", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..), value_name = "N")]
    pub discover_max_keys: u64,
    /// Most queues one pattern is read as per scrape; the rest are left out
    /// and the pattern reports sidewatch_queue_pattern_truncated 1.
    #[arg(long = "discover.max-queues", env = "SIDEWATCH_QUEUE_DISCOVER_MAX_QUEUES", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..), value_name = "N")]
    pub discover_max_queues: u64,
}

/// Everything sidewatch-queue needs, validated and built.
pub struct QueueConfig {
    pub cli: Cli,
    pub collector: QueueCollector,
    pub http: HttpOptions,
}

impl QueueConfig {
    /// Parses `args` (and the environment through clap), reads the queue
    /// file and builds its backends; `env` resolves `password_env`.
    pub fn from_args<I, T>(
        args: I,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, StartError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cmd = Cli::command().mut_arg("listen_address", |a| a.default_value(":9742"));
        let cli = cli::get_matches(cmd, args)
            .and_then(|m| Cli::from_arg_matches(&m).map_err(StartError::from))?;
        let file = crate::config::load(&cli.queues_file).map_err(StartError::Config)?;
        let redis = ClientSettings {
            timeout: cli.redis_timeout,
            max_reply_bytes: usize::try_from(cli.redis_max_reply_bytes).unwrap_or(usize::MAX),
            client_name: Some("sidewatch-queue".to_owned()),
            ..ClientSettings::default()
        };
        let pool = PoolSettings {
            max_connections: 1,
            statement_timeout: cli.statement_timeout,
            ..PoolSettings::default()
        };
        let http = HttpOptions::from_flags(&cli.common.web, &cli.common.scrape)?;
        let (backends, queues) = crate::build(&file, env, &redis, &pool)
            .map_err(|e| StartError::Config(format!("{}: {e}", cli.queues_file.display())))?;
        let collector = QueueCollector {
            backends,
            queues,
            max_pattern_queues: usize::try_from(cli.discover_max_queues).unwrap_or(usize::MAX),
            discovery: KeyBudget {
                max_keys: usize::try_from(cli.discover_max_keys).unwrap_or(usize::MAX),
                ..Default::default()
            },
        };
        Ok(Self {
            cli,
            collector,
            http,
        })
    }
}

impl sidewatch_common::exporter::Exporter for QueueConfig {
    const NAME: &'static str = "sidewatch-queue";
    const DEFAULT_LISTEN: &'static str = ":9742";

    fn from_env() -> Result<Self, StartError> {
        QueueConfig::from_args(std::env::args_os(), &|k| std::env::var(k).ok())
    }

    fn common(&self) -> &CommonArgs {
        &self.cli.common
    }

    fn describe(&self) -> String {
        format!(
            "{} backends, {} queues",
            self.collector.backends.len(),
            self.collector.queues.len()
        )
    }

    fn build(self) -> (Arc<ScrapeEngine>, HttpOptions) {
        let engine = ScrapeEngine::new(
            crate::INFO,
            self.cli.common.scrape.settings(),
            vec![Arc::new(self.collector)],
            None,
        );
        (engine, self.http)
    }
}
