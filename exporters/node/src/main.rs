//! sidewatch-node: the fleet's one start-up path, for [`NodeConfig`].
#![forbid(unsafe_code)]

use sidewatch_node::config::NodeConfig;

fn main() {
    sidewatch_common::exporter::main::<NodeConfig>();
}
