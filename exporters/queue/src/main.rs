//! sidewatch-queue: parse, validate, build, serve.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use sidewatch_common::cli::{self, LogArgs, ScrapeArgs, StartError, WebArgs};
use sidewatch_common::{http, logging, ScrapeEngine};
use sidewatch_postgres_client::pool::PoolSettings;
use sidewatch_queue::collector::QueueCollector;
use sidewatch_redis_client::client::ClientSettings;

/// Prometheus exporter for job-queue depth, age and consumer lag in Redis
/// (lists, streams, sorted sets, BullMQ, Sidekiq, Celery, RQ) and PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "sidewatch-queue", version, about, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    web: WebArgs,
    #[command(flatten)]
    scrape: ScrapeArgs,
    #[command(flatten)]
    log: LogArgs,
    /// Backends and queues (YAML, see docs/queue.md).
    #[arg(
        id = "queues_file",
        long = "config.file",
        env = "SIDEWATCH_QUEUE_CONFIG_FILE",
        value_name = "FILE"
    )]
    queues_file: PathBuf,
    /// Validate the flags and the file and exit: 0 when valid, 2 otherwise.
    #[arg(long = "config.check", action = ArgAction::SetTrue)]
    config_check: bool,
    /// Bound of connecting and of every Redis command.
    #[arg(long = "redis.timeout", env = "SIDEWATCH_QUEUE_REDIS_TIMEOUT", default_value = "5s",
          value_parser = cli::parse_duration, value_name = "DURATION")]
    redis_timeout: Duration,
    /// Largest reply accepted from a Redis backend, in bytes; a bigger one
    /// fails that read.
    #[arg(long = "redis.max-reply-bytes", env = "SIDEWATCH_QUEUE_REDIS_MAX_REPLY_BYTES",
          default_value_t = 64 << 20, value_parser = clap::value_parser!(u64).range(1024..),
          value_name = "BYTES")]
    redis_max_reply_bytes: u64,
    /// Server-side statement_timeout of SQL queue queries (never past the scrape deadline).
    #[arg(long = "pg.statement-timeout", env = "SIDEWATCH_QUEUE_PG_STATEMENT_TIMEOUT", default_value = "5s",
          value_parser = cli::parse_duration, value_name = "DURATION")]
    statement_timeout: Duration,
    /// Most keys a queue pattern's SCAN walk examines per scrape.
    #[arg(long = "discover.max-keys", env = "SIDEWATCH_QUEUE_DISCOVER_MAX_KEYS", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..), value_name = "N")]
    discover_max_keys: u64,
    /// Most queues one pattern is read as per scrape; the rest are left out
    /// and the pattern reports sidewatch_queue_pattern_truncated 1.
    #[arg(long = "discover.max-queues", env = "SIDEWATCH_QUEUE_DISCOVER_MAX_QUEUES", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..), value_name = "N")]
    discover_max_queues: u64,
}

fn main() {
    sidewatch_common::healthcheck::run_if_requested(
        "sidewatch-queue",
        ":9742",
        "SIDEWATCH_WEB_LISTEN_ADDRESS",
    );
    let cmd = Cli::command().mut_arg("listen_address", |a| a.default_value(":9742"));
    let cli = cli::get_matches(cmd, std::env::args_os())
        .and_then(|m| Cli::from_arg_matches(&m).map_err(StartError::from))
        .unwrap_or_else(|e| cli::exit_with(e));
    let file = sidewatch_queue::config::load(&cli.queues_file)
        .unwrap_or_else(|e| cli::exit_with(StartError::Config(e)));
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
    let env = |k: &str| std::env::var(k).ok();
    let options = cli::http_options(&cli.web, &cli.scrape).unwrap_or_else(|e| cli::exit_with(e));
    // Checked before serving, so a bad URI or missing secret is exit 2.
    sidewatch_queue::build(&file, &env, &redis, &pool).unwrap_or_else(|e| {
        cli::exit_with(StartError::Config(format!(
            "{}: {e}",
            cli.queues_file.display()
        )))
    });
    if cli.config_check {
        println!(
            "configuration is valid: {} backends, {} queues",
            file.backends.len(),
            file.queues.len()
        );
        return;
    }
    logging::init(cli.log.level, cli.log.format);
    http::run("sidewatch-queue", &cli.web.listen_address, || {
        let (backends, queues) = match sidewatch_queue::build(&file, &env, &redis, &pool) {
            Ok(b) => b,
            Err(e) => cli::exit_with(StartError::Config(e)),
        };
        let collector = QueueCollector {
            backends,
            queues,
            statement_timeout: cli.statement_timeout,
            max_pattern_queues: usize::try_from(cli.discover_max_queues).unwrap_or(usize::MAX),
            discovery: sidewatch_redis_client::scan::KeyBudget {
                max_keys: usize::try_from(cli.discover_max_keys).unwrap_or(usize::MAX),
                ..Default::default()
            },
        };
        let engine = ScrapeEngine::new(
            sidewatch_queue::INFO,
            cli.scrape.settings(),
            vec![Arc::new(collector)],
            None,
        );
        (engine, options.clone())
    });
}
