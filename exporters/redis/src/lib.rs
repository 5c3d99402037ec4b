//! sidewatch-redis: Redis under redis_exporter's metric names, over one
//! long-lived connection, with key and stream checks that stay bounded.
//!
//! Metric families (`redis` is `--namespace`):
//! - info: every INFO field redis_exporter maps (`redis_memory_used_bytes`,
//!   `redis_connected_clients`, `redis_commands_processed_total`, ...; see
//!   [`collectors::info::FIELDS`]), `redis_instance_info{role,redis_version,...}`,
//!   `redis_start_time_seconds`, `redis_latest_fork_seconds`,
//!   keyspace `redis_db_keys{db}`, `redis_db_keys_expiring{db}`, `redis_db_avg_ttl_seconds{db}`,
//!   commandstats `redis_commands_total{cmd}`, `redis_commands_duration_seconds_total{cmd}`,
//!   `redis_commands_{rejected,failed}_calls_total{cmd}`, errorstats `redis_errors_total{err}`,
//!   latencystats `redis_latency_percentiles_usec{cmd,quantile}` (+ `_sum`, `_count`),
//!   replication `redis_connected_slave_{offset_bytes,lag_seconds}{slave_ip,slave_port,slave_state}`,
//!   `redis_master_link_up{master_host,master_port}`, `redis_master_last_io_seconds_ago`,
//!   `redis_master_sync_in_progress`, `redis_slave_repl_offset`, `redis_slave_info`,
//!   `redis_config_{maxmemory,maxclients,io_threads}`, `redis_slowlog_length`,
//!   `redis_slowlog_last_id`, `redis_last_slow_execution_duration_seconds`,
//!   `redis_latency_spike_{last,duration_seconds}{event_name}`, `redis_cluster_*` (cluster mode),
//!   `redis_exporter_last_scrape_connect_time_seconds`
//! - keys: `redis_key_size{db,key}`, `redis_key_value{db,key}`, `redis_keys_count{db,key}`
//! - streams: `redis_stream_{length,radix_tree_keys,radix_tree_nodes,last_generated_id,groups}{db,stream}`,
//!   `redis_stream_group_{consumers,messages_pending,last_delivered_id,entries_read,lag}{db,stream,group}`,
//!   `redis_stream_group_consumer_{messages_pending,idle_seconds}{db,stream,group,consumer}`
//! - keys and streams: `redis_key_checks_truncated_total{check,db,pattern}`,
//!   `redis_key_check_unexpected_type{check,db,key,type}`
//!
//! and always: `redis_up`, `redis_exporter_scrapes_total`,
//! `redis_exporter_last_scrape_duration_seconds`, `redis_exporter_last_scrape_error{err}`,
//! `redis_exporter_scrape_duration_seconds_{sum,count}`,
//! `redis_scrape_collector_{duration_seconds,success}{collector}`,
//! `redis_scrape_collector_dropped_series_total{collector}`, `sidewatch_build_info`, `process_*`.
#![forbid(unsafe_code)]

pub mod collectors;
pub mod config;
pub mod info;

pub use sidewatch_redis_client::{client, resp, target};

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use sidewatch_common::http::{ProbeRoute, StatusCode};
use sidewatch_common::multitarget::{MultiTarget, TargetEngine, Targets};
use sidewatch_common::probe::{ProbeEndpoint, TargetPolicy};
use sidewatch_common::{
    Collector, ExporterInfo, PeerSelfMetrics, ScrapeEngine, ScrapeSettings, TargetProbe,
};

use crate::client::{Client, ClientSettings};
use crate::collectors::info::{InfoCollector, InfoOptions};
use crate::collectors::keys::{KeysCollector, Truncations};
use crate::collectors::streams::StreamsCollector;
use crate::config::{lookup_password, Checks, RedisConfig};
use crate::target::{Endpoint, Secret, Target};

/// The exporter's identity under `namespace`.
pub fn info(namespace: &'static str) -> ExporterInfo {
    ExporterInfo {
        namespace,
        exporter: "redis",
        version: env!("CARGO_PKG_VERSION"),
        peer_self_metrics: Some(PeerSelfMetrics {
            error_label: Some("err"),
            duration_summary: true,
        }),
    }
}

/// The collectors for one target.
pub fn build_collectors(
    client: &Arc<Client>,
    ns: &'static str,
    checks: &Checks,
) -> Vec<Arc<dyn Collector>> {
    let mut out: Vec<Arc<dyn Collector>> = vec![Arc::new(InfoCollector {
        client: Arc::clone(client),
        namespace: ns,
        config_command: checks.config_command.clone(),
        options: InfoOptions {
            system_metrics: checks.system_metrics,
            latency_histograms: checks.latency_histograms,
            empty_databases: checks.empty_databases,
        },
    })];
    if !(checks.check_keys.is_empty()
        && checks.single_keys.is_empty()
        && checks.count_keys.is_empty())
    {
        let mut keys = KeysCollector::new(
            Arc::clone(client),
            ns,
            checks.check_keys.clone(),
            checks.single_keys.clone(),
            checks.count_keys.clone(),
            checks.budget.clone(),
        );
        keys.export_values = checks.export_key_values;
        keys.skip_on_master = checks.skip_keys_on_master;
        out.push(Arc::new(keys));
    }
    if !(checks.check_streams.is_empty() && checks.single_streams.is_empty()) {
        out.push(Arc::new(StreamsCollector {
            client: Arc::clone(client),
            namespace: ns,
            check_streams: checks.check_streams.clone(),
            single_streams: checks.single_streams.clone(),
            budget: checks.budget.clone(),
            exclude_consumers: checks.exclude_consumers,
            truncated: Truncations::default(),
        }));
    }
    out
}

/// `redis_up`: the server answers PING over the connection.
pub struct RedisProbe(pub Arc<Client>);

impl TargetProbe for RedisProbe {
    fn probe(&self, deadline: tokio::time::Instant) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            match self.0.ping(deadline).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(addr = %self.0.target().display(), error = %e, "target does not answer");
                    false
                }
            }
        })
    }
}

/// One target's engine and its client.
pub fn build_engine_for(
    target: Target,
    client: ClientSettings,
    scrape: ScrapeSettings,
    ns: &'static str,
    checks: &Checks,
) -> (Arc<ScrapeEngine>, Arc<Client>) {
    let client = Client::new(target, client);
    let engine = ScrapeEngine::new(
        info(ns),
        scrape,
        build_collectors(&client, ns, checks),
        Some(Arc::new(RedisProbe(Arc::clone(&client)))),
    );
    (engine, client)
}

/// `/scrape?target=...`: another server, same collectors, over one
/// connection closed afterwards. Passwords come from --redis.password-file.
pub struct ScrapeHandler {
    pub namespace: &'static str,
    pub checks: Checks,
    pub client: ClientSettings,
    pub scrape: ScrapeSettings,
    pub password_map: HashMap<String, Secret>,
    pub user: Option<String>,
    pub policy: TargetPolicy,
}

impl ScrapeHandler {
    fn target(&self, params: &HashMap<String, String>) -> Result<Target, (StatusCode, String)> {
        let raw = params
            .get("target")
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                (
                    StatusCode::BAD_REQUEST,
                    "target parameter is missing".to_owned(),
                )
            })?;
        let mut t = Target::parse(raw).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
        let endpoint = match &t.endpoint {
            Endpoint::Tcp { host, port, .. } => ProbeEndpoint::Tcp { host, port: *port },
            Endpoint::Unix { path } => ProbeEndpoint::Unix {
                path: std::path::Path::new(path),
            },
        };
        self.policy
            .check(endpoint)
            .map_err(|m| (StatusCode::FORBIDDEN, m))?;
        if t.password.is_none() {
            t.password = lookup_password(&self.password_map, raw, &t);
        }
        if t.user.is_none() {
            t.user.clone_from(&self.user);
        }
        Ok(t)
    }
}

impl MultiTarget for ScrapeHandler {
    type Target = Target;

    fn path(&self) -> &'static str {
        "/scrape"
    }

    fn target(
        &self,
        params: &HashMap<String, String>,
    ) -> Result<(String, Target), (StatusCode, String)> {
        let target = self.target(params)?;
        // The password comes from the address or the password file, both
        // fixed by the address: the address alone tells targets apart.
        let key = params.get("target").cloned().unwrap_or_default();
        Ok((key, target))
    }

    fn engine(&self, target: Target) -> TargetEngine {
        let client = Client::new(target, self.client.clone());
        let engine = ScrapeEngine::for_target(
            info(self.namespace),
            self.scrape.clone(),
            build_collectors(&client, self.namespace, &self.checks),
            Some(Arc::new(RedisProbe(Arc::clone(&client)))),
        );
        // Each /scrape's connection holds a --redis.max-connections slot:
        // closed after the request, not kept for the next.
        TargetEngine {
            engine,
            release: Some(Box::new(move || {
                let client = Arc::clone(&client);
                Box::pin(async move { client.close().await })
            })),
        }
    }
}

/// The main target's engine and its client.
pub type Watched = (Arc<ScrapeEngine>, Arc<Client>);

/// The main engine (when --redis.addr is set) and the /scrape route.
pub fn build(config: &RedisConfig) -> (Option<Watched>, ProbeRoute) {
    let scrape = config.cli.common.scrape.settings();
    let main = config.target.clone().map(|target| {
        build_engine_for(
            target,
            config.client.clone(),
            scrape.clone(),
            config.namespace,
            &config.checks,
        )
    });
    let route = ProbeRoute(Arc::new(Targets::new(ScrapeHandler {
        namespace: config.namespace,
        checks: config.checks.clone(),
        client: config.client.clone(),
        scrape,
        password_map: config.password_map.clone(),
        user: config.cli.user.clone(),
        policy: config.probe_policy.clone(),
    })));
    (main, route)
}

impl sidewatch_common::exporter::Exporter for RedisConfig {
    const NAME: &'static str = "sidewatch-redis";
    const DEFAULT_LISTEN: &'static str = ":9121";
    const LISTEN_ENV: &'static str = "REDIS_EXPORTER_WEB_LISTEN_ADDRESS";

    fn from_env() -> Result<Self, sidewatch_common::cli::StartError> {
        RedisConfig::from_args(std::env::args_os())
    }

    fn common(&self) -> &sidewatch_common::cli::CommonArgs {
        &self.cli.common
    }

    fn describe(&self) -> String {
        format!(
            "target {}",
            self.target
                .as_ref()
                .map(|t| t.display())
                .unwrap_or_else(|| "none (only /scrape)".to_owned())
        )
    }

    fn logging(
        &self,
    ) -> (
        sidewatch_common::logging::LogLevel,
        sidewatch_common::logging::LogFormat,
    ) {
        (self.log_level, self.log_format)
    }

    fn build(self) -> (Arc<ScrapeEngine>, sidewatch_common::http::HttpOptions) {
        let (main, route) = build(&self);
        let engine = match main {
            Some((engine, client)) => {
                tracing::info!(addr = %client.target().display(), "watching");
                engine
            }
            None => {
                tracing::warn!("--redis.addr is empty: only /scrape?target= scrapes a server");
                sidewatch_common::exporter::empty_engine(info(self.namespace), &self.cli.common)
            }
        };
        let mut options = self.http;
        if !self.cli.disable_scrape_endpoint {
            options.probe = Some(route);
        }
        (engine, options)
    }
}
