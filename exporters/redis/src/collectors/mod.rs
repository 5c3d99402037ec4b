//! The collectors of sidewatch-redis, one module each.
//!
//! - [`info`]: INFO ALL with CONFIG, SLOWLOG, LATENCY and CLUSTER INFO, one round trip
//! - [`keys`]: `--check-keys`, `--check-single-keys`, `--count-keys`
//! - [`streams`]: `--check-streams`, `--check-single-streams`

pub mod info;
pub mod keys;
pub mod streams;
