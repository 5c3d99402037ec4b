//! sidewatch-node: parse, validate, build, serve.
#![forbid(unsafe_code)]

use sidewatch_common::{cli, http, logging};
use sidewatch_node::config::NodeConfig;

fn main() {
    let config = NodeConfig::from_args(std::env::args_os()).unwrap_or_else(|e| cli::exit_with(e));
    logging::init(config.cli.log.level, config.cli.log.format);
    http::run("sidewatch-node", &config.cli.web.listen_address, || {
        (sidewatch_node::build_engine(&config), config.http.clone())
    });
}
