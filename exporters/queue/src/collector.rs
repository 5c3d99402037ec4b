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
    /// Most queues one pattern is read as per scrape (`--discover.max-queues`).
    pub max_pattern_queues: usize,
}

/// (state, depth, oldest age) rows of one queue, plus stream groups.
type Rows = (Vec<(String, f64, Option<f64>)>, QueueReading);

impl QueueCollector {
    /// Whether the backend answers; why not is logged once per scrape.
    async fn up(&self, name: &str, backend: &Backend, deadline: tokio::time::Instant) -> bool {
        let error = match backend {
            Backend::Redis(c) => c.ping(deadline).await.err().map(|e| e.to_string()),
            Backend::Postgres(p) => p.ping(deadline).await.err().map(|e| e.to_string()),
        };
        if let Some(error) = &error {
            tracing::warn!(backend = name, %error, "backend does not answer");
        }
        error.is_none()
    }

    async fn read(
        &self,
        q: &QueueSpec,
        now: f64,
        deadline: tokio::time::Instant,
    ) -> Result<Rows, String> {
        match (&q.source, &self.backends[q.backend].1) {
            (QueueSource::Redis(rq), Backend::Redis(client)) => {
                let r = rq
                    .read(client, now, deadline)
                    .await
                    .map_err(|e| e.to_string())?;
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
                    .get(&pool.target().database, deadline)
                    .await
                    .map_err(|e| e.to_string())?;
                let result = conn
                    .query(query, pool.statement_timeout(None, deadline))
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

    /// Whether `q` is a pattern whose matches are found at each scrape.
    fn is_pattern(&self, q: &QueueSpec) -> bool {
        matches!(
            (&q.source, &self.backends[q.backend].1),
            (QueueSource::Redis(rq), Backend::Redis(_)) if discover::is_pattern(rq)
        )
    }

    /// A pattern's queues, found and read by `deadline` (its share of the scrape).
    async fn read_pattern(
        &self,
        q: &QueueSpec,
        now: f64,
        deadline: tokio::time::Instant,
    ) -> PatternOutcome {
        let (QueueSource::Redis(rq), Backend::Redis(client)) =
            (&q.source, &self.backends[q.backend].1)
        else {
            return PatternOutcome::Failed("not a Redis pattern".into());
        };
        let (mut found, walked) =
            match discover::expand(client, rq, &self.discovery, deadline).await {
                Ok(f) => f,
                Err(e) => return PatternOutcome::Failed(e.to_string()),
            };
        let cut = found.len() > self.max_pattern_queues;
        found.truncate(self.max_pattern_queues);
        let queues: Vec<QueueSpec> = found
            .into_iter()
            .map(|f| QueueSpec {
                name: if f.queue.is_empty() {
                    f.key.clone()
                } else {
                    f.queue.clone()
                },
                backend: q.backend,
                source: QueueSource::Redis(f),
            })
            .collect();
        let reads =
            futures::future::join_all(queues.iter().map(|m| self.read(m, now, deadline))).await;
        PatternOutcome::Read {
            truncated: cut || !walked,
            reads: queues.into_iter().zip(reads).collect(),
        }
    }

    async fn run(&self, scrape: &sidewatch_common::ScrapeContext) -> CollectResult {
        let deadline = scrape.deadline();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let ups =
            futures::future::join_all(self.backends.iter().map(|(n, b)| self.up(n, b, deadline)))
                .await;
        let mut out = Output::new();
        for ((name, _), is_up) in self.backends.iter().zip(&ups) {
            out.up
                .add(&[("backend", name)], if *is_up { 1.0 } else { 0.0 });
        }
        // Queues named one by one are read first, all at once: a pattern that
        // matches very many keys cannot take their connection time.
        let (patterns, named): (Vec<&QueueSpec>, Vec<&QueueSpec>) =
            self.queues.iter().partition(|q| self.is_pattern(q));
        let named: Vec<&QueueSpec> = named.into_iter().filter(|q| ups[q.backend]).collect();
        let reads =
            futures::future::join_all(named.iter().map(|q| self.read(q, now, deadline))).await;
        for (q, read) in named.iter().zip(reads) {
            if let Err(e) = &read {
                tracing::warn!(queue = %q.name, error = %e, "cannot read the queue");
            }
            out.record(&q.name, read);
        }
        // Then each pattern in turn, with an equal share of the time left.
        let patterns: Vec<&QueueSpec> = patterns.into_iter().filter(|q| ups[q.backend]).collect();
        for (i, q) in patterns.iter().enumerate() {
            let left = scrape.time_left();
            let share = left / u32::try_from(patterns.len() - i).unwrap_or(u32::MAX);
            let until = tokio::time::Instant::now() + share;
            let until = until.min(deadline);
            // The clients stop at `until`; the outer bound only guards that.
            let outcome = tokio::time::timeout_at(
                until + Duration::from_millis(100),
                self.read_pattern(q, now, until),
            )
            .await
            .unwrap_or_else(|_| {
                PatternOutcome::Failed("ran out of its share of the scrape".into())
            });
            match outcome {
                PatternOutcome::Failed(e) => {
                    tracing::warn!(queue = %q.name, error = %e, "cannot discover the queues of a pattern");
                    out.success.add(&[("queue", &q.name)], 0.0);
                }
                PatternOutcome::Read { truncated, reads } => {
                    let l = [("queue", q.name.as_str())];
                    out.matched.add(&l, reads.len() as f64);
                    out.truncated.add(&l, if truncated { 1.0 } else { 0.0 });
                    if truncated {
                        tracing::warn!(queue = %q.name, read = reads.len(), max_keys = self.discovery.max_keys, max_queues = self.max_pattern_queues, "pattern stopped at its key, queue or time budget");
                    }
                    // One line for the pattern, however many of its queues failed.
                    let failed: Vec<&String> =
                        reads.iter().filter_map(|(_, r)| r.as_ref().err()).collect();
                    if let Some(first) = failed.first() {
                        tracing::warn!(queue = %q.name, failed = failed.len(), of = reads.len(), error = %first, "cannot read some queues of a pattern");
                    }
                    for (m, read) in reads {
                        out.record(&m.name, read);
                    }
                }
            }
        }
        Ok(out.families())
    }
}

/// What a pattern gave at one scrape.
enum PatternOutcome {
    Failed(String),
    Read {
        /// The key walk or the match list stopped at its budget.
        truncated: bool,
        reads: Vec<(QueueSpec, Result<Rows, String>)>,
    },
}

/// The families of one scrape, filled queue by queue.
struct Output {
    up: Family,
    depth: Family,
    oldest: Family,
    lag: Family,
    pending: Family,
    pending_age: Family,
    success: Family,
    matched: Family,
    truncated: Family,
}

impl Output {
    fn new() -> Self {
        let g = |n: &str, h: &'static str| Family::gauge(format!("sidewatch_queue_{n}"), h);
        Self {
            up: g("up", "1 when the backend answers."),
            depth: g("depth", "Jobs in the queue, by state."),
            oldest: g(
                "oldest_age_seconds",
                "Age of the oldest job in that state, where the layout records enqueue time.",
            ),
            lag: g(
                "consumer_lag",
                "Stream entries not yet delivered to the consumer group.",
            ),
            pending: g(
                "consumer_pending",
                "Entries delivered to the group and not acknowledged.",
            ),
            pending_age: g(
                "consumer_oldest_pending_age_seconds",
                "Age of the oldest entry delivered to the group and not acknowledged.",
            ),
            success: g(
                "read_success",
                "1 when the queue could be read at this scrape.",
            ),
            matched: g(
                "pattern_queues",
                "Queues a pattern matched and read at this scrape (at most --discover.max-queues).",
            ),
            truncated: g(
                "pattern_truncated",
                "1 when a pattern's key walk or match list stopped at its budget at this scrape.",
            ),
        }
    }

    fn record(&mut self, name: &str, read: Result<Rows, String>) {
        let (rows, reading) = match read {
            Ok(r) => r,
            Err(_) => {
                self.success.add(&[("queue", name)], 0.0);
                return;
            }
        };
        self.success.add(&[("queue", name)], 1.0);
        for (state, d, age) in rows {
            let l = [("queue", name), ("state", state.as_str())];
            if !d.is_nan() {
                self.depth.add(&l, d);
            }
            if let Some(a) = age {
                self.oldest.add(&l, a);
            }
        }
        for grp in reading.groups {
            let l = [("queue", name), ("group", grp.group.as_str())];
            if let Some(v) = grp.lag {
                self.lag.add(&l, v);
            }
            self.pending.add(&l, grp.pending);
            if let Some(a) = grp.oldest_pending_age {
                self.pending_age.add(&l, a);
            }
        }
    }

    fn families(self) -> Vec<Family> {
        vec![
            self.up,
            self.success,
            self.depth,
            self.oldest,
            self.lag,
            self.pending,
            self.pending_age,
            self.matched,
            self.truncated,
        ]
    }
}

impl Collector for QueueCollector {
    fn name(&self) -> &'static str {
        "queues"
    }

    fn collect<'a>(&'a self, ctx: &'a sidewatch_common::ScrapeContext) -> CollectFuture<'a> {
        Box::pin(self.run(ctx))
    }
}
