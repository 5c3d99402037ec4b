//! sidewatch-postgres-client: the PostgreSQL connections every exporter that
//! reads PostgreSQL uses (sidewatch-postgres, sidewatch-queue).
//!
//! - [`dsn`]: data source names (URI or key=value), passwords redacted
//! - [`pool`]: a bounded pool, every query with a server-side timeout under
//!   the scrape deadline and cancelled when abandoned
//! - [`tls`]: libpq's sslmode and certificate settings over rustls
#![forbid(unsafe_code)]

pub mod dsn;
pub mod pool;
pub mod tls;
