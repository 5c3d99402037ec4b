//! sidewatch-postgres: parse, validate, build, serve.
#![forbid(unsafe_code)]

use std::sync::Arc;

use sidewatch_common::{cli, http, logging, ScrapeEngine};
use sidewatch_postgres::config::PgConfig;

fn main() {
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let config =
        PgConfig::from_args(std::env::args_os(), &env).unwrap_or_else(|e| cli::exit_with(e));
    if config.cli.config_check {
        println!(
            "configuration is valid: {} collectors, {} custom queries",
            config.collectors.len(),
            config.custom_queries.len()
        );
        return;
    }
    logging::init(config.cli.log.level, config.cli.log.format);
    let listeners = http::bind_all(&config.cli.web.listen_address)
        .unwrap_or_else(|e| cli::exit_with(cli::StartError::Config(e.to_string())));
    let runtime = match sidewatch_common::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async {
        let (main, probe) = sidewatch_postgres::build(&config);
        let engine = match main {
            Some((engine, _pool)) => {
                if let Some(t) = &config.target {
                    tracing::info!(server = %t.server, database = %t.database, "watching");
                }
                engine
            }
            None => {
                tracing::warn!(
                    "no DATA_SOURCE_NAME or DATA_SOURCE_URI: only /probe scrapes a server"
                );
                ScrapeEngine::new(
                    sidewatch_postgres::INFO,
                    config.cli.scrape.settings(),
                    Vec::new(),
                    None,
                )
            }
        };
        tracing::info!(
            version = sidewatch_postgres::INFO.version,
            collectors = ?engine.collector_names(),
            "starting sidewatch-postgres"
        );
        let mut options = config.http.clone();
        options.probe = Some(probe);
        http::serve(
            Arc::clone(&engine),
            listeners,
            options,
            http::shutdown_signal(),
        )
        .await
    });
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    if let Err(e) = result {
        tracing::error!(error = %e, "server failed");
        std::process::exit(1);
    }
}
