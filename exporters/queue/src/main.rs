//! sidewatch-queue: the fleet's one start-up path, for [`QueueConfig`].
#![forbid(unsafe_code)]

use sidewatch_queue::flags::QueueConfig;

fn main() {
    sidewatch_common::exporter::main::<QueueConfig>();
}
