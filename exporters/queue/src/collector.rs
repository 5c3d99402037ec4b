//! The `queues` collector: every configured queue, read concurrently under
//! the scrape deadline. A backend that is down loses its queues only; a
//! queue that fails (WRONGTYPE, a bad query) loses only itself.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sidewatch_common::{CollectFuture, CollectResult, Collector, Family};
use sidewatch_postgres_client::pool::Pool;
use sidewatch_redis_client::client::Client;

use sidewatch_redis_client::scan::KeyBudget;

use crate::discover;
use crate::redis_kinds::{QueueReading, RedisQueue};

/// A backend's connection.
pub enum Backend {
    Redis(Arc<Client>),
    Postgres(Arc<Pool>),
}

/// A queue, ready to read.
pub enum QueueSource {
    Redis(RedisQueue),
    /// The query returns `depth` and optionally `state` and `oldest_age_seconds`.
    Postgres {
        query: String,
    },
}

pub struct QueueSpec {
    pub name: String,
    pub backend: usize,
    pub source: QueueSource,
}

pub struct QueueCollector {
    /// (name, connection)
    pub backends: Vec<(String, Backend)>,
    pub queues: Vec<QueueSpec>,
    /// Budget of a pattern's SCAN walk per scrape.
    pub discovery: KeyBudget,
    /// Server-side timeout of SQL queries (never past the scrape deadline).
    pub statement_timeout: Duration,
}

/// (state, depth, oldest age) rows of one queue, plus stream groups.
type Rows = (Vec<(String, f64, Option<f64>)>, QueueReading);

impl QueueCollector {
    async fn up(&self, backend: &Backend) -> bool {
        match backend {
            Backend::Redis(c) => match c.session().await {
                Ok(mut s) => s.cmd(&[b"PING"]).await.is_ok(),
                Err(_) => false,
            },
            Backend::Postgres(p) => match p.get(&p.target().database).await {
                Ok(conn) => conn.query("SELECT 1", self.statement_timeout).await.is_ok(),
                Err(_) => false,
            },
        }
    }

    async fn read(&self, q: &QueueSpec, now: f64) -> Result<Rows, String> {
        match (&q.source, &self.backends[q.backend].1) {
            (QueueSource::Redis(rq), Backend::Redis(client)) => {
                let r = rq.read(client, now).await.map_err(|e| e.to_string())?;
                let mut rows: Vec<(String, f64, Option<f64>)> = r
                    .depth
                    .iter()
                    .map(|(s, d)| ((*s).to_owned(), *d, None))
                    .collect();
                for (s, age) in &r.oldest_age {
                    match rows.iter_mut().find(|row| row.0 == *s) {
                        Some(row) => row.2 = Some(*age),
                        None => rows.push(((*s).to_owned(), f64::NAN, Some(*age))),
                    }
                }
                Ok((rows, r))
            }
            (QueueSource::Postgres { query }, Backend::Postgres(pool)) => {
                let conn = pool
                    .get(&pool.target().database)
                    .await
                    .map_err(|e| e.to_string())?;
                let timeout =
                    sidewatch_common::time_left(self.statement_timeout).min(self.statement_timeout);
                let result = conn
                    .query(query, timeout)
                    .await
                    .map_err(|e| e.to_string())?;
                let depth = result
                    .column("depth")
                    .ok_or("the query returns no depth column")?;
                let state = result.column("state");
                let age = result.column("oldest_age_seconds");
                let cell = |row: &Vec<Option<String>>, i: Option<usize>| {
                    i.and_then(|i| row.get(i).cloned().flatten())
                };
                let rows = result
                    .rows
                    .iter()
                    .map(|row| {
                        (
                            cell(row, state).unwrap_or_else(|| "waiting".to_owned()),
                            cell(row, Some(depth))
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(f64::NAN),
                            cell(row, age).and_then(|v| v.parse().ok()),
                        )
                    })
                    .collect();
                Ok((rows, QueueReading::default()))
            }
            _ => Err("queue kind does not match its backend".into()),
        }
    }

    async fn run(&self) -> CollectResult {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let ups = futures::future::join_all(self.backends.iter().map(|(_, b)| self.up(b))).await;
        // Patterns become the queues they match now (discovery failures are
        // that pattern's read failure).
        let mut queues: Vec<QueueSpec> = Vec::new();
        let mut failed: Vec<(String, String)> = Vec::new();
        for q in &self.queues {
            match (&q.source, &self.backends[q.backend].1) {
                (QueueSource::Redis(rq), Backend::Redis(client))
                    if ups[q.backend] && discover::is_pattern(rq) =>
                {
                    match discover::expand(client, rq, &self.discovery).await {
                        Ok((found, done)) => {
                            if !done {
                                tracing::warn!(queue = %q.name, max_keys = self.discovery.max_keys, "queue discovery stopped at its key or time budget");
                            }
                            for f in found {
                                let name = if f.queue.is_empty() {
                                    f.key.clone()
                                } else {
                                    f.queue.clone()
                                };
                                queues.push(QueueSpec {
                                    name,
                                    backend: q.backend,
                                    source: QueueSource::Redis(f),
                                });
                            }
                        }
                        Err(e) => failed.push((q.name.clone(), e.to_string())),
                    }
                }
                (QueueSource::Redis(rq), _) => queues.push(QueueSpec {
                    name: q.name.clone(),
                    backend: q.backend,
                    source: QueueSource::Redis(rq.clone()),
                }),
                (QueueSource::Postgres { query }, _) => queues.push(QueueSpec {
                    name: q.name.clone(),
                    backend: q.backend,
                    source: QueueSource::Postgres {
                        query: query.clone(),
                    },
                }),
            }
        }
        let ups_ref = &ups;
        let reads = futures::future::join_all(queues.iter().map(|q| async move {
            if ups_ref[q.backend] {
                Some(self.read(q, now).await)
            } else {
                None
            }
        }))
        .await;
        let g = |n: &str, h: &str| Family::gauge(format!("sidewatch_queue_{n}"), h);
        let mut up = g("up", "1 when the backend answers.");
        let mut depth = g("depth", "Jobs in the queue, by state.");
        let mut oldest = g(
            "oldest_age_seconds",
            "Age of the oldest job in that state, where the layout records enqueue time.",
        );
        let mut lag = g(
            "consumer_lag",
            "Stream entries not yet delivered to the consumer group.",
        );
        let mut pending = g(
            "consumer_pending",
            "Entries delivered to the group and not acknowledged.",
        );
        let mut pending_age = g(
            "consumer_oldest_pending_age_seconds",
            "Age of the oldest entry delivered to the group and not acknowledged.",
        );
        let mut success = g(
            "read_success",
            "1 when the queue could be read at this scrape.",
        );
        for ((name, _), is_up) in self.backends.iter().zip(&ups) {
            up.add(&[("backend", name)], if *is_up { 1.0 } else { 0.0 });
        }
        for (name, e) in &failed {
            tracing::warn!(queue = %name, error = %e, "cannot discover the queues of a pattern");
            success.add(&[("queue", name)], 0.0);
        }
        for (q, read) in queues.iter().zip(reads) {
            let Some(read) = read else { continue };
            let (rows, reading) = match read {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(queue = %q.name, error = %e, "cannot read the queue");
                    success.add(&[("queue", &q.name)], 0.0);
                    continue;
                }
            };
            success.add(&[("queue", &q.name)], 1.0);
            for (state, d, age) in rows {
                let l = [("queue", q.name.as_str()), ("state", state.as_str())];
                if !d.is_nan() {
                    depth.add(&l, d);
                }
                if let Some(a) = age {
                    oldest.add(&l, a);
                }
            }
            for grp in reading.groups {
                let l = [("queue", q.name.as_str()), ("group", grp.group.as_str())];
                if let Some(v) = grp.lag {
                    lag.add(&l, v);
                }
                pending.add(&l, grp.pending);
                if let Some(a) = grp.oldest_pending_age {
                    pending_age.add(&l, a);
                }
            }
        }
        Ok(vec![up, success, depth, oldest, lag, pending, pending_age])
    }
}

impl Collector for QueueCollector {
    fn name(&self) -> &'static str {
        "queues"
    }

    fn collect(&self) -> CollectFuture<'_> {
        Box::pin(self.run())
    }
}
