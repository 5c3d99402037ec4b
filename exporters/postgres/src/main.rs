//! sidewatch-postgres: the fleet's one start-up path, for [`PgConfig`].
#![forbid(unsafe_code)]

use sidewatch_postgres::config::PgConfig;

fn main() {
    sidewatch_common::exporter::main::<PgConfig>();
}
