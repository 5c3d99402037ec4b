//! Command line of sidewatch-redis: redis_exporter's flags and environment
//! variables (single-dash Go spelling accepted), validated into [`RedisConfig`].

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use sidewatch_common::cli::{self, CommonArgs, StartError};
use sidewatch_common::http::HttpOptions;
use sidewatch_common::logging::{LogFormat, LogLevel};
use sidewatch_common::probe::{ProbeArgs, TargetPolicy};
use sidewatch_common::tls::TlsClientOptions;
use sidewatch_common::webconfig::WebConfig;

use crate::collectors::keys::{parse_key_list, KeyBudget, KeyPattern};
use crate::target::{Secret, Target};

/// Prometheus exporter for Redis with redis_exporter's flags and metric
/// names, key and stream checks that stay within a per-scrape budget, and
/// one long-lived connection per target.
///
/// Flags may be written Go-style with one dash (-redis.addr=...), as
/// redis_exporter documents them.
#[derive(Debug, Parser)]
#[command(name = "sidewatch-redis", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    #[command(flatten)]
    pub probe: ProbeArgs,

    /// Address of the Redis server: redis://[user:password@]host:port[/db],
    /// rediss:// for TLS, unix:///path/to.sock, or host:port. Empty: only
    /// /scrape?target= is served.
    #[arg(
        long = "redis.addr",
        env = "REDIS_ADDR",
        default_value = "redis://localhost:6379",
        value_name = "URI"
    )]
    pub addr: String,

    /// User name for AUTH (Redis 6 ACLs).
    #[arg(long = "redis.user", env = "REDIS_USER", value_name = "USER")]
    pub user: Option<String>,

    /// Password for AUTH. Prefer REDIS_PASSWORD or --redis.password-file:
    /// command lines are visible to every user of the host.
    #[arg(
        long = "redis.password",
        env = "REDIS_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,

    /// JSON file mapping target URIs to passwords, used for --redis.addr and
    /// /scrape?target= targets: {"redis://host:6379": "secret", ...}.
    #[arg(
        long = "redis.password-file",
        env = "REDIS_PASSWORD_FILE",
        value_name = "FILE"
    )]
    pub password_file: Option<PathBuf>,

    /// Namespace (prefix) of the metric names.
    #[arg(
        long = "namespace",
        env = "REDIS_EXPORTER_NAMESPACE",
        default_value = "redis",
        value_name = "NAME"
    )]
    pub namespace: String,

    /// Key patterns to report size and numeric value of, walked with SCAN:
    /// comma-separated, each `pattern` or `dbN=pattern`.
    #[arg(
        long = "check-keys",
        env = "REDIS_EXPORTER_CHECK_KEYS",
        default_value = "",
        value_name = "LIST"
    )]
    pub check_keys: String,

    /// Single keys to report size and numeric value of (`key` or `dbN=key`).
    #[arg(
        long = "check-single-keys",
        env = "REDIS_EXPORTER_CHECK_SINGLE_KEYS",
        default_value = "",
        value_name = "LIST"
    )]
    pub check_single_keys: String,

    /// Stream patterns to report streams, groups and consumers of, walked with SCAN.
    #[arg(
        long = "check-streams",
        env = "REDIS_EXPORTER_CHECK_STREAMS",
        default_value = "",
        value_name = "LIST"
    )]
    pub check_streams: String,

    /// Single streams to report (`key` or `dbN=key`).
    #[arg(
        long = "check-single-streams",
        env = "REDIS_EXPORTER_CHECK_SINGLE_STREAMS",
        default_value = "",
        value_name = "LIST"
    )]
    pub check_single_streams: String,

    /// Patterns whose matching keys are counted (redis_keys_count), walked with SCAN.
    #[arg(
        long = "count-keys",
        env = "REDIS_EXPORTER_COUNT_KEYS",
        default_value = "",
        value_name = "LIST"
    )]
    pub count_keys: String,

    /// SCAN's COUNT hint: keys Redis looks at per SCAN call.
    #[arg(long = "check-keys-batch-size", env = "REDIS_EXPORTER_CHECK_KEYS_BATCH_SIZE", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..1_000_001), value_name = "N")]
    pub batch_size: u64,

    /// Most keys examined per scrape by each of: --check-keys, --count-keys,
    /// --check-streams; walks stopped here are counted in
    /// redis_key_checks_truncated_total (count walks resume on the next scrape).
    #[arg(long = "check-keys.max-keys", env = "SIDEWATCH_REDIS_CHECK_KEYS_MAX_KEYS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..100_000_001), value_name = "N")]
    pub max_keys: u64,

    /// Longest time key and stream walks may take per scrape (never past the scrape deadline).
    #[arg(long = "check-keys.time-budget", env = "SIDEWATCH_REDIS_CHECK_KEYS_TIME_BUDGET", default_value = "3s",
          value_parser = cli::parse_duration, value_name = "DURATION")]
    pub time_budget: Duration,

    /// Leave out per-consumer stream series.
    #[arg(
        long = "streams-exclude-consumer-metrics",
        env = "REDIS_EXPORTER_STREAMS_EXCLUDE_CONSUMER_METRICS"
    )]
    pub streams_exclude_consumer_metrics: bool,

    /// Name of the CONFIG command (some services rename it); empty skips the
    /// CONFIG-based families and the zero-key databases.
    #[arg(
        long = "config-command",
        env = "REDIS_EXPORTER_CONFIG_COMMAND",
        default_value = "CONFIG",
        value_name = "NAME"
    )]
    pub config_command: String,

    /// Bound of connecting and of every command (also never past the scrape deadline).
    #[arg(long = "connection-timeout", env = "REDIS_EXPORTER_CONNECTION_TIMEOUT", default_value = "15s",
          value_parser = cli::parse_duration, value_name = "DURATION")]
    pub connection_timeout: Duration,

    /// Largest reply accepted from a server, in bytes (lines, bulk strings and
    /// array elements together); a bigger one fails that command. Bounds the
    /// memory a hostile /scrape target can make the exporter take.
    #[arg(long = "redis.max-reply-bytes", env = "SIDEWATCH_REDIS_MAX_REPLY_BYTES",
          default_value_t = 64 << 20, value_parser = clap::value_parser!(u64).range(1024..),
          value_name = "BYTES")]
    pub max_reply_bytes: u64,

    /// Most connections open at once: the --redis.addr target's one and every
    /// /scrape request's together. A /scrape that finds none free waits for
    /// one until its scrape deadline.
    #[arg(long = "redis.max-connections", env = "SIDEWATCH_REDIS_MAX_CONNECTIONS",
          default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..),
          value_name = "N")]
    pub max_connections: u16,

    /// Client certificate for servers that require TLS client authentication.
    #[arg(
        long = "tls-client-cert-file",
        env = "REDIS_EXPORTER_TLS_CLIENT_CERT_FILE",
        value_name = "FILE"
    )]
    pub tls_client_cert_file: Option<PathBuf>,

    /// Key of the client certificate.
    #[arg(
        long = "tls-client-key-file",
        env = "REDIS_EXPORTER_TLS_CLIENT_KEY_FILE",
        value_name = "FILE"
    )]
    pub tls_client_key_file: Option<PathBuf>,

    /// CA certificates to verify the server with (default: the system's).
    #[arg(
        long = "tls-ca-cert-file",
        env = "REDIS_EXPORTER_TLS_CA_CERT_FILE",
        value_name = "FILE"
    )]
    pub tls_ca_cert_file: Option<PathBuf>,

    /// Do not verify the server's certificate.
    #[arg(
        long = "skip-tls-verification",
        env = "REDIS_EXPORTER_SKIP_TLS_VERIFICATION"
    )]
    pub skip_tls_verification: bool,

    /// Serve the web interface over TLS with this certificate (or use --web.config.file).
    #[arg(
        long = "tls-server-cert-file",
        env = "REDIS_EXPORTER_TLS_SERVER_CERT_FILE",
        value_name = "FILE"
    )]
    pub tls_server_cert_file: Option<PathBuf>,

    /// Key of --tls-server-cert-file.
    #[arg(
        long = "tls-server-key-file",
        env = "REDIS_EXPORTER_TLS_SERVER_KEY_FILE",
        value_name = "FILE"
    )]
    pub tls_server_key_file: Option<PathBuf>,

    /// Require web clients to present a certificate signed by this CA.
    #[arg(
        long = "tls-server-ca-cert-file",
        env = "REDIS_EXPORTER_TLS_SERVER_CA_CERT_FILE",
        value_name = "FILE"
    )]
    pub tls_server_ca_cert_file: Option<PathBuf>,

    /// Oldest TLS version the web interface accepts (TLS1.2 or TLS1.3).
    #[arg(
        long = "tls-server-min-version",
        env = "REDIS_EXPORTER_TLS_SERVER_MIN_VERSION",
        default_value = "TLS1.2",
        value_name = "VERSION"
    )]
    pub tls_server_min_version: String,

    /// Name the connection "sidewatch-redis" (CLIENT SETNAME).
    #[arg(
        long = "set-client-name",
        env = "REDIS_EXPORTER_SET_CLIENT_NAME",
        default_value_t = true
    )]
    pub set_client_name: bool,

    /// PING after connecting (a connect is only counted as done when the server answers).
    #[arg(long = "ping-on-connect", env = "REDIS_EXPORTER_PING_ON_CONNECT")]
    pub ping_on_connect: bool,

    /// Also report redis_total_system_memory_bytes.
    #[arg(
        long = "include-system-metrics",
        env = "REDIS_EXPORTER_INCL_SYSTEM_METRICS"
    )]
    pub include_system_metrics: bool,

    /// Leave out redis_commands_latencies_usec (LATENCY HISTOGRAM).
    #[arg(
        long = "exclude-latency-histogram-metrics",
        env = "REDIS_EXPORTER_EXCLUDE_LATENCY_HISTOGRAM_METRICS"
    )]
    pub exclude_latency_histogram_metrics: bool,

    /// The target is a cluster node: key and stream checks report the keys
    /// this node owns (keys of other nodes answer MOVED and are skipped), so
    /// one exporter per node covers the cluster without double counting.
    #[arg(long = "is-cluster", env = "REDIS_EXPORTER_IS_CLUSTER")]
    pub is_cluster: bool,

    /// Accepted for redis_exporter compatibility: sidewatch has no Go runtime metrics to leave out.
    #[arg(
        long = "redis-only-metrics",
        env = "REDIS_EXPORTER_REDIS_ONLY_METRICS",
        hide = true
    )]
    pub redis_only_metrics: bool,

    /// redis_exporter's log format flag: txt (logfmt) or json; overrides --log.format.
    #[arg(
        long = "log-format",
        env = "REDIS_EXPORTER_LOG_FORMAT",
        value_name = "FORMAT"
    )]
    pub log_format_compat: Option<String>,

    /// redis_exporter's log level flag (DEBUG, INFO, WARN, ERROR, any case);
    /// overrides --log.level.
    #[arg(
        long = "log-level",
        env = "REDIS_EXPORTER_LOG_LEVEL",
        value_name = "LEVEL"
    )]
    pub log_level_compat: Option<String>,

    /// Log at debug level (redis_exporter's --debug); overrides --log.level.
    #[arg(long = "debug", env = "REDIS_EXPORTER_DEBUG")]
    pub debug: bool,

    /// Report db_keys and db_keys_expiring as 0 for the databases INFO
    /// leaves out because they are empty (=false leaves them out too).
    #[arg(
        long = "include-metrics-for-empty-databases",
        env = "REDIS_EXPORTER_INCL_METRICS_FOR_EMPTY_DATABASES",
        default_value = "true"
    )]
    pub include_metrics_for_empty_databases: bool,

    /// Leave out <ns>_key_value (the numeric values of checked keys).
    #[arg(
        long = "disable-exporting-key-values",
        env = "REDIS_EXPORTER_DISABLE_EXPORTING_KEY_VALUES"
    )]
    pub disable_exporting_key_values: bool,

    /// Skip --check-keys and --check-single-keys (sizes and values) while
    /// the instance is a master, to spare it; --count-keys still runs.
    #[arg(
        long = "skip-checkkeys-for-role-master",
        env = "REDIS_EXPORTER_SKIP_CHECKKEYS_FOR_ROLE_MASTER"
    )]
    pub skip_checkkeys_for_role_master: bool,

    /// Serve /metrics only: /scrape?target= answers 404.
    #[arg(
        long = "disable-scrape-endpoint",
        env = "REDIS_EXPORTER_DISABLE_SCRAPE_ENDPOINT"
    )]
    pub disable_scrape_endpoint: bool,

    /// Config metrics are a fixed list of settings without secrets, so they
    /// are always redacted; =false is refused.
    #[arg(
        long = "redact-config-metrics",
        env = "REDIS_EXPORTER_REDACT_CONFIG_METRICS",
        default_value = "true"
    )]
    pub redact_config_metrics: bool,

    /// User name that /metrics and /scrape require (HTTP basic auth), with
    /// --basic-auth-password or --basic-auth-hash-password.
    #[arg(
        long = "basic-auth-username",
        env = "REDIS_EXPORTER_BASIC_AUTH_USERNAME",
        value_name = "USER"
    )]
    pub basic_auth_username: Option<String>,

    /// The basic-auth password in clear (hashed with bcrypt at start).
    #[arg(
        long = "basic-auth-password",
        env = "REDIS_EXPORTER_BASIC_AUTH_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub basic_auth_password: Option<String>,

    /// The basic-auth password as a bcrypt hash.
    #[arg(
        long = "basic-auth-hash-password",
        env = "REDIS_EXPORTER_BASIC_AUTH_HASH_PASSWORD",
        value_name = "HASH",
        hide_env_values = true
    )]
    pub basic_auth_hash_password: Option<String>,
}

/// redis_exporter 1.86's flags that sidewatch-redis does not take.
pub const REFUSED_FLAGS: &[cli::RefusedFlag] = &[
    ("append-instance-role-label", "role labels on every series are not added; join on redis_instance_info{role}"),
    ("check-key-groups", "key groups (Lua over the whole keyspace) are not collected; use --check-keys or --count-keys with patterns"),
    ("max-distinct-key-groups", "key groups are not collected (see --check-key-groups)"),
    ("check-search-indexes", "RediSearch indexes are not collected"),
    ("include-search-indexes-metrics", "RediSearch indexes are not collected"),
    ("cluster-discover-hostnames", "there is no /discover-cluster-nodes endpoint; run one exporter per node with --is-cluster"),
    ("export-client-list", "one series per client connection is unbounded; redis_connected_clients and the client_recent_* families cover it"),
    ("export-client-port", "the client list is not exported (see --export-client-list)"),
    ("include-config-metrics", "only the fixed list of redis_config_* settings is exported; a setting of each kind would be one series per CONFIG key"),
    ("include-go-runtime-metrics", "sidewatch is not a Go program; process_* families are always exported"),
    ("include-modules-metrics", "module metrics (INFO MODULES) are not collected"),
    ("include-rdb-file-size-metric", "the RDB file is not read from disk; redis_rdb_* from INFO cover saves"),
    ("include-sentinel-peer-info", "Sentinel is not supported"),
    ("is-tile38", "Tile38 is not supported"),
    ("script", "Lua scripts are not run; use --check-keys, --count-keys or sidewatch-queue"),
    ("lua-script-read-only", "Lua scripts are not run (see --script)"),
];

/// redis_exporter's boolean flags are Go flags: `--flag`, `--flag=true` and
/// `--flag=false` all work.
const GO_BOOLS: &[&str] = &[
    "streams_exclude_consumer_metrics",
    "skip_tls_verification",
    "set_client_name",
    "ping_on_connect",
    "include_system_metrics",
    "exclude_latency_histogram_metrics",
    "is_cluster",
    "redis_only_metrics",
    "debug",
    "include_metrics_for_empty_databases",
    "disable_exporting_key_values",
    "skip_checkkeys_for_role_master",
    "disable_scrape_endpoint",
    "redact_config_metrics",
];

/// The whole command definition, with redis_exporter's defaults and env vars
/// for the shared web flags.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    for id in GO_BOOLS {
        cmd = cmd.mut_arg(*id, |a| {
            let a = if a.get_default_values().is_empty() {
                a.default_value("false")
            } else {
                a
            };
            a.num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .value_parser(BoolishValueParser::new())
                .action(ArgAction::Set)
        });
    }
    cmd.args_override_self(true)
        .mut_arg("listen_address", |a| {
            a.default_value(":9121")
                .env("REDIS_EXPORTER_WEB_LISTEN_ADDRESS")
        })
        .mut_arg("telemetry_path", |a| {
            a.env("REDIS_EXPORTER_WEB_TELEMETRY_PATH")
        })
}

/// Go's flag package takes `-name` as well as `--name`; redis_exporter's
/// documentation uses one dash. Known long flags written with one dash get two.
pub fn normalize_args(args: Vec<OsString>) -> Vec<OsString> {
    let cmd = command();
    let longs: Vec<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .chain(["help".to_owned(), "version".to_owned()])
        .collect();
    args.into_iter()
        .enumerate()
        .map(|(i, arg)| {
            let Some(s) = arg.to_str() else { return arg };
            if i == 0 || s.starts_with("--") || !s.starts_with('-') || s.len() < 3 {
                return arg;
            }
            let name = s[1..].split('=').next().unwrap_or_default();
            if longs.iter().any(|l| l == name) {
                OsString::from(format!("-{s}"))
            } else {
                arg
            }
        })
        .collect()
}

/// Everything sidewatch-redis needs, validated.
pub struct RedisConfig {
    pub cli: Cli,
    /// None when --redis.addr is empty (only /scrape?target= is served).
    pub target: Option<Target>,
    pub namespace: &'static str,
    pub password_map: HashMap<String, Secret>,
    pub checks: Checks,
    pub client: crate::client::ClientSettings,
    /// Which targets `/scrape` may reach.
    pub probe_policy: TargetPolicy,
    pub http: HttpOptions,
    pub log_level: LogLevel,
    pub log_format: LogFormat,
}

/// Key and stream checks, parsed.
#[derive(Clone, Debug, Default)]
pub struct Checks {
    pub check_keys: Vec<KeyPattern>,
    pub single_keys: Vec<KeyPattern>,
    pub check_streams: Vec<KeyPattern>,
    pub single_streams: Vec<KeyPattern>,
    pub count_keys: Vec<KeyPattern>,
    pub budget: KeyBudget,
    pub exclude_consumers: bool,
    pub is_cluster: bool,
    pub config_command: String,
    pub system_metrics: bool,
    pub latency_histograms: bool,
    pub empty_databases: bool,
    pub export_key_values: bool,
    pub skip_keys_on_master: bool,
}

impl RedisConfig {
    pub fn from_args<I, T>(args: I) -> Result<Self, StartError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args = normalize_args(args.into_iter().map(Into::into).collect());
        cli::refuse_peer_flags(&args, REFUSED_FLAGS)?;
        let matches = cli::get_matches(command(), args)?;
        let cli = Cli::from_arg_matches(&matches).map_err(StartError::from)?;
        let bad = |m: String| StartError::Config(m);

        let password_map = match &cli.password_file {
            Some(path) => load_password_file(path).map_err(bad)?,
            None => HashMap::new(),
        };
        let target = if cli.addr.trim().is_empty() {
            None
        } else {
            let mut t = Target::parse(&cli.addr).map_err(|e| bad(format!("--redis.addr: {e}")))?;
            if cli.user.is_some() {
                t.user.clone_from(&cli.user);
            }
            if let Some(p) = &cli.password {
                t.password = Some(Secret(p.clone()));
            } else if t.password.is_none() {
                t.password = lookup_password(&password_map, &cli.addr, &t);
            }
            Some(t)
        };
        let namespace = valid_namespace(&cli.namespace).map_err(bad)?;
        let list = |flag: &str, v: &str| parse_key_list(flag, v).map_err(bad);
        let checks = Checks {
            check_keys: list("check-keys", &cli.check_keys)?,
            single_keys: list("check-single-keys", &cli.check_single_keys)?,
            check_streams: list("check-streams", &cli.check_streams)?,
            single_streams: list("check-single-streams", &cli.check_single_streams)?,
            count_keys: list("count-keys", &cli.count_keys)?,
            budget: KeyBudget {
                max_keys: usize::try_from(cli.max_keys).unwrap_or(usize::MAX),
                time: cli.time_budget,
                batch: usize::try_from(cli.batch_size).unwrap_or(1000),
            },
            exclude_consumers: cli.streams_exclude_consumer_metrics,
            is_cluster: cli.is_cluster,
            config_command: cli.config_command.trim().to_owned(),
            system_metrics: cli.include_system_metrics,
            latency_histograms: !cli.exclude_latency_histogram_metrics,
            empty_databases: cli.include_metrics_for_empty_databases,
            export_key_values: !cli.disable_exporting_key_values,
            skip_keys_on_master: cli.skip_checkkeys_for_role_master,
        };
        let needs_tls = cli
            .addr
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("rediss://")
            || cli.tls_ca_cert_file.is_some()
            || cli.tls_client_cert_file.is_some()
            || cli.skip_tls_verification;
        let tls = sidewatch_common::tls::client_config(&TlsClientOptions {
            ca_file: cli.tls_ca_cert_file.clone(),
            cert_file: cli.tls_client_cert_file.clone(),
            key_file: cli.tls_client_key_file.clone(),
            skip_verify: cli.skip_tls_verification,
            skip_hostname: false,
        });
        let tls = match tls {
            Ok(c) => Some(c),
            Err(e) if needs_tls => return Err(bad(e)),
            // Only /scrape targets could need it; they fail to connect with this reason.
            Err(_) => None,
        };
        let client = crate::client::ClientSettings {
            timeout: cli.connection_timeout,
            tls,
            client_name: cli.set_client_name.then(|| "sidewatch-redis".to_owned()),
            ping: cli.ping_on_connect,
            max_reply_bytes: usize::try_from(cli.max_reply_bytes).unwrap_or(usize::MAX),
            connection_cap: Some(std::sync::Arc::new(tokio::sync::Semaphore::new(
                usize::from(cli.max_connections),
            ))),
        };
        let probe_policy = TargetPolicy::from_args(&cli.probe).map_err(StartError::Config)?;
        let mut http = HttpOptions::from_flags(&cli.common.web, &cli.common.scrape)?;
        if let Some(web) = web_tls_from_flags(&cli)? {
            if http.web_config.is_some() {
                return Err(bad(
                    "--tls-server-cert-file and --web.config.file cannot be combined; put the TLS settings in the web config file".into(),
                ));
            }
            http.web_config = Some(web);
        }
        if let Some(auth) = basic_auth_from_flags(&cli)? {
            match &mut http.web_config {
                Some(web) if web.basic_auth.is_some() => return Err(bad(
                    "--basic-auth-* and basic_auth_users in --web.config.file cannot be combined"
                        .into(),
                )),
                Some(web) => web.basic_auth = Some(auth),
                None => {
                    http.web_config = Some(WebConfig {
                        basic_auth: Some(auth),
                        ..WebConfig::default()
                    })
                }
            }
        }
        if !cli.redact_config_metrics {
            return Err(bad("--redact-config-metrics=false is not supported by sidewatch: the config metrics never include secrets".into()));
        }
        let log_level = if cli.debug {
            LogLevel::Debug
        } else {
            match cli
                .log_level_compat
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                None => cli.common.log.level,
                Some("debug") => LogLevel::Debug,
                Some("info") => LogLevel::Info,
                Some("warn") | Some("warning") => LogLevel::Warn,
                Some("error") | Some("fatal") | Some("panic") => LogLevel::Error,
                Some(other) => {
                    return Err(bad(format!(
                        "--log-level {other:?}: use debug, info, warn or error"
                    )))
                }
            }
        };
        let log_format = match cli.log_format_compat.as_deref() {
            None => cli.common.log.format,
            Some("txt") | Some("logfmt") => LogFormat::Logfmt,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(bad(format!("--log-format {other:?}: use txt or json"))),
        };
        Ok(RedisConfig {
            cli,
            target,
            namespace,
            password_map,
            checks,
            client,
            probe_policy,
            http,
            log_level,
            log_format,
        })
    }
}

/// A namespace must make valid metric names; it lives as long as the process.
fn valid_namespace(ns: &str) -> Result<&'static str, String> {
    let ok = !ns.is_empty()
        && ns
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit()));
    if !ok {
        return Err(format!(
            "--namespace {ns:?}: must be letters, digits and underscores, not starting with a digit"
        ));
    }
    Ok(match ns {
        "redis" => "redis",
        other => sidewatch_common::collector::intern(other),
    })
}

/// redis_exporter's password file: a JSON object of URI → password.
pub fn load_password_file(path: &std::path::Path) -> Result<HashMap<String, Secret>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--redis.password-file {}: {e}", path.display()))?;
    let map: HashMap<String, String> = serde_json::from_str(&text).map_err(|e| {
        // serde_json's message names line and column, never the values.
        format!(
            "--redis.password-file {}: not a JSON object of URI to password ({e})",
            path.display()
        )
    })?;
    Ok(map.into_iter().map(|(k, v)| (k, Secret(v))).collect())
}

/// The password for `raw` (as given) from the map: by the exact string, or
/// by the address in its normal form (`redis://host:port`).
pub fn lookup_password(
    map: &HashMap<String, Secret>,
    raw: &str,
    target: &Target,
) -> Option<Secret> {
    map.get(raw)
        .or_else(|| map.get(&target.display()))
        .or_else(|| {
            map.iter()
                .find(|(k, _)| Target::parse(k).map(|t| t.display()).ok() == Some(target.display()))
                .map(|(_, v)| v)
        })
        .cloned()
}

/// redis_exporter's --basic-auth-* flags as the web config's basic auth.
fn basic_auth_from_flags(
    cli: &Cli,
) -> Result<Option<std::sync::Arc<sidewatch_common::webconfig::BasicAuth>>, StartError> {
    let bad = |m: &str| StartError::Config(m.to_owned());
    let secret = match (&cli.basic_auth_password, &cli.basic_auth_hash_password) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "--basic-auth-password and --basic-auth-hash-password conflict; give one",
            ))
        }
        (Some(p), None) => Some((p.as_str(), true)),
        (None, Some(h)) => Some((h.as_str(), false)),
        (None, None) => None,
    };
    match (&cli.basic_auth_username, secret) {
        (None, None) => Ok(None),
        (Some(user), Some((secret, plain))) => {
            sidewatch_common::webconfig::BasicAuth::single(user, secret, plain)
                .map(|a| Some(std::sync::Arc::new(a)))
                .map_err(|e| StartError::Config(format!("--basic-auth-*: {e}")))
        }
        _ => Err(bad(
            "--basic-auth-username needs --basic-auth-password or --basic-auth-hash-password (and the other way round)",
        )),
    }
}

fn web_tls_from_flags(cli: &Cli) -> Result<Option<WebConfig>, StartError> {
    let (cert, key) = match (&cli.tls_server_cert_file, &cli.tls_server_key_file) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        _ => {
            return Err(StartError::Config(
                "--tls-server-cert-file and --tls-server-key-file go together".into(),
            ))
        }
    };
    let min = match cli.tls_server_min_version.as_str() {
        "TLS1.2" | "TLS12" => "TLS12",
        "TLS1.3" | "TLS13" => "TLS13",
        other => {
            return Err(StartError::Config(format!(
                "--tls-server-min-version {other:?}: use TLS1.2 or TLS1.3"
            )))
        }
    };
    let flags = sidewatch_common::webconfig::TlsFlags {
        cert_file: cert.clone(),
        key_file: key.clone(),
        client_ca_file: cli.tls_server_ca_cert_file.clone(),
        min_version: Some(min.to_owned()),
    };
    WebConfig::from_tls_flags(flags, "--tls-server-* flags")
        .map(Some)
        .map_err(|e| StartError::Config(e.to_string()))
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("target", &self.target.as_ref().map(Target::display))
            .field("namespace", &self.namespace)
            .field("checks", &self.checks)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<RedisConfig, StartError> {
        RedisConfig::from_args(std::iter::once("sidewatch-redis").chain(args.iter().copied()))
    }

    #[test]
    fn command_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn go_style_flags_and_defaults() {
        let c = parse(&[
            "-redis.addr=redis://10.1.2.3:6380",
            "-check-keys",
            "db1=a*",
            "-is-cluster",
        ])
        .unwrap_or_else(|_| panic!("parse"));
        assert_eq!(
            c.target.as_ref().map(Target::display).as_deref(),
            Some("redis://10.1.2.3:6380")
        );
        assert_eq!(
            c.checks.check_keys,
            vec![KeyPattern {
                db: 1,
                pattern: "a*".into()
            }]
        );
        assert!(c.checks.is_cluster);
        assert_eq!(c.cli.common.web.listen_address, vec![":9121".to_owned()]);
        assert_eq!(c.namespace, "redis");
        assert!(c.client.client_name.is_some());
        let c = parse(&["--set-client-name=false", "--redis.addr="])
            .unwrap_or_else(|_| panic!("parse"));
        assert!(c.client.client_name.is_none());
        assert!(c.target.is_none());
    }

    #[test]
    fn bad_input_is_one_line_naming_the_flag() {
        for (args, needle) in [
            (vec!["--redis.addr=http://x"], "--redis.addr"),
            (vec!["--namespace=9bad"], "--namespace"),
            (vec!["--check-keys=dbx=a"], "--check-keys"),
            (vec!["--log-format=xml"], "--log-format"),
            (
                vec!["--redis.password-file=/nonexistent/pw.json"],
                "--redis.password-file",
            ),
            (
                vec!["--tls-server-cert-file=/x.pem"],
                "--tls-server-key-file",
            ),
        ] {
            match parse(&args) {
                Err(StartError::Config(line)) => {
                    assert!(line.contains(needle), "{args:?}: {line}");
                    assert!(!line.contains('\n'));
                }
                Err(StartError::Info(i)) => panic!("{args:?}: {i}"),
                Ok(_) => panic!("{args:?} accepted"),
            }
        }
    }

    #[test]
    fn password_file_by_uri() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw.json");
        std::fs::write(
            &path,
            r#"{"redis://10.0.0.1:6379": "s3cret", "redis://other:1": "x"}"#,
        )
        .expect("write");
        let map = load_password_file(&path).expect("load");
        let t = Target::parse("10.0.0.1:6379").expect("target");
        assert_eq!(
            lookup_password(&map, "10.0.0.1:6379", &t),
            Some(Secret("s3cret".into()))
        );
        std::fs::write(&path, r#"{"redis://a": 1, "b": "hunter2"#).expect("write");
        let e = load_password_file(&path).expect_err("bad json");
        assert!(!e.contains("hunter2"), "{e}");
    }
}
