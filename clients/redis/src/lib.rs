//! sidewatch-redis-client: the Redis connection every exporter that reads
//! Redis uses (sidewatch-redis, sidewatch-queue).
//!
//! - [`target`]: `redis://`, `rediss://`, `unix://` addresses, passwords redacted
//! - [`resp`]: the wire protocol, bounded
//! - [`client`]: one long-lived connection, every command under the scrape deadline
//! - [`scan`]: SCAN walks under a per-scrape budget of keys and time
#![forbid(unsafe_code)]

pub mod client;
pub mod resp;
pub mod scan;
pub mod target;
