//! sidewatch-postgres: parse, validate, build, serve.
#![forbid(unsafe_code)]

use sidewatch_common::{cli, http, logging, ScrapeEngine};
use sidewatch_postgres::config::PgConfig;

fn main() {
    sidewatch_common::healthcheck::run_if_requested(
        "sidewatch-postgres",
        ":9187",
        "SIDEWATCH_WEB_LISTEN_ADDRESS",
    );
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
    http::run("sidewatch-postgres", &config.cli.web.listen_address, || {
        let (main, probe) = sidewatch_postgres::build(&config);
        let engine = match (main, &config.target) {
            (Some((engine, _pool)), Some(t)) => {
                tracing::info!(server = %t.server, database = %t.database, "watching");
                engine
            }
            _ => {
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
        let mut options = config.http.clone();
        options.probe = Some(probe);
        (engine, options)
    });
}
