//! sidewatch-redis: parse, validate, build, serve.
#![forbid(unsafe_code)]

use sidewatch_common::{cli, http, logging, ScrapeEngine};
use sidewatch_redis::config::RedisConfig;

fn main() {
    sidewatch_common::healthcheck::run_if_requested(
        "sidewatch-redis",
        ":9121",
        "REDIS_EXPORTER_WEB_LISTEN_ADDRESS",
    );
    let config = RedisConfig::from_args(std::env::args_os()).unwrap_or_else(|e| cli::exit_with(e));
    if config.cli.config_check {
        println!(
            "configuration is valid: target {}",
            config
                .target
                .as_ref()
                .map(|t| t.display())
                .unwrap_or_else(|| "none (only /scrape)".to_owned())
        );
        return;
    }
    logging::init(config.log_level, config.log_format);
    http::run("sidewatch-redis", &config.cli.web.listen_address, || {
        let (main, route) = sidewatch_redis::build(&config);
        let engine = match main {
            Some((engine, client)) => {
                tracing::info!(addr = %client.target().display(), "watching");
                engine
            }
            None => {
                tracing::warn!("--redis.addr is empty: only /scrape?target= scrapes a server");
                ScrapeEngine::new(
                    sidewatch_redis::info(config.namespace),
                    config.cli.scrape.settings(),
                    Vec::new(),
                    None,
                )
            }
        };
        let mut options = config.http.clone();
        options.probe = Some(route);
        (engine, options)
    });
}
