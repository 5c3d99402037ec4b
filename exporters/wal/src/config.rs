//! Command line and config file of sidewatch-wal, validated into [`WalConfig`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use serde::Deserialize;
use sidewatch_common::cli::{self, CommonArgs, StartError};
use sidewatch_common::http::HttpOptions;

use crate::scan::Kind;
use crate::watch::{DirConfig, WatchSettings};

/// Prometheus exporter for write-ahead-log directories, read from disk: no
/// SQL, no grants, and it keeps reporting while the database is down.
#[derive(Debug, Parser)]
#[command(name = "sidewatch-wal", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    /// A WAL directory to watch (repeatable); its `dir` label is the path.
    #[arg(
        long = "wal.dir",
        env = "SIDEWATCH_WAL_DIR",
        value_delimiter = ',',
        value_name = "PATH"
    )]
    pub dirs: Vec<PathBuf>,

    /// What the --wal.dir directories hold: postgres (pg_wal) or generic.
    #[arg(
        long = "wal.kind",
        env = "SIDEWATCH_WAL_KIND",
        default_value = "postgres",
        value_name = "KIND"
    )]
    pub kind: String,

    /// generic kind: the segment file names, as a glob (`*`, `?`), e.g. *.wal.
    #[arg(
        long = "wal.pattern",
        env = "SIDEWATCH_WAL_PATTERN",
        value_name = "GLOB"
    )]
    pub pattern: Option<String>,

    /// Directories with their own name, kind and pattern (YAML, see docs/wal.md).
    #[arg(
        id = "dirs_file",
        long = "config.file",
        env = "SIDEWATCH_WAL_CONFIG_FILE",
        value_name = "FILE"
    )]
    pub dirs_file: Option<PathBuf>,

    /// Watch by polling at this interval instead of inotify (network mounts,
    /// some container filesystems). Without it, inotify is used and polling
    /// (every 5s) only where inotify fails.
    #[arg(long = "wal.poll-interval", env = "SIDEWATCH_WAL_POLL_INTERVAL",
          value_parser = cli::parse_duration, value_name = "DURATION")]
    pub poll_interval: Option<Duration>,

    /// Full rescan interval while inotify delivers events (catches what events missed).
    #[arg(long = "wal.rescan-interval", env = "SIDEWATCH_WAL_RESCAN_INTERVAL", default_value = "60s",
          value_parser = cli::parse_duration, value_name = "DURATION")]
    pub rescan_interval: Duration,
}

/// The config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub dirs: Vec<FileDir>,
}

/// One directory in the config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDir {
    /// The directory.
    pub path: PathBuf,
    /// The `dir` label (default: the path).
    #[serde(default)]
    pub name: Option<String>,
    /// postgres or generic (default postgres).
    #[serde(default)]
    pub kind: Option<String>,
    /// generic: the segment names as a glob.
    #[serde(default)]
    pub pattern: Option<String>,
}

pub struct WalConfig {
    pub cli: Cli,
    pub dirs: Vec<DirConfig>,
    pub watch: WatchSettings,
    pub http: HttpOptions,
}

pub fn command() -> clap::Command {
    Cli::command()
        .args_override_self(true)
        .mut_arg("listen_address", |a| a.default_value(":9741"))
}

fn kind(what: &str, kind: &str, pattern: Option<&str>) -> Result<Kind, String> {
    match (kind, pattern) {
        ("postgres", None) => Ok(Kind::Postgres),
        ("postgres", Some(_)) => Err(format!("{what}: a pattern is only for kind generic")),
        ("generic", Some(p)) if !p.is_empty() => Ok(Kind::Generic {
            pattern: p.to_owned(),
        }),
        ("generic", _) => Err(format!("{what}: kind generic needs a pattern (e.g. *.wal)")),
        (other, _) => Err(format!("{what}: kind {other:?} is not postgres or generic")),
    }
}

/// Most directories one exporter watches: each costs a watch, a thread's
/// share of rescans and a set of series; thousands are a mistake, not a setup.
pub const MAX_DIRS: usize = 256;

/// Reads the config file; errors are `file:line: problem`.
pub fn load_file(path: &std::path::Path) -> Result<Vec<DirConfig>, String> {
    let text = sidewatch_common::cli::read_config_file(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    parse_file(&text, &path.display().to_string())
}

/// Parses a config file's text; `origin` names it in errors.
pub fn parse_file(text: &str, origin: &str) -> Result<Vec<DirConfig>, String> {
    let file: FileConfig = sidewatch_common::cli::parse_yaml(text)
        .map_err(|e| format!("{origin}:{}: {}", e.line, e.message))?;
    let mut out = Vec::new();
    for (i, d) in file.dirs.into_iter().enumerate() {
        let what = format!("{origin}: dirs[{i}]");
        let k = kind(
            &what,
            d.kind.as_deref().unwrap_or("postgres"),
            d.pattern.as_deref(),
        )?;
        out.push(DirConfig {
            name: d.name.unwrap_or_else(|| d.path.display().to_string()),
            path: d.path,
            kind: k,
        });
    }
    Ok(out)
}

impl WalConfig {
    pub fn from_args<I, T>(args: I) -> Result<Self, StartError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = cli::get_matches(command(), args)?;
        let cli = Cli::from_arg_matches(&matches).map_err(StartError::from)?;
        let bad = StartError::Config;
        let mut dirs = Vec::new();
        if !cli.dirs.is_empty() {
            let k = kind("--wal.kind", &cli.kind, cli.pattern.as_deref()).map_err(bad)?;
            for p in &cli.dirs {
                dirs.push(DirConfig {
                    name: p.display().to_string(),
                    path: p.clone(),
                    kind: k.clone(),
                });
            }
        }
        if let Some(f) = &cli.dirs_file {
            dirs.extend(load_file(f).map_err(bad)?);
        }
        if dirs.is_empty() {
            return Err(StartError::Config(
                "no directory to watch: give --wal.dir or --config.file".into(),
            ));
        }
        if dirs.len() > MAX_DIRS {
            return Err(StartError::Config(format!(
                "{} directories to watch; at most {MAX_DIRS} (one exporter per database server)",
                dirs.len()
            )));
        }
        let mut names: Vec<&str> = dirs.iter().map(|d| d.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(StartError::Config(format!(
                "directory name {:?} is used twice",
                w[0]
            )));
        }
        let watch = WatchSettings {
            rescan_interval: cli.rescan_interval,
            poll_interval: cli.poll_interval.unwrap_or(Duration::from_secs(5)),
            force_poll: cli.poll_interval.is_some(),
            ..WatchSettings::default()
        };
        let http = HttpOptions::from_flags(&cli.common.web, &cli.common.scrape)?;
        Ok(WalConfig {
            cli,
            dirs,
            watch,
            http,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<WalConfig, StartError> {
        WalConfig::from_args(std::iter::once("sidewatch-wal").chain(args.iter().copied()))
    }

    #[test]
    fn command_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn flags_and_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("wal.yml");
        std::fs::write(
            &f,
            "dirs:\n  - path: /var/lib/app/wal\n    name: app\n    kind: generic\n    pattern: '*.wal'\n",
        )
        .expect("write");
        let c = parse(&[
            "--wal.dir=/pg/wal",
            &format!("--config.file={}", f.display()),
        ])
        .unwrap_or_else(|_| panic!("parse"));
        assert_eq!(c.dirs.len(), 2);
        assert_eq!(c.dirs[0].kind, Kind::Postgres);
        assert_eq!(c.dirs[1].name, "app");
        assert!(!c.watch.force_poll);
        let c =
            parse(&["--wal.dir=/x", "--wal.poll-interval=2s"]).unwrap_or_else(|_| panic!("parse"));
        assert!(c.watch.force_poll);
    }

    #[test]
    fn bad_config_is_one_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("wal.yml");
        std::fs::write(&f, "dirs:\n  - path: /a\n    colour: blue\n").expect("write");
        let file_arg = format!("--config.file={}", f.display());
        let many: Vec<String> = (0..=MAX_DIRS).map(|i| format!("--wal.dir=/d{i}")).collect();
        for (args, needle) in [
            (vec![], "no directory"),
            (
                vec!["--wal.dir=/a", "--wal.kind=generic"],
                "needs a pattern",
            ),
            (
                vec!["--wal.dir=/a", "--wal.kind=mysql"],
                "not postgres or generic",
            ),
            (vec!["--wal.dir=/a", "--wal.dir=/a"], "used twice"),
            (vec![file_arg.as_str()], "wal.yml:3"),
            (many.iter().map(String::as_str).collect(), "at most 256"),
        ] {
            match parse(&args) {
                Err(StartError::Config(line)) => {
                    assert!(line.contains(needle), "{args:?}: {line}");
                    assert!(!line.contains('\n'), "{line}");
                }
                _ => panic!("{args:?} accepted"),
            }
        }
    }
}
