//! sidewatch-redis: the fleet's one start-up path, for [`RedisConfig`].
#![forbid(unsafe_code)]

use sidewatch_redis::config::RedisConfig;

fn main() {
    sidewatch_common::exporter::main::<RedisConfig>();
}
