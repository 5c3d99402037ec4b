//! sidewatch-postgres: PostgreSQL under postgres_exporter's metric names, plus
//! vector indexes, custom SQL that fails alone, and every database.
//!
//! Metric families (collector → families; every series carries `server` and
//! the `--constantLabels`):
//! - database: `pg_database_size_bytes{datname}`, `pg_database_connection_limit{datname}`
//! - locks: `pg_locks_count{datname,mode}`
//! - replication: `pg_replication_lag_seconds`, `pg_replication_is_replica`,
//!   `pg_replication_last_replay_seconds`
//! - replication_slot: `pg_replication_slots_{active,pg_wal_lsn_diff}{slot_name,database}`,
//!   `pg_replication_slot_{slot_current_wal_lsn,slot_confirmed_flush_lsn,slot_is_active,safe_wal_size_bytes}{slot_name,slot_type}`
//! - settings: `pg_settings_<name>[_seconds|_bytes]`
//! - stat_activity: `pg_stat_activity_{count,max_tx_duration}{datname,state}`
//! - stat_archiver: `pg_stat_archiver_{archived_count,failed_count,last_archive_age}`
//! - stat_bgwriter: `pg_stat_bgwriter_*_total`; on 17+ also `pg_stat_checkpointer_*_total`
//! - stat_database: `pg_stat_database_<column>{datid,datname}`,
//!   `pg_stat_database_conflicts_confl_*{datid,datname}`
//! - stat_progress_vacuum: `pg_stat_progress_vacuum_*{datname,relname}`
//! - stat_replication: `pg_stat_replication_{pg_current_wal_lsn_bytes,pg_wal_lsn_diff,reply_time}{application_name,client_addr,state,sync_state,slot_name}`
//! - stat_user_tables: `pg_stat_user_tables_*{datname,schemaname,relname}`
//! - statio_user_tables: `pg_statio_user_tables_*{datname,schemaname,relname}`
//! - vector: `pg_vector_*`, `pg_ruvector_*` (see [`collectors::vector`])
//! - wal: `pg_wal_segments`, `pg_wal_size_bytes`
//! - off by default: database_wraparound, long_running_transactions, postmaster,
//!   stat_activity_autovacuum, stat_statements, stat_wal_receiver, statio_user_indexes
//! - custom queries (`--extend.query-path`): `<prefix>_<column>`, one collector per query
//!
//! and always: `pg_up`, `pg_static{short_version,version}`,
//! `pg_scrape_collector_{duration_seconds,success}{collector}`,
//! `pg_scrape_collector_dropped_series_total{collector}`, `sidewatch_build_info`, `process_*`.
#![forbid(unsafe_code)]

pub mod collectors;
pub mod config;
pub mod queries;

pub use sidewatch_postgres_client::{dsn, pool};

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use sidewatch_common::http::{ProbeRoute, StatusCode};
use sidewatch_common::multitarget::{MultiTarget, TargetEngine, Targets};
use sidewatch_common::{Collector, ExporterInfo, ScrapeEngine, ScrapeSettings, TargetProbe};

use crate::collectors::stat_statements::StatStatementsOptions;
use crate::collectors::{
    DatabaseSelection, PgBuild, PgContext, QueryCollector, SeriesLabels, StaticCollector,
};
use crate::config::{AuthModule, PgConfig};
use crate::dsn::Target;
use crate::pool::{ConnectionBudget, Pool, PoolSettings};
use crate::queries::QuerySpec;
use sidewatch_common::probe::{ProbeEndpoint, TargetPolicy};
use tokio_postgres::config::Host;

pub const INFO: ExporterInfo = ExporterInfo {
    namespace: "pg",
    exporter: "postgres",
    version: env!("CARGO_PKG_VERSION"),
    peer_self_metrics: Some(sidewatch_common::PeerSelfMetrics {
        error_label: None,
        duration_summary: false,
    }),
};

/// What the collectors of one target are built from.
#[derive(Clone)]
pub struct CollectorPlan {
    pub collectors: Vec<&'static str>,
    pub custom_queries: Vec<QuerySpec>,
    pub stat_statements: StatStatementsOptions,
}

/// Builds the enabled collectors for one target.
pub fn build_collectors(ctx: &Arc<PgContext>, plan: &CollectorPlan) -> Vec<Arc<dyn Collector>> {
    let mut out: Vec<Arc<dyn Collector>> = vec![Arc::new(StaticCollector {
        ctx: Arc::clone(ctx),
    })];
    let build = PgBuild {
        ctx: Arc::clone(ctx),
        stat_statements: plan.stat_statements.clone(),
    };
    out.extend(sidewatch_common::collector::build_enabled(
        collectors::ALL,
        &plan.collectors,
        &build,
    ));
    for spec in &plan.custom_queries {
        // The peer runs queries not marked master in every database when it
        // discovers databases; `all_databases` asks for it explicitly.
        let per_database = spec.all_databases || (ctx.databases.auto_discover && !spec.master);
        // Collector names live as long as the process; interned, so a
        // /probe that builds collectors per request allocates none.
        let name = sidewatch_common::collector::intern(&spec.id);
        out.push(Arc::new(QueryCollector::new(
            name,
            Arc::clone(ctx),
            vec![spec.clone()],
            per_database,
        )));
    }
    out
}

/// `pg_up`: the main database answers `SELECT 1`.
pub struct PgProbe(pub Arc<PgContext>);

impl TargetProbe for PgProbe {
    fn probe(&self, deadline: tokio::time::Instant) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            match self.0.pool.ping(deadline).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(server = %self.0.pool.target().server, error = %e, "target does not answer");
                    false
                }
            }
        })
    }
}

impl PgConfig {
    pub fn plan(&self) -> CollectorPlan {
        CollectorPlan {
            collectors: self.collectors.clone(),
            custom_queries: self.custom_queries.clone(),
            stat_statements: self.stat_statements.clone(),
        }
    }
}

/// One target's engine and its pool, whose connections count against `budget`.
pub fn build_engine_for(
    target: Target,
    pool_settings: PoolSettings,
    budget: &Arc<ConnectionBudget>,
    scrape: ScrapeSettings,
    labels: &SeriesLabels,
    databases: DatabaseSelection,
    plan: &CollectorPlan,
) -> (Arc<ScrapeEngine>, Arc<Pool>) {
    let pool = Pool::with_budget(target, pool_settings, budget);
    let ctx = PgContext::new(Arc::clone(&pool), labels, databases);
    let engine = ScrapeEngine::new(
        INFO,
        scrape,
        build_collectors(&ctx, plan),
        Some(Arc::new(PgProbe(Arc::clone(&ctx)))),
    );
    (engine, pool)
}

/// `/probe?target=...&auth_module=...`: scrapes another server with the same
/// collectors, over one connection that is closed afterwards. Its connection
/// counts against the main target's `--pg.max-connections` budget, and its
/// hosts must pass `--web.probe.allowed-targets`.
pub struct PgProbeHandler {
    pub plan: CollectorPlan,
    pub auth_modules: HashMap<String, AuthModule>,
    pub pool: PoolSettings,
    pub budget: Arc<ConnectionBudget>,
    pub policy: TargetPolicy,
    pub scrape: ScrapeSettings,
    pub labels: SeriesLabels,
}

impl PgProbeHandler {
    fn target(&self, params: &HashMap<String, String>) -> Result<Target, (StatusCode, String)> {
        let bad = |m: String| (StatusCode::BAD_REQUEST, m);
        let raw = params
            .get("target")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("target parameter is missing".to_owned()))?;
        let module = match params.get("auth_module").filter(|m| !m.is_empty()) {
            Some(name) => Some(
                self.auth_modules
                    .get(name)
                    .ok_or_else(|| bad(format!("auth_module {name:?} is not configured")))?,
            ),
            None => None,
        };
        // A request must not make the exporter read local files: TLS
        // certificates and keys come from an auth module's options only.
        if let Some(k) = ["sslrootcert", "sslcert", "sslkey"]
            .iter()
            .find(|k| raw.contains(*k))
        {
            return Err(bad(format!(
                "{k} in the target is not allowed; give it in the auth module's options"
            )));
        }
        let mut uri = if raw.contains("://") || raw.contains('=') {
            raw.clone()
        } else {
            format!("postgresql://{raw}")
        };
        if let Some(m) = module {
            if !m.options.is_empty() && uri.contains("://") {
                let mut opts: Vec<String> = m
                    .options
                    .iter()
                    .map(|(k, v)| format!("{}={}", uri_escape(k), uri_escape(v)))
                    .collect();
                opts.sort();
                uri.push(if uri.contains('?') { '&' } else { '?' });
                uri.push_str(&opts.join("&"));
            }
        }
        let (user, pass) = match module.and_then(|m| m.userpass.as_ref()) {
            Some(up) => (Some(up.username.clone()), Some(up.password.clone())),
            None => (None, None),
        };
        let target = dsn::parse("target", &uri, user, pass).map_err(|e| bad(e.to_string()))?;
        allowed(&self.policy, &target.config).map_err(|m| (StatusCode::FORBIDDEN, m))?;
        Ok(target)
    }
}

/// What would end or change a URI query value.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b'&')
    .add(b'=')
    .add(b'#')
    .add(b'+')
    .add(b'?');

fn uri_escape(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// Every host, host address and port a connection config may use must pass
/// the policy: libpq-style configs can list several, and `hostaddr` would
/// otherwise reach an address other than the host named.
fn allowed(policy: &TargetPolicy, config: &tokio_postgres::Config) -> Result<(), String> {
    let ports: Vec<u16> = match config.get_ports() {
        [] => vec![5432],
        p => p.to_vec(),
    };
    for host in config.get_hosts() {
        for &port in &ports {
            match host {
                Host::Tcp(h) => policy.check(ProbeEndpoint::Tcp { host: h, port })?,
                Host::Unix(path) => policy.check(ProbeEndpoint::Unix { path })?,
            }
        }
    }
    for addr in config.get_hostaddrs() {
        let text = addr.to_string();
        for &port in &ports {
            policy.check(ProbeEndpoint::Tcp { host: &text, port })?;
        }
    }
    Ok(())
}

impl MultiTarget for PgProbeHandler {
    type Target = Target;

    fn path(&self) -> &'static str {
        "/probe"
    }

    fn target(
        &self,
        params: &HashMap<String, String>,
    ) -> Result<(String, Target), (StatusCode, String)> {
        let target = self.target(params)?;
        // The auth module is part of the key: the same server with other
        // credentials is another target.
        let key = format!(
            "{}\u{0}{}",
            params.get("target").map(String::as_str).unwrap_or_default(),
            params
                .get("auth_module")
                .map(String::as_str)
                .unwrap_or_default()
        );
        Ok((key, target))
    }

    fn engine(&self, target: Target) -> TargetEngine {
        let pool = Pool::with_budget(
            target,
            PoolSettings {
                max_connections: 1,
                ..self.pool.clone()
            },
            &self.budget,
        );
        let ctx = PgContext::new(
            Arc::clone(&pool),
            &self.labels,
            DatabaseSelection::default(),
        );
        let engine = ScrapeEngine::for_target(
            INFO,
            self.scrape.clone(),
            build_collectors(&ctx, &self.plan),
            Some(Arc::new(PgProbe(Arc::clone(&ctx)))),
        );
        // The caller named this server; its connection is not kept open
        // between requests.
        TargetEngine {
            engine,
            release: Some(Box::new(move || {
                pool.close_idle();
                Box::pin(async {})
            })),
        }
    }
}

/// The main target's engine and its pool.
pub type Watched = (Arc<ScrapeEngine>, Arc<Pool>);

/// The main engine (when a data source is set) and the /probe route.
pub fn build(config: &PgConfig) -> (Option<Watched>, ProbeRoute) {
    let plan = config.plan();
    // One budget for the main target and every /probe.
    let budget = ConnectionBudget::new(config.pool.max_connections);
    let main = config.target.clone().map(|target| {
        build_engine_for(
            target,
            config.pool.clone(),
            &budget,
            config.cli.common.scrape.settings(),
            &config.labels,
            config.databases.clone(),
            &plan,
        )
    });
    let probe = ProbeRoute(Arc::new(Targets::new(PgProbeHandler {
        plan,
        auth_modules: config.auth_modules.clone(),
        pool: config.pool.clone(),
        budget,
        policy: config.probe_policy.clone(),
        scrape: config.cli.common.scrape.settings(),
        labels: config.labels.clone(),
    })));
    (main, probe)
}

impl sidewatch_common::exporter::Exporter for PgConfig {
    const NAME: &'static str = "sidewatch-postgres";
    /// A scrape's samples leave ~0.6 MiB of free pages in the heap; given
    /// back after each scrape (docs/benchmarks.md, "Issue 17, ninth round").
    const TRIM_HEAP: bool = true;
    const DEFAULT_LISTEN: &'static str = ":9187";

    fn from_env() -> Result<Self, sidewatch_common::cli::StartError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        PgConfig::from_args(std::env::args_os(), &env)
    }

    fn common(&self) -> &sidewatch_common::cli::CommonArgs {
        &self.cli.common
    }

    fn describe(&self) -> String {
        format!(
            "{} collectors, {} custom queries",
            self.collectors.len(),
            self.custom_queries.len()
        )
    }

    fn build(self) -> (Arc<ScrapeEngine>, sidewatch_common::http::HttpOptions) {
        let (main, probe) = build(&self);
        let engine = match (main, &self.target) {
            (Some((engine, _pool)), Some(t)) => {
                tracing::info!(server = %t.server, database = %t.database, "watching");
                engine
            }
            _ => {
                tracing::warn!(
                    "no DATA_SOURCE_NAME or DATA_SOURCE_URI: only /probe scrapes a server"
                );
                sidewatch_common::exporter::empty_engine(INFO, &self.cli.common)
            }
        };
        let mut options = self.http;
        options.probe = Some(probe);
        (engine, options)
    }
}
