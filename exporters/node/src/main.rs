//! sidewatch-node: parse, validate, build, serve.
#![forbid(unsafe_code)]

use sidewatch_common::{cli, http, logging};
use sidewatch_node::config::NodeConfig;

fn main() {
    let config = NodeConfig::from_args(std::env::args_os()).unwrap_or_else(|e| cli::exit_with(e));
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
        let engine = sidewatch_node::build_engine(&config);
        tracing::info!(
            version = sidewatch_node::INFO.version,
            collectors = ?engine.collector_names(),
            "starting sidewatch-node"
        );
        http::serve(
            engine,
            listeners,
            config.http.clone(),
            http::shutdown_signal(),
        )
        .await
    });
    // Stuck statfs threads must not delay exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    if let Err(e) = result {
        tracing::error!(error = %e, "server failed");
        std::process::exit(1);
    }
}
