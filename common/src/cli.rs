//! Flags every exporter shares, `--collector.<name>` switches, and the one
//! place where a bad command line becomes one line on stderr and exit code 2.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::engine::ScrapeSettings;
use crate::logging::{LogFormat, LogLevel};

/// Exit code for bad flags or configuration.
pub const EXIT_CONFIG: i32 = 2;

/// HTTP listener flags.
#[derive(Debug, Clone, clap::Args)]
pub struct WebArgs {
    /// Addresses to listen on for the web interface and telemetry, as host:port
    /// or :port (all interfaces). Repeatable or comma-separated.
    #[arg(
        long = "web.listen-address",
        env = "SIDEWATCH_WEB_LISTEN_ADDRESS",
        value_delimiter = ',',
        value_name = "ADDR"
    )]
    pub listen_address: Vec<String>,

    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        env = "SIDEWATCH_WEB_TELEMETRY_PATH",
        default_value = "/metrics",
        value_name = "PATH"
    )]
    pub telemetry_path: String,

    /// Web config file (exporter-toolkit format) enabling TLS and/or basic auth.
    #[arg(
        long = "web.config.file",
        env = "SIDEWATCH_WEB_CONFIG_FILE",
        value_name = "FILE"
    )]
    pub config_file: Option<PathBuf>,

    /// Longest time any HTTP request may take before it is answered 408.
    #[arg(
        long = "web.request-timeout",
        env = "SIDEWATCH_WEB_REQUEST_TIMEOUT",
        default_value = "30s",
        value_parser = parse_duration,
        value_name = "DURATION"
    )]
    pub request_timeout: Duration,

    /// Longest time a client may take to send a request's headers, and to
    /// send the next request on a kept-alive connection; then the connection
    /// is closed. Idle and half-sent connections cannot pile up.
    #[arg(
        long = "web.read-header-timeout",
        env = "SIDEWATCH_WEB_READ_HEADER_TIMEOUT",
        default_value = "10s",
        value_parser = parse_duration,
        value_name = "DURATION"
    )]
    pub read_header_timeout: Duration,
}

/// Scrape engine flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ScrapeArgs {
    /// Upper bound of a scrape's deadline; the scraper's
    /// X-Prometheus-Scrape-Timeout-Seconds minus the offset applies when shorter.
    #[arg(
        long = "scrape.timeout",
        env = "SIDEWATCH_SCRAPE_TIMEOUT",
        default_value = "10s",
        value_parser = parse_duration,
        value_name = "DURATION"
    )]
    pub timeout: Duration,

    /// Subtracted from the scraper's timeout to leave time to encode and send.
    #[arg(
        long = "scrape.timeout-offset",
        env = "SIDEWATCH_SCRAPE_TIMEOUT_OFFSET",
        default_value = "500ms",
        value_parser = parse_duration,
        value_name = "DURATION"
    )]
    pub timeout_offset: Duration,

    /// Most series one collector may emit per scrape; the rest are dropped and
    /// counted in <ns>_scrape_collector_dropped_series_total.
    #[arg(
        long = "scrape.series-limit",
        env = "SIDEWATCH_SCRAPE_SERIES_LIMIT",
        default_value_t = 20_000,
        value_parser = clap::value_parser!(u64).range(1..),
        value_name = "N"
    )]
    pub series_limit: u64,
}

impl ScrapeArgs {
    pub fn settings(&self) -> ScrapeSettings {
        ScrapeSettings {
            timeout: self.timeout,
            timeout_offset: self.timeout_offset,
            series_limit: usize::try_from(self.series_limit).unwrap_or(usize::MAX),
        }
    }
}

/// The flags every exporter has, declared once: web, scrape, logging and
/// `--config.check`. Each exporter's `Cli` flattens this.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub web: WebArgs,

    #[command(flatten)]
    pub scrape: ScrapeArgs,

    #[command(flatten)]
    pub log: LogArgs,

    /// Validate the flags and configuration files and exit: 0 when valid,
    /// 2 with the problem otherwise.
    #[arg(long = "config.check", action = ArgAction::SetTrue)]
    pub config_check: bool,
}

/// Logging flags.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Only log messages with the given severity or above.
    #[arg(
        long = "log.level",
        env = "SIDEWATCH_LOG_LEVEL",
        default_value = "info",
        value_enum
    )]
    pub level: LogLevel,

    /// Output format of log messages.
    #[arg(
        long = "log.format",
        env = "SIDEWATCH_LOG_FORMAT",
        default_value = "logfmt",
        value_enum
    )]
    pub format: LogFormat,
}

/// Largest configuration file read (queries, queues, directories, web
/// config); real ones are a few KiB. `--config.file=/dev/zero` or a log file
/// given by mistake fails at once instead of filling memory.
pub const CONFIG_FILE_MAX_BYTES: u64 = 4 << 20;

/// Reads a configuration file of at most [`CONFIG_FILE_MAX_BYTES`] as UTF-8;
/// the error is the problem alone (callers name the flag and the file).
pub fn read_config_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(CONFIG_FILE_MAX_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > CONFIG_FILE_MAX_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {} MiB; is this the right file?",
                CONFIG_FILE_MAX_BYTES >> 20
            ),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// Parses `500ms`, `10s`, `1m`, `1h`, `1m30s` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?} is not a duration"));
    }
    let bad = || format!("{s:?} is not a duration (use e.g. 500ms, 10s, 1m)");
    let mut total = Duration::ZERO;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(digits);
        let value: f64 = num.parse().map_err(|_| bad())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            _ => return Err(bad()),
        };
        total = Duration::try_from_secs_f64(value * scale)
            .ok()
            .and_then(|d| total.checked_add(d))
            .ok_or_else(|| format!("{s:?} is too long a duration"))?;
        rest = tail;
    }
    Ok(total)
}

/// A collector an exporter offers, with its default state.
#[derive(Clone, Copy, Debug)]
pub struct CollectorSpec {
    pub name: &'static str,
    pub default_enabled: bool,
    pub help: &'static str,
}

impl CollectorSpec {
    /// On by default.
    pub const fn on(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            default_enabled: true,
            help,
        }
    }

    /// Off by default.
    pub const fn off(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            default_enabled: false,
            help,
        }
    }
}

/// Refuses `SIDEWATCH_COLLECTOR_*` variables that name no collector and no
/// flag of `cmd`: a misspelt collector in the environment is an error, as it
/// is on the command line, not a silent no-op.
pub fn check_collector_env(
    cmd: &Command,
    vars: impl IntoIterator<Item = String>,
) -> Result<(), StartError> {
    let known: std::collections::HashSet<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    for var in vars {
        if var.starts_with("SIDEWATCH_COLLECTOR_") && !known.contains(&var) {
            return Err(StartError::Config(format!(
                "environment variable {var} names no collector or collector flag"
            )));
        }
    }
    Ok(())
}

fn collector_env(name: &str) -> String {
    format!(
        "SIDEWATCH_COLLECTOR_{}",
        name.to_ascii_uppercase().replace(['.', '-'], "_")
    )
}

/// Adds `--collector.<name>` / `--no-collector.<name>` for each collector and
/// `--collector.disable-defaults`, in node_exporter's style.
pub fn add_collector_flags(mut cmd: Command, specs: &[CollectorSpec]) -> Command {
    cmd = cmd.arg(
        Arg::new("collector.disable-defaults")
            .long("collector.disable-defaults")
            .env("SIDEWATCH_COLLECTOR_DISABLE_DEFAULTS")
            .action(ArgAction::SetTrue)
            .help("Disable all collectors that are on by default; enable the wanted ones with --collector.<name>")
            .help_heading("Collectors"),
    );
    for spec in specs {
        let state = if spec.default_enabled {
            "enabled"
        } else {
            "disabled"
        };
        cmd = cmd
            .arg(
                Arg::new(format!("collector.{}", spec.name))
                    .long(format!("collector.{}", spec.name))
                    .env(collector_env(spec.name))
                    .num_args(0..=1)
                    .require_equals(true)
                    .default_missing_value("true")
                    .value_parser(clap::builder::BoolishValueParser::new())
                    .help(format!(
                        "Enable the {} collector: {} (default: {state})",
                        spec.name, spec.help
                    ))
                    .help_heading("Collectors"),
            )
            .arg(
                Arg::new(format!("no-collector.{}", spec.name))
                    .long(format!("no-collector.{}", spec.name))
                    .action(ArgAction::SetTrue)
                    .hide(true),
            );
    }
    cmd
}

/// The collectors the flags enable, in spec order.
pub fn enabled_collectors(matches: &ArgMatches, specs: &[CollectorSpec]) -> Vec<&'static str> {
    let disable_defaults = matches.get_flag("collector.disable-defaults");
    specs
        .iter()
        .filter(|spec| {
            if matches.get_flag(&format!("no-collector.{}", spec.name)) {
                return false;
            }
            match matches.get_one::<bool>(&format!("collector.{}", spec.name)) {
                Some(explicit) => *explicit,
                None => spec.default_enabled && !disable_defaults,
            }
        })
        .map(|spec| spec.name)
        .collect()
}

/// A YAML configuration file that does not parse into its schema: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based; 1 when the parser names no place.
    pub line: usize,
    /// The parser's message without its own " at line L column C".
    pub message: String,
}

/// Parses a configuration file's text into `T`, the error with its line:
/// every exporter's files report problems the same way (`file:line: why`).
pub fn parse_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_yaml::from_str(text).map_err(|e| {
        let line = e.location().map_or(1, |l| l.line());
        let message = e.to_string();
        let message = match message.find(" at line ") {
            Some(i) => message[..i].to_owned(),
            None => message,
        };
        YamlError { line, message }
    })
}

/// Why the program could not start, and the exit code to use.
#[derive(Debug)]
pub enum StartError {
    /// `--help` / `--version`: print to stdout, exit 0.
    Info(String),
    /// Bad flag, value or configuration: one line, exit 2.
    Config(String),
}

/// A peer's flag that sidewatch does not take: the name without dashes and
/// the one-line reason an operator is given.
pub type RefusedFlag = (&'static str, &'static str);

/// Refuses, before clap sees them, the peer flags in `refused`: written with
/// one dash or two, alone or with `=value`. The error is one line naming the
/// flag and saying why (exit 2), so a command line copied from the peer fails
/// at start instead of silently meaning something else.
pub fn refuse_peer_flags<T: AsRef<std::ffi::OsStr>>(
    args: &[T],
    refused: &[RefusedFlag],
) -> Result<(), StartError> {
    for arg in args.iter().skip(1) {
        let Some(s) = arg.as_ref().to_str() else {
            continue;
        };
        if s == "--" {
            break;
        }
        let Some(name) = s.strip_prefix("--").or_else(|| s.strip_prefix('-')) else {
            continue;
        };
        let name = name.split('=').next().unwrap_or_default();
        if let Some((flag, why)) = refused.iter().find(|(f, _)| *f == name) {
            return Err(StartError::Config(format!(
                "--{flag} is not supported by sidewatch: {why}"
            )));
        }
    }
    Ok(())
}

/// Parses the command line, turning clap's multi-line errors into one line.
pub fn get_matches<I, T>(cmd: Command, args: I) -> Result<ArgMatches, StartError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    cmd.try_get_matches_from(args).map_err(StartError::from)
}

/// clap's errors span several lines (usage, tips); an operator gets the first.
impl From<clap::Error> for StartError {
    fn from(e: clap::Error) -> Self {
        use clap::error::ErrorKind;
        match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => StartError::Info(e.to_string()),
            _ => {
                let rendered = e.to_string();
                let line = rendered
                    .lines()
                    .next()
                    .unwrap_or("invalid arguments")
                    .trim();
                StartError::Config(line.to_owned())
            }
        }
    }
}

/// Prints a start error and exits with its code. Only binaries call this.
pub fn exit_with(err: StartError) -> ! {
    match err {
        StartError::Info(text) => {
            print!("{text}");
            std::process::exit(0)
        }
        StartError::Config(line) => {
            let line = if line.starts_with("error:") {
                line
            } else {
                format!("error: {line}")
            };
            eprintln!("{line}");
            std::process::exit(EXIT_CONFIG)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_flags_are_refused_by_name_with_a_reason() {
        let refused: &[RefusedFlag] = &[("is-tile38", "Tile38 is not supported")];
        for spelling in ["-is-tile38", "--is-tile38", "--is-tile38=true"] {
            match refuse_peer_flags(&["x", "--debug", spelling], refused) {
                Err(StartError::Config(line)) => {
                    assert_eq!(
                        line,
                        "--is-tile38 is not supported by sidewatch: Tile38 is not supported"
                    );
                }
                other => panic!("{spelling}: {other:?}"),
            }
        }
        assert!(refuse_peer_flags(&["x", "--is-tile", "--", "--is-tile38"], refused).is_ok());
        // A value that happens to look like the flag is the flag's business.
        assert!(refuse_peer_flags(&["is-tile38", "--namespace=is-tile38"], refused).is_ok());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1").is_err());
        for huge in ["1e300", "1e300s", "99999999999999999999h", "inf"] {
            assert!(parse_duration(huge).is_err(), "{huge}");
        }
    }

    #[test]
    fn config_files_are_read_with_a_size_cap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let small = dir.path().join("small.yml");
        std::fs::write(&small, "a: 1\n").expect("write");
        assert_eq!(read_config_file(&small).expect("small"), "a: 1\n");
        let err = read_config_file(std::path::Path::new("/dev/zero")).expect_err("/dev/zero");
        assert!(err.to_string().contains("larger than 4 MiB"), "{err}");
        let binary = dir.path().join("bin");
        std::fs::write(&binary, [0xff, 0xfe, 0x00]).expect("write");
        assert!(read_config_file(&binary).is_err());
    }

    const SPECS: &[CollectorSpec] = &[
        CollectorSpec {
            name: "cpu",
            default_enabled: true,
            help: "CPU",
        },
        CollectorSpec {
            name: "meminfo",
            default_enabled: true,
            help: "memory",
        },
        CollectorSpec {
            name: "extra",
            default_enabled: false,
            help: "extra",
        },
    ];

    fn enabled(args: &[&str]) -> Vec<&'static str> {
        let cmd = add_collector_flags(Command::new("t"), SPECS);
        let m = get_matches(cmd, std::iter::once("t").chain(args.iter().copied()))
            .unwrap_or_else(|_| panic!("parse {args:?}"));
        enabled_collectors(&m, SPECS)
    }

    #[test]
    fn collector_switches() {
        assert_eq!(enabled(&[]), ["cpu", "meminfo"]);
        assert_eq!(enabled(&["--no-collector.cpu"]), ["meminfo"]);
        assert_eq!(enabled(&["--collector.extra"]), ["cpu", "meminfo", "extra"]);
        assert_eq!(enabled(&["--collector.cpu=false"]), ["meminfo"]);
        assert_eq!(
            enabled(&["--collector.disable-defaults", "--collector.meminfo"]),
            ["meminfo"]
        );
    }

    #[test]
    fn bad_flag_is_one_line() {
        let cmd = add_collector_flags(Command::new("t"), SPECS);
        match get_matches(cmd, ["t", "--collector.nope"]) {
            Err(StartError::Config(line)) => {
                assert!(line.contains("--collector.nope"), "{line}");
                assert!(!line.contains('\n'));
            }
            other => panic!("{other:?}"),
        }
    }
}
