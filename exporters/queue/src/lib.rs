//! sidewatch-queue: job-queue depth, age and consumer lag across Redis and
//! PostgreSQL.
//!
//! Work in progress (issue 6): the configuration file and the Redis queue
//! kinds exist; the PostgreSQL backend, collectors and the binary do not yet.
#![forbid(unsafe_code)]

pub mod config;
pub mod redis_kinds;
