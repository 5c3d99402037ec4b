//! sidewatch-queue: job-queue depth, age and consumer lag across Redis and
//! PostgreSQL.
//!
//! Families: `sidewatch_queue_up{backend}`, `sidewatch_queue_read_success{queue}`,
//! `sidewatch_queue_depth{queue,state}`, `sidewatch_queue_oldest_age_seconds{queue,state}`,
//! `sidewatch_queue_consumer_{lag,pending,oldest_pending_age_seconds}{queue,group}`,
//! `sidewatch_queue_pattern_{queues,truncated}{queue}`.
#![forbid(unsafe_code)]

pub mod collector;
pub mod config;
pub mod discover;
pub mod flags;
pub mod redis_kinds;

use sidewatch_postgres_client::pool::{Pool, PoolSettings};
use sidewatch_redis_client::client::{Client, ClientSettings};
use sidewatch_redis_client::target::{Secret, Target};

use crate::collector::{Backend, QueueSource, QueueSpec};
use crate::config::Kind;
use crate::redis_kinds::RedisQueue;

pub const INFO: sidewatch_common::ExporterInfo = sidewatch_common::ExporterInfo {
    namespace: "sidewatch_queue",
    exporter: "queue",
    version: env!("CARGO_PKG_VERSION"),
    peer_self_metrics: None,
};

/// A backend's password from `password_env` or `password_file`; never printed.
fn password(
    b: &config::Backend,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    if let Some(var) = &b.password_env {
        return env(var).map(Some).ok_or_else(|| {
            format!(
                "backend {:?}: environment variable {var} is not set",
                b.name
            )
        });
    }
    if let Some(path) = &b.password_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("backend {:?}: password_file {path}: {e}", b.name))?;
        return Ok(Some(text.lines().next().unwrap_or_default().to_owned()));
    }
    Ok(None)
}

/// Named backends and the queues on them.
pub type Built = (Vec<(String, Backend)>, Vec<QueueSpec>);

/// Connections (not opened yet) and queues from a checked config file.
pub fn build(
    file: &config::File,
    env: &dyn Fn(&str) -> Option<String>,
    redis: &ClientSettings,
    pool: &PoolSettings,
) -> Result<Built, String> {
    let mut backends = Vec::new();
    for b in &file.backends {
        let pw = password(b, env)?;
        let handle = match (&b.redis, &b.postgres) {
            (Some(uri), _) => {
                let mut t = Target::parse(uri).map_err(|e| format!("backend {:?}: {e}", b.name))?;
                if let Some(p) = pw {
                    t.password = Some(Secret(p));
                }
                Backend::Redis(Client::new(t, redis.clone()))
            }
            (None, Some(dsn)) => {
                let t = sidewatch_postgres_client::dsn::parse("postgres", dsn, None, pw)
                    .map_err(|e| format!("backend {:?}: {e}", b.name))?;
                Backend::Postgres(Pool::new(t, pool.clone()))
            }
            (None, None) => return Err(format!("backend {:?}: no redis or postgres", b.name)),
        };
        backends.push((b.name.clone(), handle));
    }
    let mut queues = Vec::new();
    for q in &file.queues {
        let backend = backends
            .iter()
            .position(|(n, _)| *n == q.backend)
            .ok_or_else(|| format!("queue {:?}: no backend {:?}", q.name, q.backend))?;
        let source = match q.kind {
            Kind::Postgres => QueueSource::Postgres {
                query: q.query.clone().unwrap_or_default(),
            },
            kind => QueueSource::Redis(RedisQueue {
                kind,
                key: q.key.clone().unwrap_or_default(),
                queue: q.queue.clone().unwrap_or_default(),
                prefix: q.prefix.clone().unwrap_or_else(|| {
                    match kind {
                        Kind::Rq => "rq",
                        _ => "bull",
                    }
                    .to_owned()
                }),
            }),
        };
        queues.push(QueueSpec {
            name: q.name.clone(),
            backend,
            source,
        });
    }
    Ok((backends, queues))
}
