//! Command line of sidewatch-postgres: postgres_exporter's flags and
//! environment variables, validated into [`PgConfig`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use serde::Deserialize;
use sidewatch_common::cli::{self, CommonArgs, StartError};
use sidewatch_common::http::HttpOptions;
use sidewatch_common::probe::{ProbeArgs, TargetPolicy};

use crate::collectors::stat_statements::StatStatementsOptions;
use crate::collectors::{self, DatabaseSelection, SeriesLabels};
use crate::dsn::{self, Target};
use crate::pool::PoolSettings;
use crate::queries::{self, QuerySpec};

/// Prometheus exporter for PostgreSQL with postgres_exporter's flags and
/// metric names, vector-index metrics, custom SQL and every database.
///
/// The server comes from DATA_SOURCE_NAME (URI or key=value), or from
/// DATA_SOURCE_URI with DATA_SOURCE_USER[_FILE] and DATA_SOURCE_PASS[_FILE].
#[derive(Debug, Parser)]
#[command(name = "sidewatch-postgres", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    #[command(flatten)]
    pub probe: ProbeArgs,

    /// File of custom queries in postgres_exporter's queries.yaml format.
    #[arg(
        long = "extend.query-path",
        env = "PG_EXPORTER_EXTEND_QUERY_PATH",
        value_name = "FILE"
    )]
    pub extend_query_path: Option<PathBuf>,

    /// Turn off the default collectors (all but settings); custom queries still run.
    #[arg(long = "disable-default-metrics", env = "PG_EXPORTER_DISABLE_DEFAULT_METRICS", action = ArgAction::SetTrue)]
    pub disable_default_metrics: bool,

    /// Turn off pg_settings metrics.
    #[arg(long = "disable-settings-metrics", env = "PG_EXPORTER_DISABLE_SETTINGS_METRICS", action = ArgAction::SetTrue)]
    pub disable_settings_metrics: bool,

    /// Run per-database collectors (stat_user_tables, statio_user_tables,
    /// vector, and custom queries not marked master) in every database.
    #[arg(long = "auto-discover-databases", env = "PG_EXPORTER_AUTO_DISCOVER_DATABASES", action = ArgAction::SetTrue)]
    pub auto_discover_databases: bool,

    /// With --auto-discover-databases: only these databases (comma-separated).
    #[arg(
        long = "include-databases",
        env = "PG_EXPORTER_INCLUDE_DATABASES",
        value_delimiter = ',',
        value_name = "LIST"
    )]
    pub include_databases: Vec<String>,

    /// With --auto-discover-databases: skip these databases (comma-separated).
    #[arg(
        long = "exclude-databases",
        env = "PG_EXPORTER_EXCLUDE_DATABASES",
        value_delimiter = ',',
        value_name = "LIST"
    )]
    pub exclude_databases: Vec<String>,

    /// Labels added to every series, as label=value pairs separated by commas.
    #[arg(
        long = "constantLabels",
        env = "PG_EXPORTER_CONSTANT_LABELS",
        value_name = "LIST"
    )]
    pub constant_labels: Option<String>,

    /// Add `server="host:port"` to every series, as postgres_exporter 0.11
    /// did; today's postgres_exporter and sidewatch leave it out.
    #[arg(long = "compat.server-label", env = "SIDEWATCH_PG_SERVER_LABEL", action = ArgAction::SetTrue)]
    pub server_label: bool,

    /// Auth modules for /probe, in postgres_exporter's config file format.
    /// A missing file is fine unless this flag names it explicitly.
    #[arg(
        id = "exporter_config_file",
        long = "config.file",
        env = "PG_EXPORTER_CONFIG_FILE",
        value_name = "FILE"
    )]
    pub exporter_config_file: Option<PathBuf>,

    /// Most connections open to the server at once, across all databases.
    #[arg(long = "pg.max-connections", env = "SIDEWATCH_PG_MAX_CONNECTIONS", default_value_t = 3,
          value_parser = clap::value_parser!(u16).range(1..), value_name = "N")]
    pub max_connections: u16,

    /// How long connecting to the server may take.
    #[arg(long = "pg.connect-timeout", env = "SIDEWATCH_PG_CONNECT_TIMEOUT", default_value = "5s",
          value_parser = cli::parse_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,

    /// Server-side statement_timeout of every query (never longer than what
    /// is left of the scrape); custom queries can ask for less with `timeout`.
    #[arg(long = "pg.statement-timeout", env = "SIDEWATCH_PG_STATEMENT_TIMEOUT", default_value = "5s",
          value_parser = cli::parse_duration, value_name = "DURATION")]
    pub statement_timeout: Duration,

    /// Run every query as it is instead of preparing it once per
    /// connection (for a pooler that hands out sessions per query, though
    /// one is noticed and queries then go unprepared by themselves).
    #[arg(long = "no-pg.prepare", env = "SIDEWATCH_PG_NO_PREPARE", action = ArgAction::SetTrue)]
    pub no_prepare: bool,

    /// stat_statements: most statements reported.
    #[arg(long = "collector.stat_statements.limit", env = "SIDEWATCH_COLLECTOR_STAT_STATEMENTS_LIMIT",
          default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..10_001), value_name = "N")]
    pub stat_statements_limit: u32,

    /// stat_statements: add the statement text, cut to query_length, as a `query` label.
    #[arg(long = "collector.stat_statements.include_query", env = "SIDEWATCH_COLLECTOR_STAT_STATEMENTS_INCLUDE_QUERY", action = ArgAction::SetTrue)]
    pub stat_statements_include_query: bool,

    /// stat_statements: longest statement text in the `query` label.
    #[arg(long = "collector.stat_statements.query_length", env = "SIDEWATCH_COLLECTOR_STAT_STATEMENTS_QUERY_LENGTH",
          default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..4097), value_name = "N")]
    pub stat_statements_query_length: u32,

    /// stat_statements: databases to leave out (comma-separated).
    #[arg(
        long = "collector.stat_statements.exclude_databases",
        env = "SIDEWATCH_COLLECTOR_STAT_STATEMENTS_EXCLUDE_DATABASES",
        value_delimiter = ',',
        value_name = "LIST"
    )]
    pub stat_statements_exclude_databases: Vec<String>,

    /// stat_statements: users to leave out (comma-separated).
    #[arg(
        long = "collector.stat_statements.exclude_users",
        env = "SIDEWATCH_COLLECTOR_STAT_STATEMENTS_EXCLUDE_USERS",
        value_delimiter = ',',
        value_name = "LIST"
    )]
    pub stat_statements_exclude_users: Vec<String>,

    /// Bound on one collection, as postgres_exporter's flag: sets the scrape
    /// deadline (--scrape.timeout) unless that is given too.
    #[arg(long = "collection-timeout", env = "PG_EXPORTER_COLLECTION_TIMEOUT",
          value_parser = cli::parse_duration, value_name = "DURATION")]
    pub collection_timeout: Option<std::time::Duration>,

    /// Print the built-in queries (the collectors' SQL and metric mapping,
    /// in the --extend.query-path format) and exit.
    #[arg(long = "dumpmaps", action = ArgAction::SetTrue)]
    pub dumpmaps: bool,

    /// Accepted for postgres_exporter's command lines; only its default `pg`
    /// is supported (the shipped rules and dashboards select pg_*).
    #[arg(
        long = "metric-prefix",
        env = "PG_EXPORTER_METRIC_PREFIX",
        default_value = "pg",
        value_name = "PREFIX"
    )]
    pub metric_prefix: String,
}

/// postgres_exporter 0.19's flags that sidewatch-postgres does not take.
pub const REFUSED_FLAGS: &[cli::RefusedFlag] = &[(
    "web.systemd-socket",
    "systemd socket activation is not supported; listen with --web.listen-address",
)];

/// The whole command definition, with `--collector.<name>` switches.
pub fn command() -> clap::Command {
    let cmd = Cli::command()
        .args_override_self(true)
        .mut_arg("listen_address", |a| a.default_value(":9187"));
    cli::add_collector_flags(cmd, &collectors::specs())
}

/// postgres_exporter's config file: auth modules for /probe.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExporterFile {
    #[serde(default)]
    pub auth_modules: HashMap<String, AuthModule>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthModule {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub userpass: Option<UserPass>,
    /// Extra connection parameters (e.g. sslmode).
    #[serde(default)]
    pub options: HashMap<String, String>,
}

impl std::fmt::Debug for AuthModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthModule")
            .field("type", &self.kind)
            .finish()
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPass {
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// The password read from this file at start (a mounted Secret, so the
    /// module file itself can be a ConfigMap); instead of `password`.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// Everything sidewatch-postgres needs, validated.
pub struct PgConfig {
    pub cli: Cli,
    /// None only with /probe-only use (no DATA_SOURCE_* set).
    pub target: Option<Target>,
    pub collectors: Vec<&'static str>,
    pub custom_queries: Vec<QuerySpec>,
    pub labels: SeriesLabels,
    pub databases: DatabaseSelection,
    pub pool: PoolSettings,
    pub stat_statements: StatStatementsOptions,
    pub auth_modules: HashMap<String, AuthModule>,
    /// Which hosts `/probe` may reach.
    pub probe_policy: TargetPolicy,
    pub http: HttpOptions,
}

fn parse_constant_labels(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not label=value"))?;
            let k = k.trim();
            let valid = k
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid || k.starts_with("__") {
                return Err(format!("{k:?} is not a valid label name"));
            }
            Ok((k.to_owned(), v.trim().to_owned()))
        })
        .collect()
}

impl PgConfig {
    /// Parses flags and the given environment.
    pub fn from_args<I, T>(args: I, env: &HashMap<String, String>) -> Result<Self, StartError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cmd = command();
        cli::check_collector_env(&cmd, env.keys().cloned())?;
        let args: Vec<std::ffi::OsString> = args
            .into_iter()
            .map(Into::into)
            // postgres_exporter's long help is this help.
            .map(|a| {
                if a == "--help-long" {
                    "--help".into()
                } else {
                    a
                }
            })
            .collect();
        cli::refuse_peer_flags(&args, REFUSED_FLAGS)?;
        let matches = cli::get_matches(cmd, args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        if cli.dumpmaps {
            return Err(StartError::Info(collectors::BUILTIN_YAML.to_owned()));
        }
        if cli.metric_prefix != "pg" {
            return Err(StartError::Config(format!(
                "--metric-prefix {:?} is not supported by sidewatch: only \"pg\", which the shipped rules and dashboards select; rename in Prometheus with metric_relabel_configs",
                cli.metric_prefix
            )));
        }
        if let Some(t) = cli.collection_timeout {
            let explicit = matches.value_source("timeout")
                == Some(clap::parser::ValueSource::CommandLine)
                || env.contains_key("SIDEWATCH_SCRAPE_TIMEOUT");
            if !explicit {
                cli.common.scrape.timeout = t;
                // The request must outlive the collection it waits for.
                let request_explicit = matches.value_source("request_timeout")
                    == Some(clap::parser::ValueSource::CommandLine)
                    || env.contains_key("SIDEWATCH_WEB_REQUEST_TIMEOUT");
                if !request_explicit && cli.common.web.request_timeout <= t {
                    cli.common.web.request_timeout = t + Duration::from_secs(5);
                }
            }
        }
        let mut collectors = cli::enabled_collectors(&matches, &collectors::specs());
        if cli.disable_default_metrics {
            collectors.retain(|c| !crate::collectors::is_default_metric(c));
        }
        if cli.disable_settings_metrics {
            collectors.retain(|c| *c != "settings");
        }
        let target = match dsn::from_env(env) {
            Ok(t) => Some(t),
            // Without a data source the exporter still serves /probe.
            Err(dsn::DsnError::Missing) => None,
            Err(e) => return Err(StartError::Config(e.to_string())),
        };
        let custom_queries = match &cli.extend_query_path {
            None => Vec::new(),
            Some(path) => {
                let text = cli::read_config_file(path).map_err(|e| {
                    StartError::Config(format!("--extend.query-path {}: {e}", path.display()))
                })?;
                let specs = queries::parse(&path.display().to_string(), &text)
                    .map_err(|e| StartError::Config(e.to_string()))?;
                let builtin_names: Vec<&str> =
                    collectors::ALL.iter().map(|d| d.spec.name).collect();
                if let Some(clash) = specs
                    .iter()
                    .find(|s| builtin_names.contains(&s.id.as_str()) || s.id == "static")
                {
                    return Err(StartError::Config(format!(
                        "{}: query {:?} has the name of a built-in collector",
                        path.display(),
                        clash.id
                    )));
                }
                specs
            }
        };
        let constant_labels = cli
            .constant_labels
            .as_deref()
            .map(parse_constant_labels)
            .transpose()
            .map_err(|e| StartError::Config(format!("--constantLabels: {e}")))?
            .unwrap_or_default();
        let auth_modules = match &cli.exporter_config_file {
            None => {
                // The peer's default file, read when present.
                let default = PathBuf::from("postgres_exporter.yml");
                if default.exists() {
                    load_exporter_file(&default)?.auth_modules
                } else {
                    HashMap::new()
                }
            }
            Some(path) => load_exporter_file(path)?.auth_modules,
        };
        if cli.connect_timeout.is_zero() || cli.statement_timeout.is_zero() {
            return Err(StartError::Config(
                "--pg.connect-timeout and --pg.statement-timeout must be positive".to_owned(),
            ));
        }
        let probe_policy = TargetPolicy::from_args(&cli.probe).map_err(StartError::Config)?;
        let mut http = HttpOptions::from_flags(&cli.common.web, &cli.common.scrape)?;
        http.extra_links = vec![("/probe?target=".to_owned(), "Probe a target".to_owned())];
        Ok(Self {
            databases: DatabaseSelection {
                auto_discover: cli.auto_discover_databases,
                include: cli.include_databases.clone(),
                exclude: cli.exclude_databases.clone(),
            },
            pool: PoolSettings {
                max_connections: usize::from(cli.max_connections),
                connect_timeout: cli.connect_timeout,
                statement_timeout: cli.statement_timeout,
                prepare: !cli.no_prepare,
            },
            stat_statements: StatStatementsOptions {
                limit: cli.stat_statements_limit,
                include_query: cli.stat_statements_include_query,
                query_length: cli.stat_statements_query_length,
                exclude_databases: cli.stat_statements_exclude_databases.clone(),
                exclude_users: cli.stat_statements_exclude_users.clone(),
            },
            target,
            collectors,
            custom_queries,
            labels: SeriesLabels {
                constant: constant_labels,
                server: cli.server_label,
            },
            auth_modules,
            probe_policy,
            http,
            cli,
        })
    }
}

fn load_exporter_file(path: &std::path::Path) -> Result<ExporterFile, StartError> {
    let text = cli::read_config_file(path)
        .map_err(|e| StartError::Config(format!("--config.file {}: {e}", path.display())))?;
    if text.trim().is_empty() {
        return Ok(ExporterFile::default());
    }
    let mut file: ExporterFile = serde_yaml::from_str(&text)
        .map_err(|e| StartError::Config(format!("--config.file {}: {e}", path.display())))?;
    for (name, m) in &mut file.auth_modules {
        if m.kind != "userpass" {
            return Err(StartError::Config(format!(
                "--config.file {}: auth module {name:?}: type {:?} is not supported (userpass is)",
                path.display(),
                m.kind
            )));
        }
        let Some(up) = m.userpass.as_mut() else {
            return Err(StartError::Config(format!(
                "--config.file {}: auth module {name:?}: userpass is missing",
                path.display()
            )));
        };
        if let Some(secret) = &up.password_file {
            if !up.password.is_empty() {
                return Err(StartError::Config(format!(
                    "--config.file {}: auth module {name:?}: password and password_file are exclusive",
                    path.display()
                )));
            }
            let text = std::fs::read_to_string(secret).map_err(|e| {
                StartError::Config(format!(
                    "--config.file {}: auth module {name:?}: password_file {}: {e}",
                    path.display(),
                    secret.display()
                ))
            })?;
            // A Secret's file may end in a newline the password does not have.
            up.password = text.trim_end_matches(['\n', '\r']).to_owned();
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_module_passwords_come_from_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let secret = dir.path().join("password");
        std::fs::write(&secret, "s3cret\n").expect("write");
        let module = |extra: &str| {
            let f = dir.path().join("postgres_exporter.yml");
            std::fs::write(
                &f,
                format!("auth_modules:\n  m:\n    type: userpass\n    userpass:\n      username: u\n{extra}"),
            )
            .expect("write");
            load_exporter_file(&f)
        };
        let file = module(&format!("      password_file: {}\n", secret.display())).expect("loads");
        let up = file.auth_modules["m"].userpass.as_ref().expect("userpass");
        assert_eq!(up.password, "s3cret");
        let both = module(&format!(
            "      password: x\n      password_file: {}\n",
            secret.display()
        ));
        assert!(matches!(both, Err(StartError::Config(m)) if m.contains("exclusive")));
        let missing = module("      password_file: /nonexistent/password\n");
        assert!(
            matches!(&missing, Err(StartError::Config(m)) if m.contains("\"m\"") && m.contains("/nonexistent/password")),
            "{:?}",
            missing.err().map(|e| match e {
                StartError::Config(m) => m,
                _ => "another error".into(),
            })
        );
    }

    #[test]
    fn collection_timeout_sets_the_scrape_deadline_unless_it_is_given() {
        let dsn = env(&[("DATA_SOURCE_NAME", "postgresql://u@h/db")]);
        let c = PgConfig::from_args(["x", "--collection-timeout=1m"], &dsn).expect("ok");
        assert_eq!(c.cli.common.scrape.timeout, Duration::from_secs(60));
        assert!(c.cli.common.web.request_timeout > Duration::from_secs(60));
        let c = PgConfig::from_args(
            ["x", "--collection-timeout=1m", "--scrape.timeout=7s"],
            &dsn,
        )
        .expect("ok");
        assert_eq!(c.cli.common.scrape.timeout, Duration::from_secs(7));
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_misspelt_collector_in_the_environment_is_refused() {
        let args = ["sidewatch-postgres", "--config.check"];
        let err = PgConfig::from_args(args, &env(&[("SIDEWATCH_COLLECTOR_STAT_DATABSE", "true")]))
            .err()
            .expect("refused");
        assert!(
            matches!(&err, StartError::Config(m) if m.contains("SIDEWATCH_COLLECTOR_STAT_DATABSE")),
            "{err:?}"
        );
        let ok = PgConfig::from_args(
            args,
            &env(&[("SIDEWATCH_COLLECTOR_STAT_DATABASE", "false")]),
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn command_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn peer_flags_are_accepted() {
        let c = PgConfig::from_args(
            [
                "sidewatch-postgres",
                "--disable-settings-metrics",
                "--auto-discover-databases",
                "--exclude-databases=a,b",
                "--no-collector.locks",
                "--collector.stat_statements",
                "--constantLabels=env=prod,team=db",
            ],
            &env(&[("DATA_SOURCE_NAME", "postgresql://u@h/db")]),
        )
        .unwrap_or_else(|_| panic!("valid"));
        assert!(!c.collectors.contains(&"settings"));
        assert!(!c.collectors.contains(&"locks"));
        assert!(c.collectors.contains(&"stat_statements"));
        assert!(c.collectors.contains(&"stat_database"));
        assert_eq!(c.databases.exclude, ["a", "b"]);
        assert_eq!(c.labels.constant.len(), 2);
    }

    #[test]
    fn disable_default_metrics_keeps_settings_and_opt_ins() {
        let c = PgConfig::from_args(
            ["x", "--disable-default-metrics", "--collector.postmaster"],
            &env(&[("DATA_SOURCE_NAME", "postgresql://u@h/db")]),
        )
        .unwrap_or_else(|_| panic!("valid"));
        assert_eq!(c.collectors, ["settings", "postmaster"]);
    }

    #[test]
    fn bad_query_file_names_file_and_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let q = dir.path().join("q.yaml");
        std::fs::write(
            &q,
            "a:\n  query: SELECT 1\n  metrics:\n    - x:\n        usage: NOPE\n",
        )
        .expect("write");
        let arg = format!("--extend.query-path={}", q.display());
        match PgConfig::from_args(["x", arg.as_str()], &env(&[])) {
            Err(StartError::Config(msg)) => {
                assert!(msg.contains("q.yaml:5:"), "{msg}");
                assert!(msg.contains("NOPE"), "{msg}");
            }
            _ => panic!("must be refused"),
        }
    }
}
