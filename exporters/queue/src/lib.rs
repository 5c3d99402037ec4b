//! sidewatch-queue: job-queue depth, age and consumer lag across Redis and
//! PostgreSQL.
//!
//! Work in progress (issue 6): the configuration file exists; backends,
//! queue kinds, collectors and the binary do not yet.
#![forbid(unsafe_code)]

pub mod config;
