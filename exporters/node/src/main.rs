//! sidewatch-node: parse, validate, build, serve.
#![forbid(unsafe_code)]

use sidewatch_common::{cli, http, logging};
use sidewatch_node::config::NodeConfig;

fn main() {
    sidewatch_common::healthcheck::run_if_requested(
        "sidewatch-node",
        ":9100",
        "SIDEWATCH_WEB_LISTEN_ADDRESS",
    );
    let config = NodeConfig::from_args(std::env::args_os()).unwrap_or_else(|e| cli::exit_with(e));
    logging::init(config.cli.log.level, config.cli.log.format);
    http::run("sidewatch-node", &config.cli.web.listen_address, || {
        (sidewatch_node::build_engine(&config), config.http.clone())
    });
}
