//! sidewatch-wal: parse, validate, build, serve.
#![forbid(unsafe_code)]

use std::sync::Arc;

use sidewatch_common::{cli, http, logging, ScrapeEngine};
use sidewatch_wal::collector::WalCollector;
use sidewatch_wal::config::WalConfig;

fn main() {
    sidewatch_common::healthcheck::run_if_requested(
        "sidewatch-wal",
        ":9741",
        "SIDEWATCH_WEB_LISTEN_ADDRESS",
    );
    let config = WalConfig::from_args(std::env::args_os()).unwrap_or_else(|e| cli::exit_with(e));
    if config.cli.config_check {
        println!("configuration is valid: {} directories", config.dirs.len());
        return;
    }
    logging::init(config.cli.log.level, config.cli.log.format);
    http::run("sidewatch-wal", &config.cli.web.listen_address, || {
        for d in &config.dirs {
            tracing::info!(dir = %d.name, path = %d.path.display(), kind = ?d.kind, "watching");
        }
        let dirs = sidewatch_wal::watch::start(config.dirs.clone(), config.watch.clone());
        let engine = ScrapeEngine::new(
            sidewatch_wal::INFO,
            config.cli.scrape.settings(),
            vec![Arc::new(WalCollector { dirs })],
            None,
        );
        (engine, config.http.clone())
    });
}
