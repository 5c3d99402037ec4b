//! The collectors: most are queries in the queries.yaml format
//! (`builtin.yaml`), run by [`QueryCollector`]; `settings`, `vector`,
//! `stat_statements` and the always-on `pg_static` have modules of their own.

pub mod settings;
pub mod stat_statements;
pub mod vector;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Deserialize;
use sidewatch_common::cli::CollectorSpec;
use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::metrics::LabelName;
use sidewatch_common::{CollectError, CollectFuture, Collector, Family};

use crate::pool::{Conn, PgError, Pool, RowEvent, Rows};
use crate::queries::{self, FamilySet, QuerySpec};

/// Every collector, declared once: name, default, help and how it is built.
/// The `--collector.<name>` switches, `--help` and the built set come from here;
/// most are queries in `builtin.yaml` under the same name.
pub const ALL: &[CollectorDecl<PgBuild>] = &[
    CollectorDecl::on(
        "database",
        "database sizes and connection limits (pg_database)",
        |b| b.builtin("database"),
    ),
    CollectorDecl::on("locks", "locks by database and mode (pg_locks)", |b| {
        b.builtin("locks")
    }),
    CollectorDecl::on(
        "replication",
        "replica lag (pg_last_xact_replay_timestamp)",
        |b| b.builtin("replication"),
    ),
    CollectorDecl::on(
        "replication_slot",
        "replication slots (pg_replication_slots)",
        |b| b.builtin("replication_slot"),
    ),
    CollectorDecl::on("settings", "numeric server settings (pg_settings)", |b| {
        Arc::new(settings::SettingsCollector::new(Arc::clone(&b.ctx)))
    }),
    CollectorDecl::on(
        "stat_activity",
        "connections by state (pg_stat_activity)",
        |b| b.builtin("stat_activity"),
    ),
    CollectorDecl::on("stat_archiver", "WAL archiving (pg_stat_archiver)", |b| {
        b.builtin("stat_archiver")
    }),
    CollectorDecl::on(
        "stat_bgwriter",
        "background writer (pg_stat_bgwriter)",
        |b| b.builtin("stat_bgwriter"),
    ),
    CollectorDecl::on(
        "stat_checkpointer",
        "checkpoints and restartpoints on 17+ (pg_stat_checkpointer); the peer's is off by default",
        |b| b.builtin("stat_checkpointer"),
    ),
    CollectorDecl::on("roles", "connection limit per role (pg_roles)", |b| {
        b.builtin("roles")
    }),
    CollectorDecl::on(
        "stat_database",
        "per-database statistics and conflicts (pg_stat_database)",
        |b| b.builtin("stat_database"),
    ),
    CollectorDecl::on(
        "stat_progress_vacuum",
        "running vacuums (pg_stat_progress_vacuum)",
        |b| b.builtin("stat_progress_vacuum"),
    ),
    CollectorDecl::on(
        "stat_replication",
        "WAL senders (pg_stat_replication)",
        |b| b.builtin("stat_replication"),
    ),
    CollectorDecl::on(
        "stat_user_tables",
        "table statistics, per database (pg_stat_user_tables)",
        |b| b.builtin("stat_user_tables"),
    ),
    CollectorDecl::on(
        "statio_user_tables",
        "table I/O, per database (pg_statio_user_tables)",
        |b| b.builtin("statio_user_tables"),
    ),
    CollectorDecl::on(
        "vector",
        "pgvector and RuVector indexes, columns, builds and searches",
        |b| Arc::new(vector::VectorCollector::new(Arc::clone(&b.ctx))),
    ),
    CollectorDecl::on("wal", "WAL directory size (pg_ls_waldir)", |b| {
        b.builtin("wal")
    }),
    CollectorDecl::off(
        "buffercache_summary",
        "shared buffer use on 16+ (pg_buffercache_summary; needs the pg_buffercache extension)",
        |b| b.builtin("buffercache_summary"),
    ),
    CollectorDecl::off(
        "xlog_location",
        "WAL position on servers before 10 (emits nothing on 10+, as the peer)",
        |b| b.builtin("xlog_location"),
    ),
    CollectorDecl::off(
        "database_wraparound",
        "transaction ID age per database",
        |b| b.builtin("database_wraparound"),
    ),
    CollectorDecl::off(
        "long_running_transactions",
        "transactions open longer than a minute",
        |b| b.builtin("long_running_transactions"),
    ),
    CollectorDecl::off("postmaster", "postmaster start time", |b| {
        b.builtin("postmaster")
    }),
    CollectorDecl::off(
        "process_idle",
        "idle connections by application, as a histogram of idle time",
        |b| b.builtin("process_idle"),
    ),
    CollectorDecl::off(
        "stat_activity_autovacuum",
        "running autovacuum workers",
        |b| b.builtin("stat_activity_autovacuum"),
    ),
    CollectorDecl::off(
        "stat_statements",
        "top statements by time (pg_stat_statements), bounded",
        |b| {
            Arc::new(stat_statements::StatStatementsCollector {
                ctx: Arc::clone(&b.ctx),
                options: b.stat_statements.clone(),
            })
        },
    ),
    CollectorDecl::off(
        "stat_wal_receiver",
        "WAL receiver on a replica (pg_stat_wal_receiver)",
        |b| b.builtin("stat_wal_receiver"),
    ),
    CollectorDecl::off(
        "statio_user_indexes",
        "index I/O, per database (pg_statio_user_indexes)",
        |b| b.builtin("statio_user_indexes"),
    ),
];

/// The specs of [`ALL`], for flags and docs.
pub fn specs() -> Vec<CollectorSpec> {
    sidewatch_common::collector::specs(ALL)
}

/// The collectors `--disable-default-metrics` turns off (all defaults but
/// `settings`, which has its own switch).
pub fn is_default_metric(name: &str) -> bool {
    name != "settings"
        && ALL
            .iter()
            .any(|d| d.spec.name == name && d.spec.default_enabled)
}

/// Which databases per-database collectors visit.
#[derive(Clone, Debug, Default)]
pub struct DatabaseSelection {
    /// Every database that accepts connections, not only the DSN's.
    pub auto_discover: bool,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

/// What every collector of one target shares.
pub struct PgContext {
    pub pool: Arc<Pool>,
    /// `server` and the constant labels, first on every series.
    pub base_labels: Vec<(LabelName, String)>,
    /// What postgres_exporter still puts on the families of its legacy
    /// metric maps (pg_settings, pg_static, pg_stat_activity, ... and custom
    /// queries): `server` and the constant labels.
    pub legacy_labels: Vec<(LabelName, String)>,
    pub databases: DatabaseSelection,
    discovered: Mutex<Option<(Instant, Vec<String>)>>,
    /// Connections to the main database that collectors are spread over.
    lanes: Lanes,
}

/// How a scrape's queries to the main database are spread over its
/// connections (lanes): a query takes the first lane that is free, and
/// waits for one, in the order they came, when none is. So a slow query
/// (the database sizes) holds one lane while the other lane works through
/// the quick ones, instead of a fixed half of them queueing behind it.
struct Lanes {
    /// In-flight queries per lane.
    load: Mutex<Vec<u8>>,
    /// `lanes × LANE_DEPTH` permits; `None` with one lane, which pipelines
    /// everything on its connection.
    free: Option<Arc<tokio::sync::Semaphore>>,
}

/// Queries a lane holds at once. One: a second query sent behind a slow one
/// waits there while the other lane could have run it (bench/postgres.py:
/// 12.9 ms median with two, 10.8 ms with one; three lanes, 14.7 ms).
const LANE_DEPTH: usize = 1;

/// A connection with its place on a lane: the lane is given back when this
/// is dropped.
pub struct LaneConn<'a> {
    conn: Arc<Conn>,
    _lane: Option<LaneSlot<'a>>,
}

impl std::ops::Deref for LaneConn<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

/// A place on one lane, given back when dropped: also when connecting
/// fails before there is a [`LaneConn`] to hold it.
struct LaneSlot<'a> {
    lanes: &'a Lanes,
    lane: usize,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for LaneSlot<'_> {
    fn drop(&mut self) {
        let mut load = self.lanes.load.lock().unwrap_or_else(|p| p.into_inner());
        load[self.lane] = load[self.lane].saturating_sub(1);
    }
}

impl Lanes {
    fn new(lanes: usize) -> Self {
        Self {
            load: Mutex::new(vec![0; lanes.max(1)]),
            free: (lanes > 1).then(|| Arc::new(tokio::sync::Semaphore::new(lanes * LANE_DEPTH))),
        }
    }

    /// Waits for room on a lane and takes the least loaded one.
    async fn take(&self) -> Option<LaneSlot<'_>> {
        let free = self.free.as_ref()?;
        // The semaphore is never closed.
        let permit = Arc::clone(free).acquire_owned().await.ok()?;
        let mut load = self.load.lock().unwrap_or_else(|p| p.into_inner());
        let lane = (0..load.len()).min_by_key(|&i| load[i]).unwrap_or(0);
        load[lane] = load[lane].saturating_add(1);
        Some(LaneSlot {
            lanes: self,
            lane,
            _permit: permit,
        })
    }
}

/// Labels on every series of a target: `--constantLabels`, and `server`
/// (host:port) when `--compat.server-label` asks for postgres_exporter
/// 0.11's shape.
#[derive(Clone, Debug, Default)]
pub struct SeriesLabels {
    pub constant: Vec<(String, String)>,
    pub server: bool,
}

/// The query prefixes that come from postgres_exporter's legacy metric maps,
/// whose families keep the `server` label in today's peer.
const LEGACY_MAPS: &[&str] = &[
    "pg_stat_activity",
    "pg_stat_archiver",
    "pg_stat_database_conflicts",
    "pg_stat_replication",
];

/// How long a discovered database list is reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(30);
/// Client-side margin past a query's server-side timeout, for a server that
/// does not answer at all.
const CLIENT_GRACE: Duration = Duration::from_millis(500);

impl PgContext {
    pub fn new(pool: Arc<Pool>, labels: &SeriesLabels, databases: DatabaseSelection) -> Arc<Self> {
        let constant = labels
            .constant
            .iter()
            .map(|(k, v)| (LabelName::from(k.clone()), v.clone()));
        let server = (LabelName::from("server"), pool.target().server.clone());
        let legacy_labels: Vec<(LabelName, String)> = std::iter::once(server.clone())
            .chain(constant.clone())
            .collect();
        let base_labels: Vec<(LabelName, String)> = if labels.server {
            legacy_labels.clone()
        } else {
            constant.collect()
        };
        // Two connections to the main database let the server run two of a
        // scrape's queries at once. When other databases are visited too,
        // every connection is kept for them instead.
        let lanes = if !databases.auto_discover && pool.settings().max_connections >= 2 {
            2
        } else {
            1
        };
        Arc::new(Self {
            pool,
            base_labels,
            legacy_labels,
            databases,
            discovered: Mutex::new(None),
            lanes: Lanes::new(lanes),
        })
    }

    pub fn main_database(&self) -> &str {
        &self.pool.target().database
    }

    /// The main database's connection.
    pub async fn main(&self, deadline: tokio::time::Instant) -> Result<LaneConn<'_>, CollectError> {
        self.conn(self.main_database(), deadline).await
    }

    /// A connection to `database`. On the main database it comes with a
    /// place on one of its lanes, held until the returned value is dropped.
    pub async fn conn(
        &self,
        database: &str,
        deadline: tokio::time::Instant,
    ) -> Result<LaneConn<'_>, CollectError> {
        let lane = if database == self.main_database() {
            self.lanes.take().await
        } else {
            None
        };
        // Dropped on an error below, the slot gives the lane back.
        let index = lane.as_ref().map_or(0, |slot| slot.lane as u8);
        let conn = self
            .pool
            .get_lane(database, index, deadline)
            .await
            .map_err(|e| match e {
                PgError::FailedThisScrape(_) => CollectError::AlreadyReported(e.to_string()),
                e => CollectError::Target(e.to_string()),
            })?;
        Ok(LaneConn { conn, _lane: lane })
    }

    /// Server-side timeout for one query: what it asks for (or the default),
    /// never more than what is left of the scrape.
    pub fn timeout(&self, wanted: Option<Duration>, deadline: tokio::time::Instant) -> Duration {
        self.pool.statement_timeout(wanted, deadline)
    }

    /// Runs one query with a server-side timeout and a client-side one just
    /// past it.
    pub async fn run(
        &self,
        conn: &Conn,
        sql: &str,
        wanted: Option<Duration>,
        deadline: tokio::time::Instant,
    ) -> Result<Rows, CollectError> {
        let timeout = self.timeout(wanted, deadline);
        match tokio::time::timeout(timeout + CLIENT_GRACE, conn.query(sql, timeout)).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => Err(CollectError::Target(e.to_string())),
            Err(_) => Err(CollectError::Target(format!(
                "no answer within {:?}",
                timeout + CLIENT_GRACE
            ))),
        }
    }

    /// Runs one query like [`PgContext::run`], handing rows to `each` as
    /// they arrive.
    pub async fn run_each(
        &self,
        conn: &Conn,
        sql: &str,
        wanted: Option<Duration>,
        deadline: tokio::time::Instant,
        each: impl FnMut(RowEvent<'_>),
    ) -> Result<(), CollectError> {
        let timeout = self.timeout(wanted, deadline);
        match tokio::time::timeout(timeout + CLIENT_GRACE, conn.query_each(sql, timeout, each))
            .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CollectError::Target(e.to_string())),
            Err(_) => Err(CollectError::Target(format!(
                "no answer within {:?}",
                timeout + CLIENT_GRACE
            ))),
        }
    }

    /// The databases per-database collectors visit.
    pub async fn databases(
        &self,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<String>, CollectError> {
        let sel = &self.databases;
        if !sel.auto_discover {
            return Ok(vec![self.main_database().to_owned()]);
        }
        if let Some((at, list)) = self
            .discovered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(list.clone());
            }
        }
        let conn = self.main(deadline).await?;
        let rows = self
            .run(
                &conn,
                "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname",
                None,
                deadline,
            )
            .await?;
        let list: Vec<String> = rows
            .rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .filter(|d| sel.include.is_empty() || sel.include.contains(d))
            .filter(|d| !sel.exclude.contains(d))
            .collect();
        *self.discovered.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), list.clone()));
        Ok(list)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BuiltinCollector {
    #[serde(default)]
    per_database: bool,
    queries: serde_yaml::Mapping,
}

/// What a collector of one target is built from.
pub struct PgBuild {
    pub ctx: Arc<PgContext>,
    pub stat_statements: stat_statements::StatStatementsOptions,
}

impl PgBuild {
    /// The query collector `name` of `builtin.yaml`.
    fn builtin(&self, name: &'static str) -> Arc<dyn Collector> {
        let (per_database, specs) = builtin().get(name).cloned().unwrap_or_else(|| {
            // A test holds every declared builtin in builtin.yaml.
            tracing::error!(collector = name, "builtin.yaml has no such collector");
            (false, Vec::new())
        });
        Arc::new(QueryCollector::new(
            name,
            Arc::clone(&self.ctx),
            specs,
            per_database,
        ))
    }
}

/// The built-in query collectors: name → (per database, queries), parsed once.
pub fn builtin() -> &'static HashMap<String, (bool, Vec<QuerySpec>)> {
    static PARSED: std::sync::OnceLock<HashMap<String, (bool, Vec<QuerySpec>)>> =
        std::sync::OnceLock::new();
    PARSED.get_or_init(parse_builtin)
}

/// The built-in queries as shipped (what `--dumpmaps` prints).
pub const BUILTIN_YAML: &str = include_str!("builtin.yaml");

fn parse_builtin() -> HashMap<String, (bool, Vec<QuerySpec>)> {
    let raw: HashMap<String, BuiltinCollector> = match serde_yaml::from_str(BUILTIN_YAML) {
        Ok(raw) => raw,
        Err(e) => {
            // A test holds builtin.yaml valid; never reached in a build that passed it.
            tracing::error!(error = %e, "builtin.yaml is invalid");
            return HashMap::new();
        }
    };
    raw.into_iter()
        .filter_map(|(name, c)| {
            let text = serde_yaml::to_string(&c.queries).ok()?;
            match queries::parse("builtin.yaml", &text) {
                Ok(specs) => Some((name, (c.per_database, specs))),
                Err(e) => {
                    tracing::error!(collector = %name, error = %e, "builtin query is invalid");
                    None
                }
            }
        })
        .collect()
}

/// Runs queries in the queries.yaml format, in the main database or in
/// every selected one.
pub struct QueryCollector {
    name: &'static str,
    ctx: Arc<PgContext>,
    specs: Vec<QuerySpec>,
    /// Per spec: does it carry the legacy maps' labels (`server`)?
    legacy: Vec<bool>,
    per_database: bool,
    cache: Mutex<HashMap<CacheKey, (Instant, Vec<Family>)>>,
}

/// (query index, database)
type CacheKey = (usize, String);

impl QueryCollector {
    pub fn new(
        name: &'static str,
        ctx: Arc<PgContext>,
        specs: Vec<QuerySpec>,
        per_database: bool,
    ) -> Self {
        // Custom queries and the legacy maps' prefixes keep `server`.
        let builtin = ALL.iter().any(|d| d.spec.name == name);
        let legacy = specs
            .iter()
            .map(|s| !builtin || LEGACY_MAPS.contains(&s.id.as_str()))
            .collect();
        Self {
            name,
            ctx,
            specs,
            legacy,
            per_database,
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn collect_database(
        &self,
        database: &str,
        out: &mut FamilySet,
        scrape: &sidewatch_common::ScrapeContext,
    ) -> Result<(), CollectError> {
        let deadline = scrape.deadline();
        let conn = self.ctx.conn(database, deadline).await?;
        let datname = self.per_database.then_some(database);
        for (i, spec) in self.specs.iter().enumerate() {
            if !spec.versions.matches(conn.server_version) {
                continue;
            }
            let key = (i, database.to_owned());
            if !spec.cache.is_zero() {
                let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((at, families)) = cache.get(&key) {
                    if at.elapsed() < spec.cache {
                        out.extend(families.clone());
                        continue;
                    }
                }
            }
            let mut set = FamilySet::default();
            // Rows are turned into series as they arrive and only counted
            // once the limit is reached: memory follows the limit.
            let limit = scrape.series_limit();
            let labels = if self.legacy[i] {
                &self.ctx.legacy_labels
            } else {
                &self.ctx.base_labels
            };
            let mut sink = queries::RowSink::new(spec, labels, datname, &mut set, limit);
            self.ctx
                .run_each(
                    &conn,
                    &spec.query,
                    spec.timeout,
                    deadline,
                    |event| match event {
                        RowEvent::Columns(columns) => sink.columns(columns),
                        RowEvent::Row(row) => sink.row(row),
                    },
                )
                .await
                .map_err(|e| CollectError::Target(format!("query {}: {e}", spec.id)))?;
            let dropped = sink.dropped();
            if dropped > 0 {
                tracing::warn!(
                    query = %spec.id,
                    database,
                    dropped,
                    max_series = spec.max_series,
                    series_limit = limit,
                    "query exceeded its max_series or the series limit; series dropped"
                );
                scrape.report_dropped(dropped);
            }
            let families = set.into_families();
            if !spec.cache.is_zero() {
                self.cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, (Instant::now(), families.clone()));
            }
            out.extend(families);
        }
        Ok(())
    }
}

impl Collector for QueryCollector {
    fn name(&self) -> &'static str {
        self.name
    }

    fn collect<'a>(&'a self, scrape: &'a sidewatch_common::ScrapeContext) -> CollectFuture<'a> {
        Box::pin(async move {
            let databases = if self.per_database {
                self.ctx.databases(scrape.deadline()).await?
            } else {
                vec![self.ctx.main_database().to_owned()]
            };
            // Databases are visited concurrently, as many at a time as the
            // pool has connections.
            let lanes = self.ctx.pool.settings().max_connections.max(1);
            let results: Vec<(String, Result<FamilySet, CollectError>)> =
                futures::stream::iter(databases.iter().cloned())
                    .map(|db| async move {
                        let mut set = FamilySet::default();
                        let r = self
                            .collect_database(&db, &mut set, scrape)
                            .await
                            .map(|()| set);
                        (db, r)
                    })
                    .buffered(lanes)
                    .collect()
                    .await;
            let mut out = FamilySet::default();
            let mut failures = Vec::new();
            let mut all_reported = true;
            for (db, r) in results {
                match r {
                    Ok(set) => out.extend(set.into_families()),
                    Err(e) => {
                        all_reported &= matches!(e, CollectError::AlreadyReported(_));
                        failures.push(format!("database {db:?}: {e}"));
                    }
                }
            }
            // A database that fails (no CONNECT right, dropped mid-scrape) costs
            // only its own series; the collector fails when nothing answered.
            if !failures.is_empty() && failures.len() == databases.len() {
                let message = failures.join("; ");
                return Err(if all_reported {
                    CollectError::AlreadyReported(message)
                } else {
                    CollectError::Target(message)
                });
            }
            for f in failures {
                tracing::warn!(collector = self.name, error = %f, "database skipped");
            }
            Ok(out.into_families())
        })
    }
}

/// `pg_static{server,short_version,version}`: always on, as in the peer.
pub struct StaticCollector {
    pub ctx: Arc<PgContext>,
}

impl Collector for StaticCollector {
    fn name(&self) -> &'static str {
        "static"
    }

    fn collect<'a>(&'a self, scrape: &'a sidewatch_common::ScrapeContext) -> CollectFuture<'a> {
        Box::pin(async move {
            let conn = self.ctx.main(scrape.deadline()).await?;
            let v = conn.server_version;
            let short = if v >= 100_000 {
                format!("{}.{}.0", v / 10_000, v % 10_000)
            } else {
                format!("{}.{}.{}", v / 10_000, v / 100 % 100, v % 100)
            };
            let mut labels = self.ctx.legacy_labels.clone();
            labels.push(("short_version".into(), short));
            labels.push(("version".into(), conn.version_string.clone()));
            let mut f = Family::untyped("pg_static", "Version string as reported by postgres");
            f.add_owned(labels, 1.0);
            Ok(vec![f])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[tokio::test(flavor = "current_thread")]
    async fn a_query_takes_the_free_lane_and_waits_when_none_is() {
        let lanes = Lanes::new(2);
        let first = lanes.take().await.expect("a lane");
        let second = lanes.take().await.expect("a lane");
        assert_eq!((first.lane, second.lane), (0, 1));
        // Both lanes busy: the third waits, and gets the lane given back.
        let mut third = std::pin::pin!(lanes.take());
        assert!(third.as_mut().now_or_never().is_none());
        drop(second);
        match third.as_mut().now_or_never() {
            Some(Some(slot)) => assert_eq!(slot.lane, 1),
            _ => panic!("the freed lane was not taken"),
        }
        drop(first);
        // Places taken and given back, as when connecting fails, leave
        // nothing behind (a count kept on a failure once overflowed).
        for _ in 0..1000 {
            let slot = lanes.take().await.expect("a lane");
            drop(slot);
        }
        assert_eq!(*lanes.load.lock().expect("lane counts"), vec![0, 0]);
        // One lane: no gate, everything pipelines on the one connection.
        assert!(Lanes::new(1).take().await.is_none());
    }

    #[test]
    fn builtin_queries_are_valid_and_named_like_specs() {
        let b = builtin();
        let text = include_str!("builtin.yaml");
        let raw: HashMap<String, serde_yaml::Value> =
            serde_yaml::from_str(text).expect("builtin.yaml parses");
        assert_eq!(b.len(), raw.len(), "every builtin collector parses");
        for name in b.keys() {
            assert!(
                ALL.iter().any(|d| d.spec.name == name),
                "{name} has no --collector flag"
            );
        }
    }
}
