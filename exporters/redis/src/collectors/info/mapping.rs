//! One INFO reply (and the answers gathered next to it) turned into
//! redis_exporter's families: pure, so fixtures and the fuzzer drive it
//! without a server.

use sidewatch_common::metrics::FamilySet;
use sidewatch_common::{Family, MetricKind};

use super::fields::{CLUSTER_FIELDS, FIELDS};
use crate::info::{kv_get, kv_list, parse_number, Info};

use MetricKind::{Counter as C, Gauge as G};

/// One command's LATENCY HISTOGRAM: name, (bound in µs, cumulative count), calls.
pub type LatencyHistogram = (String, Vec<(f64, f64)>, f64);

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
    /// LATENCY HISTOGRAM (Redis 7+): command, (bucket bound in µs,
    /// cumulative count) and calls.
    pub latency_histograms: Vec<LatencyHistogram>,
    /// CLUSTER INFO text, when cluster mode is on.
    pub cluster_info: Option<String>,
    /// Seconds since the epoch, for `start_time_seconds` when the server's
    /// own clock (`server_time_usec`) is missing.
    pub now: f64,
}

/// Options that change which INFO families appear; the default is the
/// peer's defaults.
#[derive(Debug, Clone, Copy)]
pub struct InfoOptions {
    /// `--include-system-metrics`: `total_system_memory_bytes`.
    pub system_metrics: bool,
    /// Not `--exclude-latency-histogram-metrics`: `commands_latencies_usec`.
    pub latency_histograms: bool,
    /// `--include-metrics-for-empty-databases` (on by default): zeros for
    /// the databases INFO leaves out because they hold no key.
    pub empty_databases: bool,
}

impl Default for InfoOptions {
    fn default() -> Self {
        Self {
            system_metrics: false,
            latency_histograms: true,
            empty_databases: true,
        }
    }
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
    keyspace(&mut out, info, extras, options.empty_databases);
    commandstats(&mut out, info);
    latency_histograms(&mut out, info, extras);
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
            "repl-backlog-size" => "config_repl_backlog_size",
            "client-output-buffer-limit" => {
                output_buffer_limits(&mut out, value);
                continue;
            }
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
    let mut labels = vec![
        ("role", get("role")),
        ("redis_version", get("redis_version")),
        ("redis_build_id", get("redis_build_id")),
        ("redis_mode", get("redis_mode")),
        ("os", get("os")),
        ("maxmemory_policy", get("maxmemory_policy")),
        ("tcp_port", get("tcp_port")),
        ("run_id", get("run_id")),
        ("process_id", get("process_id")),
        ("master_replid", get("master_replid")),
    ];
    // Valkey names itself (redis_version stays at the Redis API it speaks,
    // 7.2.4); redis_exporter 1.86 adds these two labels there only.
    if let Some(v) = info.get("valkey_version") {
        labels.push(("valkey_version", v));
        labels.push(("valkey_release_stage", get("valkey_release_stage")));
    }
    out.add(
        "instance_info",
        "Information about the Redis instance",
        G,
        &labels,
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

fn keyspace(out: &mut Families, info: &Info, extras: &Extras, empty_databases: bool) {
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
    for n in 0..databases.filter(|_| empty_databases).unwrap_or(0) {
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

/// `client-output-buffer-limit` ("normal 0 0 0 replica 268435456 67108864 60
/// ...": class, hard bytes, soft bytes, soft seconds) as redis_exporter
/// splits it.
fn output_buffer_limits(out: &mut Families, value: &str) {
    let words: Vec<&str> = value.split_whitespace().collect();
    for group in words.chunks_exact(4) {
        let class = group[0];
        let (Some(hard), Some(soft), Some(secs)) = (
            parse_number(group[1]),
            parse_number(group[2]),
            parse_number(group[3]),
        ) else {
            continue;
        };
        let help = "The configured buffer limits per class";
        out.add(
            "config_client_output_buffer_limit_bytes",
            help,
            G,
            &[("class", class), ("limit", "hard")],
            hard,
        );
        out.add(
            "config_client_output_buffer_limit_bytes",
            help,
            G,
            &[("class", class), ("limit", "soft")],
            soft,
        );
        out.add(
            "config_client_output_buffer_limit_overcome_seconds",
            "How long for buffer limits per class to be exceeded before replicas are dropped",
            G,
            &[("class", class), ("limit", "soft")],
            secs,
        );
    }
}

/// LATENCY HISTOGRAM as a histogram per command; the sum is commandstats'
/// `usec`, as the peer takes it.
fn latency_histograms(out: &mut Families, info: &Info, extras: &Extras) {
    if extras.latency_histograms.is_empty() {
        return;
    }
    let usec = |cmd: &str| {
        info.get(&format!("cmdstat_{cmd}"))
            .and_then(|v| kv_get(&kv_list(v), "usec").and_then(parse_number))
            .unwrap_or(0.0)
    };
    let family = out.set.family(
        &format!("{}_commands_latencies_usec", out.ns),
        "A histogram of latencies per command",
        MetricKind::Histogram,
    );
    for (cmd, buckets, calls) in &extras.latency_histograms {
        family.add_histogram(&[("cmd", cmd)], buckets, usec(cmd), *calls);
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
