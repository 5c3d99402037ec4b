//! sidewatch-wal: the fleet's one start-up path, for [`WalConfig`].
#![forbid(unsafe_code)]

use sidewatch_wal::config::WalConfig;

fn main() {
    sidewatch_common::exporter::main::<WalConfig>();
}
