//! The `info` collector: INFO ALL plus the few CONFIG, SLOWLOG and LATENCY
//! answers redis_exporter adds, sent as one pipelined round trip, mapped to
//! redis_exporter's family names, types and labels.

use std::sync::Arc;

use sidewatch_common::metrics::FamilySet;
use sidewatch_common::{CollectError, CollectFuture, Collector, Family, MetricKind};

use crate::client::{Client, ClientError};
use crate::info::{kv_get, kv_list, parse_number, Info};
use crate::resp::Value;

use MetricKind::{Counter as C, Gauge as G};

/// INFO field → (family without namespace, type). The names and types are
/// redis_exporter's; fields not listed are not exported.
pub const FIELDS: &[(&str, &str, MetricKind)] = &[
    // Server
    ("uptime_in_seconds", "uptime_in_seconds", G),
    ("process_id", "process_id", G),
    ("io_threads_active", "io_threads_active", G),
    // Clients
    ("connected_clients", "connected_clients", G),
    ("blocked_clients", "blocked_clients", G),
    ("tracking_clients", "tracking_clients", G),
    ("clients_in_timeout_table", "clients_in_timeout_table", G),
    ("cluster_connections", "cluster_connections", G),
    (
        "client_longest_output_list",
        "client_longest_output_list",
        G,
    ),
    ("client_biggest_input_buf", "client_biggest_input_buf", G),
    (
        "client_recent_max_output_buffer",
        "client_recent_max_output_buffer_bytes",
        G,
    ),
    (
        "client_recent_max_input_buffer",
        "client_recent_max_input_buffer_bytes",
        G,
    ),
    // Memory
    ("allocator_active", "allocator_active_bytes", G),
    ("allocator_allocated", "allocator_allocated_bytes", G),
    ("allocator_resident", "allocator_resident_bytes", G),
    ("allocator_frag_ratio", "allocator_frag_ratio", G),
    ("allocator_frag_bytes", "allocator_frag_bytes", G),
    ("allocator_rss_ratio", "allocator_rss_ratio", G),
    ("allocator_rss_bytes", "allocator_rss_bytes", G),
    ("used_memory", "memory_used_bytes", G),
    ("used_memory_rss", "memory_used_rss_bytes", G),
    ("used_memory_peak", "memory_used_peak_bytes", G),
    ("used_memory_lua", "memory_used_lua_bytes", G),
    ("used_memory_vm_eval", "memory_used_vm_eval_bytes", G),
    (
        "used_memory_scripts_eval",
        "memory_used_scripts_eval_bytes",
        G,
    ),
    ("used_memory_overhead", "memory_used_overhead_bytes", G),
    ("used_memory_startup", "memory_used_startup_bytes", G),
    ("used_memory_dataset", "memory_used_dataset_bytes", G),
    ("used_memory_scripts", "memory_used_scripts_bytes", G),
    ("used_memory_functions", "memory_used_functions_bytes", G),
    (
        "used_memory_vm_functions",
        "memory_used_vm_functions_bytes",
        G,
    ),
    ("used_memory_vm_total", "memory_used_vm_total", G),
    ("number_of_cached_scripts", "number_of_cached_scripts", G),
    ("number_of_functions", "number_of_functions", G),
    ("number_of_libraries", "number_of_libraries", G),
    ("maxmemory", "memory_max_bytes", G),
    ("maxmemory_reservation", "memory_max_reservation_bytes", G),
    (
        "maxmemory_desired_reservation",
        "memory_max_reservation_desired_bytes",
        G,
    ),
    (
        "maxfragmentationmemory_reservation",
        "memory_max_fragmentation_reservation_bytes",
        G,
    ),
    (
        "maxfragmentationmemory_desired_reservation",
        "memory_max_fragmentation_reservation_desired_bytes",
        G,
    ),
    ("mem_fragmentation_ratio", "mem_fragmentation_ratio", G),
    ("mem_fragmentation_bytes", "mem_fragmentation_bytes", G),
    ("mem_clients_slaves", "mem_clients_slaves", G),
    ("mem_clients_normal", "mem_clients_normal", G),
    (
        "mem_not_counted_for_evict",
        "mem_not_counted_for_eviction_bytes",
        G,
    ),
    (
        "mem_total_replication_buffers",
        "mem_total_replication_buffers_bytes",
        G,
    ),
    ("expired_stale_perc", "expired_stale_percentage", G),
    ("lazyfree_pending_objects", "lazyfree_pending_objects", G),
    ("active_defrag_running", "active_defrag_running", G),
    // Persistence
    ("loading", "loading_dump_file", G),
    ("async_loading", "async_loading", G),
    (
        "rdb_changes_since_last_save",
        "rdb_changes_since_last_save",
        G,
    ),
    ("rdb_bgsave_in_progress", "rdb_bgsave_in_progress", G),
    ("rdb_last_save_time", "rdb_last_save_timestamp_seconds", G),
    ("rdb_last_bgsave_status", "rdb_last_bgsave_status", G),
    (
        "rdb_last_bgsave_time_sec",
        "rdb_last_bgsave_duration_sec",
        G,
    ),
    (
        "rdb_current_bgsave_time_sec",
        "rdb_current_bgsave_duration_sec",
        G,
    ),
    ("rdb_saves", "rdb_saves_total", C),
    ("rdb_last_cow_size", "rdb_last_cow_size_bytes", G),
    (
        "rdb_last_load_keys_expired",
        "rdb_last_load_expired_keys",
        G,
    ),
    ("rdb_last_load_keys_loaded", "rdb_last_load_loaded_keys", G),
    ("aof_enabled", "aof_enabled", G),
    ("aof_rewrite_in_progress", "aof_rewrite_in_progress", G),
    ("aof_rewrite_scheduled", "aof_rewrite_scheduled", G),
    (
        "aof_last_rewrite_time_sec",
        "aof_last_rewrite_duration_sec",
        G,
    ),
    (
        "aof_current_rewrite_time_sec",
        "aof_current_rewrite_duration_sec",
        G,
    ),
    ("aof_last_cow_size", "aof_last_cow_size_bytes", G),
    ("aof_current_size", "aof_current_size_bytes", G),
    ("aof_base_size", "aof_base_size_bytes", G),
    ("aof_pending_rewrite", "aof_pending_rewrite", G),
    ("aof_buffer_length", "aof_buffer_length", G),
    ("aof_rewrite_buffer_length", "aof_rewrite_buffer_length", G),
    ("aof_pending_bio_fsync", "aof_pending_bio_fsync", G),
    ("aof_delayed_fsync", "aof_delayed_fsync", G),
    ("aof_last_bgrewrite_status", "aof_last_bgrewrite_status", G),
    ("aof_last_write_status", "aof_last_write_status", G),
    ("module_fork_in_progress", "module_fork_in_progress", G),
    ("module_fork_last_cow_size", "module_fork_last_cow_size", G),
    // Stats
    (
        "total_connections_received",
        "connections_received_total",
        C,
    ),
    ("total_commands_processed", "commands_processed_total", C),
    ("rejected_connections", "rejected_connections_total", C),
    ("total_net_input_bytes", "net_input_bytes_total", C),
    ("total_net_output_bytes", "net_output_bytes_total", C),
    (
        "total_net_repl_input_bytes",
        "net_repl_input_bytes_total",
        C,
    ),
    (
        "total_net_repl_output_bytes",
        "net_repl_output_bytes_total",
        C,
    ),
    ("expired_keys", "expired_keys_total", C),
    ("expired_subkeys", "expired_subkeys_total", C),
    (
        "expired_time_cap_reached_count",
        "expired_time_cap_reached_total",
        G,
    ),
    (
        "expire_cycle_cpu_milliseconds",
        "expire_cycle_cpu_time_ms_total",
        C,
    ),
    ("evicted_keys", "evicted_keys_total", C),
    ("evicted_clients", "evicted_clients_total", C),
    ("evicted_scripts", "evicted_scripts_total", C),
    (
        "total_eviction_exceeded_time",
        "eviction_exceeded_time_ms_total",
        C,
    ),
    (
        "current_eviction_exceeded_time",
        "current_eviction_exceeded_time_ms",
        G,
    ),
    ("keyspace_hits", "keyspace_hits_total", C),
    ("keyspace_misses", "keyspace_misses_total", C),
    ("pubsub_channels", "pubsub_channels", G),
    ("pubsub_patterns", "pubsub_patterns", G),
    ("pubsubshard_channels", "pubsubshard_channels", G),
    ("migrate_cached_sockets", "migrate_cached_sockets_total", G),
    (
        "slave_expires_tracked_keys",
        "slave_expires_tracked_keys",
        G,
    ),
    ("active_defrag_hits", "defrag_hits", G),
    ("active_defrag_misses", "defrag_misses", G),
    ("active_defrag_key_hits", "defrag_key_hits", G),
    ("active_defrag_key_misses", "defrag_key_misses", G),
    ("tracking_total_keys", "tracking_total_keys", G),
    ("tracking_total_items", "tracking_total_items", G),
    ("tracking_total_prefixes", "tracking_total_prefixes", G),
    ("unexpected_error_replies", "unexpected_error_replies", C),
    ("total_error_replies", "total_error_replies", C),
    (
        "dump_payload_sanitizations",
        "dump_payload_sanitizations",
        C,
    ),
    ("total_reads_processed", "total_reads_processed", C),
    ("total_writes_processed", "total_writes_processed", C),
    (
        "io_threaded_reads_processed",
        "io_threaded_reads_processed",
        C,
    ),
    (
        "io_threaded_writes_processed",
        "io_threaded_writes_processed",
        C,
    ),
    (
        "client_query_buffer_limit_disconnections",
        "client_query_buffer_limit_disconnections_total",
        C,
    ),
    (
        "client_output_buffer_limit_disconnections",
        "client_output_buffer_limit_disconnections_total",
        C,
    ),
    ("reply_buffer_shrinks", "reply_buffer_shrinks_total", C),
    ("reply_buffer_expands", "reply_buffer_expands_total", C),
    ("acl_access_denied_auth", "acl_access_denied_auth_total", C),
    ("acl_access_denied_cmd", "acl_access_denied_cmd_total", C),
    ("acl_access_denied_key", "acl_access_denied_key_total", C),
    (
        "acl_access_denied_channel",
        "acl_access_denied_channel_total",
        C,
    ),
    // Replication
    ("connected_slaves", "connected_slaves", G),
    ("repl_backlog_size", "replication_backlog_bytes", G),
    ("repl_backlog_active", "repl_backlog_is_active", G),
    (
        "repl_backlog_first_byte_offset",
        "repl_backlog_first_byte_offset",
        G,
    ),
    ("repl_backlog_histlen", "repl_backlog_history_bytes", G),
    ("master_repl_offset", "master_repl_offset", G),
    ("second_repl_offset", "second_repl_offset", G),
    ("slave_priority", "slave_priority", G),
    ("sync_full", "replica_resyncs_full", G),
    ("sync_partial_ok", "replica_partial_resync_accepted", G),
    ("sync_partial_err", "replica_partial_resync_denied", G),
    // CPU
    ("used_cpu_sys", "cpu_sys_seconds_total", C),
    ("used_cpu_user", "cpu_user_seconds_total", C),
    ("used_cpu_sys_children", "cpu_sys_children_seconds_total", C),
    (
        "used_cpu_user_children",
        "cpu_user_children_seconds_total",
        C,
    ),
    (
        "used_cpu_sys_main_thread",
        "cpu_sys_main_thread_seconds_total",
        C,
    ),
    (
        "used_cpu_user_main_thread",
        "cpu_user_main_thread_seconds_total",
        C,
    ),
    // Cluster
    ("cluster_enabled", "cluster_enabled", G),
    // KeyDB
    ("server_threads", "server_threads_total", G),
    ("long_lock_waits", "long_lock_waits_total", G),
    ("current_client_thread", "current_client_thread", G),
];

/// CLUSTER INFO fields that are exported (as `cluster_*` gauges, the names
/// redis_exporter uses; the two message counters get its `_total` names).
const CLUSTER_FIELDS: &[(&str, &str)] = &[
    ("cluster_state", "cluster_state"),
    ("cluster_slots_assigned", "cluster_slots_assigned"),
    ("cluster_slots_ok", "cluster_slots_ok"),
    ("cluster_slots_pfail", "cluster_slots_pfail"),
    ("cluster_slots_fail", "cluster_slots_fail"),
    ("cluster_known_nodes", "cluster_known_nodes"),
    ("cluster_size", "cluster_size"),
    ("cluster_current_epoch", "cluster_current_epoch"),
    ("cluster_my_epoch", "cluster_my_epoch"),
    ("cluster_stats_messages_sent", "cluster_messages_sent_total"),
    (
        "cluster_stats_messages_received",
        "cluster_messages_received_total",
    ),
];

/// Answers gathered next to INFO.
#[derive(Debug, Default, Clone)]
pub struct Extras {
    /// CONFIG GET results (name → value) for maxmemory, maxclients, io-threads, databases.
    pub config: Vec<(String, String)>,
    pub slowlog_len: Option<f64>,
    /// (id, duration in microseconds) of the newest slowlog entry.
    pub slowlog_last: Option<(f64, f64)>,
    /// LATENCY LATEST: (event, unix time of the last spike, its duration in ms).
    pub latency: Vec<(String, f64, f64)>,
    /// CLUSTER INFO text, when cluster mode is on.
    pub cluster_info: Option<String>,
    /// Seconds since the epoch, for `start_time_seconds` when the server's
    /// own clock (`server_time_usec`) is missing.
    pub now: f64,
}

/// Options that change which INFO families appear.
#[derive(Debug, Clone, Copy, Default)]
pub struct InfoOptions {
    /// `--include-system-metrics`: `total_system_memory_bytes`.
    pub system_metrics: bool,
}

/// Builds families under `ns` from one INFO reply and its extras.
pub fn families(ns: &str, info: &Info, extras: &Extras, options: InfoOptions) -> Vec<Family> {
    let mut out = Families::new(ns);
    for (field, metric, kind) in FIELDS {
        if let Some(v) = info.number(field) {
            // redis_exporter's help for INFO fields is "<name> metric"; the
            // family name says what it is.
            out.add(metric, metric, *kind, &[], v);
        }
    }
    if options.system_metrics {
        if let Some(v) = info.number("total_system_memory") {
            out.add(
                "total_system_memory_bytes",
                "Total memory of the host.",
                G,
                &[],
                v,
            );
        }
    }
    if let Some(usec) = info.number("latest_fork_usec") {
        out.add(
            "latest_fork_seconds",
            "Duration of the latest fork.",
            G,
            &[],
            usec / 1e6,
        );
    }
    if let Some(uptime) = info.number("uptime_in_seconds") {
        let now = info
            .number("server_time_usec")
            .map(|us| (us / 1e6).floor())
            .unwrap_or(extras.now.floor());
        out.add(
            "start_time_seconds",
            "Start time of the Redis instance since unix epoch in seconds.",
            G,
            &[],
            now - uptime,
        );
    }
    instance_info(&mut out, info);
    replication(&mut out, info);
    keyspace(&mut out, info, extras);
    commandstats(&mut out, info);
    for (err, v) in info.with_prefix("errorstat_") {
        if let Some(n) = kv_get(&kv_list(v), "count").and_then(parse_number) {
            out.add(
                "errors_total",
                "Total number of errors per error type",
                C,
                &[("err", err)],
                n,
            );
        }
    }
    for (name, value) in &extras.config {
        let metric = match name.as_str() {
            "maxmemory" => "config_maxmemory",
            "maxclients" => "config_maxclients",
            "io-threads" => "config_io_threads",
            _ => continue,
        };
        if let Some(v) = parse_number(value) {
            out.add(metric, &format!("{metric} metric"), G, &[], v);
        }
    }
    if let Some(len) = extras.slowlog_len {
        out.add("slowlog_length", "Total slowlog", G, &[], len);
        let (id, usec) = extras.slowlog_last.unwrap_or((0.0, 0.0));
        out.add("slowlog_last_id", "Last id of slowlog", G, &[], id);
        out.add(
            "last_slow_execution_duration_seconds",
            "The amount of time needed for last slow execution, in seconds",
            G,
            &[],
            usec / 1e6,
        );
    }
    for (event, at, ms) in &extras.latency {
        let labels = [("event_name", event.as_str())];
        out.add(
            "latency_spike_last",
            "When the latency spike last occurred",
            G,
            &labels,
            *at,
        );
        out.add(
            "latency_spike_duration_seconds",
            "Length of the last latency spike in seconds",
            G,
            &labels,
            ms / 1e3,
        );
    }
    if let Some(text) = &extras.cluster_info {
        let cluster = Info::parse(text);
        for (field, metric) in CLUSTER_FIELDS {
            if let Some(v) = cluster.number(field) {
                out.add(metric, &format!("{metric} metric"), G, &[], v);
            }
        }
    }
    out.finish()
}

fn instance_info(out: &mut Families, info: &Info) {
    let get = |f: &str| info.get(f).unwrap_or_default();
    if info.get("redis_version").is_none() && info.get("role").is_none() {
        return;
    }
    out.add(
        "instance_info",
        "Information about the Redis instance",
        G,
        &[
            ("role", get("role")),
            ("redis_version", get("redis_version")),
            ("redis_build_id", get("redis_build_id")),
            ("redis_mode", get("redis_mode")),
            ("os", get("os")),
            ("maxmemory_policy", get("maxmemory_policy")),
            ("tcp_port", get("tcp_port")),
            ("run_id", get("run_id")),
            ("process_id", get("process_id")),
        ],
        1.0,
    );
}

fn replication(out: &mut Families, info: &Info) {
    // On a primary: one line per replica, `slave0:ip=...,port=...,state=...,offset=...,lag=...`.
    for (rest, v) in info.with_prefix("slave") {
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let kv = kv_list(v);
        let labels = [
            ("slave_ip", kv_get(&kv, "ip").unwrap_or_default()),
            ("slave_port", kv_get(&kv, "port").unwrap_or_default()),
            ("slave_state", kv_get(&kv, "state").unwrap_or_default()),
        ];
        if let Some(offset) = kv_get(&kv, "offset").and_then(parse_number) {
            out.add(
                "connected_slave_offset_bytes",
                "Offset of connected slave",
                G,
                &labels,
                offset,
            );
        }
        if let Some(lag) = kv_get(&kv, "lag").and_then(parse_number) {
            out.add(
                "connected_slave_lag_seconds",
                "Lag of connected slave",
                G,
                &labels,
                lag,
            );
        }
    }
    // On a replica: its link to the primary.
    let (Some(host), Some(port)) = (info.get("master_host"), info.get("master_port")) else {
        return;
    };
    let labels = [("master_host", host), ("master_port", port)];
    if let Some(status) = info.get("master_link_status") {
        let up = if status == "up" { 1.0 } else { 0.0 };
        out.add(
            "master_link_up",
            "Master link status on Redis slave",
            G,
            &labels,
            up,
        );
    }
    if let Some(v) = info.number("master_last_io_seconds_ago") {
        out.add(
            "master_last_io_seconds_ago",
            "Master last io seconds ago",
            G,
            &labels,
            v,
        );
    }
    if let Some(v) = info.number("master_sync_in_progress") {
        out.add(
            "master_sync_in_progress",
            "Master sync in progress",
            G,
            &labels,
            v,
        );
    }
    if let Some(v) = info.number("slave_repl_offset") {
        out.add(
            "slave_repl_offset",
            "Slave replication offset",
            G,
            &labels,
            v,
        );
    }
    let read_only = info.get("slave_read_only").unwrap_or_default();
    out.add(
        "slave_info",
        "Information about the Redis slave",
        G,
        &[
            ("master_host", host),
            ("master_port", port),
            ("read_only", read_only),
        ],
        1.0,
    );
}

fn keyspace(out: &mut Families, info: &Info, extras: &Extras) {
    let databases = extras
        .config
        .iter()
        .find(|(k, _)| k == "databases")
        .and_then(|(_, v)| v.parse::<u32>().ok());
    let mut seen: Vec<u32> = Vec::new();
    for (db, v) in info.with_prefix("db") {
        let Ok(n) = db.parse::<u32>() else { continue };
        seen.push(n);
        let kv = kv_list(v);
        let label = format!("db{n}");
        let labels = [("db", label.as_str())];
        let num = |k: &str| kv_get(&kv, k).and_then(parse_number);
        out.add(
            "db_keys",
            "Total number of keys by DB",
            G,
            &labels,
            num("keys").unwrap_or(0.0),
        );
        out.add(
            "db_keys_expiring",
            "Total number of expiring keys by DB",
            G,
            &labels,
            num("expires").unwrap_or(0.0),
        );
        if let Some(ttl) = num("avg_ttl") {
            out.add(
                "db_avg_ttl_seconds",
                "Avg TTL in seconds",
                G,
                &labels,
                ttl / 1e3,
            );
        }
    }
    // Empty databases are missing from INFO; report them as 0 so that
    // `redis_db_keys{db="db3"}` does not vanish when the last key goes.
    for n in 0..databases.unwrap_or(0) {
        if seen.contains(&n) {
            continue;
        }
        let label = format!("db{n}");
        let labels = [("db", label.as_str())];
        out.add("db_keys", "Total number of keys by DB", G, &labels, 0.0);
        out.add(
            "db_keys_expiring",
            "Total number of expiring keys by DB",
            G,
            &labels,
            0.0,
        );
    }
}

fn commandstats(out: &mut Families, info: &Info) {
    let mut calls_by_cmd: Vec<(&str, f64, f64)> = Vec::new();
    for (cmd, v) in info.with_prefix("cmdstat_") {
        let kv = kv_list(v);
        let num = |k: &str| kv_get(&kv, k).and_then(parse_number);
        let labels = [("cmd", cmd)];
        let calls = num("calls").unwrap_or(0.0);
        let usec = num("usec").unwrap_or(0.0);
        calls_by_cmd.push((cmd, calls, usec));
        out.add(
            "commands_total",
            "Total number of calls per command",
            C,
            &labels,
            calls,
        );
        out.add(
            "commands_duration_seconds_total",
            "Total amount of time in seconds spent per command",
            C,
            &labels,
            usec / 1e6,
        );
        if let Some(n) = num("rejected_calls") {
            out.add(
                "commands_rejected_calls_total",
                "Total number of errors within command execution per command",
                C,
                &labels,
                n,
            );
        }
        if let Some(n) = num("failed_calls") {
            out.add(
                "commands_failed_calls_total",
                "Total number of errors prior command execution per command",
                C,
                &labels,
                n,
            );
        }
    }
    // Latencystats (Redis 7): a summary per command, quantiles as INFO names
    // them ("50", "99", "99.9"); sum and count come from commandstats.
    for (cmd, v) in info.with_prefix("latency_percentiles_usec_") {
        let help = "A summary of latency percentile distribution per command";
        for (p, value) in kv_list(v) {
            let (Some(q), Some(x)) = (p.strip_prefix('p'), parse_number(value)) else {
                continue;
            };
            out.add(
                "latency_percentiles_usec",
                help,
                MetricKind::Untyped,
                &[("cmd", cmd), ("quantile", q)],
                x,
            );
        }
        if let Some((_, calls, usec)) = calls_by_cmd.iter().find(|(c, _, _)| *c == cmd) {
            out.add(
                "latency_percentiles_usec_sum",
                help,
                MetricKind::Untyped,
                &[("cmd", cmd)],
                *usec,
            );
            out.add(
                "latency_percentiles_usec_count",
                help,
                MetricKind::Untyped,
                &[("cmd", cmd)],
                *calls,
            );
        }
    }
}

/// Families under one namespace, built with the shared [`FamilySet`].
struct Families {
    ns: String,
    set: FamilySet,
}

impl Families {
    fn new(ns: &str) -> Self {
        Self {
            ns: ns.to_owned(),
            set: FamilySet::default(),
        }
    }

    fn add(
        &mut self,
        metric: &str,
        help: &str,
        kind: MetricKind,
        labels: &[(&'static str, &str)],
        v: f64,
    ) {
        self.set
            .family(&format!("{}_{metric}", self.ns), help, kind)
            .add(labels, v);
    }

    fn finish(self) -> Vec<Family> {
        self.set.into_families()
    }
}

/// Gathers INFO and its extras in one round trip.
pub struct InfoCollector {
    pub client: Arc<Client>,
    pub namespace: &'static str,
    /// `--config-command`: the CONFIG command's name (renamed on some
    /// managed services); empty to skip the CONFIG-based families.
    pub config_command: String,
    pub options: InfoOptions,
}

const CONFIG_NAMES: [&str; 4] = ["maxmemory", "maxclients", "io-threads", "databases"];

impl InfoCollector {
    async fn gather(&self, deadline: tokio::time::Instant) -> Result<(Info, Extras), ClientError> {
        let mut cmds: Vec<Vec<&[u8]>> = vec![vec![b"INFO", b"ALL"]];
        let config = self.config_command.as_bytes();
        if !config.is_empty() {
            for name in CONFIG_NAMES {
                cmds.push(vec![config, b"GET", name.as_bytes()]);
            }
        }
        cmds.push(vec![b"SLOWLOG", b"LEN"]);
        cmds.push(vec![b"SLOWLOG", b"GET", b"1"]);
        cmds.push(vec![b"LATENCY", b"LATEST"]);
        let refs: Vec<&[&[u8]]> = cmds.iter().map(|c| c.as_slice()).collect();
        let mut session = self.client.session(deadline).await?;
        let mut replies = session.pipeline(&refs).await?.into_iter();
        let mut info_reply = replies.next().unwrap_or(Value::Nil);
        if let Value::Error(_) = info_reply {
            // Servers that do not know `INFO ALL` answer plain INFO.
            info_reply = session.cmd(&[b"INFO"]).await?;
        }
        let text = info_reply
            .as_str()
            .ok_or_else(|| ClientError::Server(format!("INFO answered {info_reply:?}")))?;
        let info = Info::parse(text);
        let mut extras = Extras {
            now: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default(),
            ..Extras::default()
        };
        if !config.is_empty() {
            for _ in CONFIG_NAMES {
                if let Some(v) = replies.next() {
                    extras.config.extend(
                        v.pairs()
                            .into_iter()
                            .filter_map(|(k, v)| v.to_text().map(|v| (k, v))),
                    );
                }
            }
        }
        extras.slowlog_len = replies.next().and_then(|v| v.as_i64()).map(|n| n as f64);
        extras.slowlog_last = replies.next().and_then(|v| {
            let entry = v.as_array()?.first()?.as_array()?.to_vec();
            Some((
                entry.first()?.as_i64()? as f64,
                entry.get(2)?.as_i64()? as f64,
            ))
        });
        if let Some(Value::Array(events)) = replies.next() {
            for e in events {
                let Some(e) = e.as_array() else { continue };
                if let (Some(name), Some(at), Some(ms)) = (
                    e.first().and_then(Value::to_text),
                    e.get(1).and_then(Value::as_i64),
                    e.get(2).and_then(Value::as_i64),
                ) {
                    extras.latency.push((name, at as f64, ms as f64));
                }
            }
        }
        if info.get("cluster_enabled") == Some("1") {
            if let Ok(v) = session.cmd(&[b"CLUSTER", b"INFO"]).await {
                extras.cluster_info = v.to_text();
            }
        }
        Ok((info, extras))
    }
}

impl Collector for InfoCollector {
    fn name(&self) -> &'static str {
        "info"
    }

    fn collect<'a>(&'a self, ctx: &'a sidewatch_common::ScrapeContext) -> CollectFuture<'a> {
        Box::pin(async move {
            let (info, extras) = self
                .gather(ctx.deadline())
                .await
                .map_err(|e| CollectError::Target(e.to_string()))?;
            let mut out = families(self.namespace, &info, &extras, self.options);
            if let Some(secs) = self.client.last_connect_seconds() {
                out.push(
                    Family::gauge(
                        format!(
                            "{}_exporter_last_scrape_connect_time_seconds",
                            self.namespace
                        ),
                        "How long the last connect to the target took.",
                    )
                    .with(&[], secs),
                );
            }
            Ok(out)
        })
    }
}
