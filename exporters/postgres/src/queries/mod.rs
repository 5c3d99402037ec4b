//! Queries in postgres_exporter's `queries.yaml` format — for the built-in
//! collectors and for `--extend.query-path` alike — and the turning of their
//! rows into metric families.
//!
//! The format, as the peer reads it:
//!
//! ```yaml
//! pg_replication:                 # metric prefix
//!   query: "SELECT ..."
//!   master: true                  # run only in the DSN's database
//!   cache_seconds: 30             # reuse the result for this long
//!   runonserver: ">=10.0.0"       # only on matching server versions
//!   metrics:
//!     - lag:
//!         usage: "GAUGE"          # LABEL, COUNTER, GAUGE, MAPPEDMETRIC, DURATION, DISCARD
//!         description: "Replication lag behind master in seconds"
//! ```
//!
//! sidewatch adds, all optional: `timeout` (e.g. `2s`, server-side and
//! client-side), `max_series` (rows beyond it are dropped and counted),
//! `all_databases: true` (run in every scraped database, adding `datname`),
//! and `min_server_version` / `max_server_version` (`server_version_num`).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Deserialize;

mod families;
mod values;

pub use families::{rows_to_families, FamilySet, RowSink, LABEL_VALUE_MAX_BYTES};
pub use values::{duration_ms, parse_timestamp, to_f64};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Usage {
    #[serde(rename = "LABEL")]
    Label,
    #[serde(rename = "COUNTER")]
    Counter,
    #[serde(rename = "GAUGE")]
    Gauge,
    #[serde(rename = "MAPPEDMETRIC")]
    MappedMetric,
    #[serde(rename = "DURATION")]
    Duration,
    #[serde(rename = "DISCARD")]
    Discard,
    #[serde(rename = "HISTOGRAM")]
    Histogram,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    usage: Usage,
    #[serde(default)]
    description: String,
    #[serde(default)]
    mapping: BTreeMap<String, f64>,
    /// Accepted for compatibility; the peer ignores it too.
    #[serde(default, rename = "supersedes")]
    _supersedes: Option<serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuery {
    query: String,
    #[serde(default)]
    master: bool,
    #[serde(default)]
    cache_seconds: u64,
    #[serde(default)]
    runonserver: Option<String>,
    metrics: Vec<BTreeMap<String, RawColumn>>,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    max_series: Option<usize>,
    #[serde(default)]
    all_databases: bool,
    #[serde(default)]
    min_server_version: Option<u32>,
    #[serde(default)]
    max_server_version: Option<u32>,
    /// Metric prefix when it differs from the key (version variants of one query).
    #[serde(default)]
    prefix: Option<String>,
}

/// One column's meaning.
#[derive(Debug, Clone)]
pub struct ColumnSpec {
    pub name: String,
    pub usage: Usage,
    pub description: String,
    pub mapping: HashMap<String, f64>,
}

/// One query, validated.
#[derive(Debug, Clone)]
pub struct QuerySpec {
    /// The YAML key: names the query in logs and, for custom queries, its collector.
    pub id: String,
    /// Metric prefix: the key, or `prefix` when given.
    pub name: String,
    pub query: String,
    pub master: bool,
    pub cache: Duration,
    pub timeout: Option<Duration>,
    pub max_series: Option<usize>,
    pub all_databases: bool,
    pub versions: VersionRange,
    pub columns: Vec<ColumnSpec>,
}

/// Server versions a query runs on.
#[derive(Debug, Clone, Default)]
pub struct VersionRange {
    /// (operator, version as server_version_num-comparable triple)
    constraints: Vec<(String, (u32, u32, u32))>,
    min_num: Option<u32>,
    max_num: Option<u32>,
}

impl VersionRange {
    fn parse(spec: &str) -> Result<Self, String> {
        let mut constraints = Vec::new();
        for part in spec.split_whitespace() {
            let op_len = part
                .find(|c: char| c.is_ascii_digit())
                .ok_or_else(|| format!("runonserver {spec:?}: {part:?} has no version"))?;
            let (op, ver) = part.split_at(op_len);
            if !matches!(op, "" | "=" | "==" | ">" | ">=" | "<" | "<=" | "!=") {
                return Err(format!("runonserver {spec:?}: unknown operator {op:?}"));
            }
            let nums: Vec<u32> = ver
                .split('.')
                .map(|n| n.parse::<u32>())
                .collect::<Result<_, _>>()
                .map_err(|_| format!("runonserver {spec:?}: bad version {ver:?}"))?;
            let v = (
                nums.first().copied().unwrap_or(0),
                nums.get(1).copied().unwrap_or(0),
                nums.get(2).copied().unwrap_or(0),
            );
            constraints.push((op.to_owned(), v));
        }
        Ok(Self {
            constraints,
            ..Self::default()
        })
    }

    /// Whether a server with this `server_version_num` qualifies.
    pub fn matches(&self, server_version_num: u32) -> bool {
        if self.min_num.is_some_and(|m| server_version_num < m)
            || self.max_num.is_some_and(|m| server_version_num > m)
        {
            return false;
        }
        let v = if server_version_num >= 100_000 {
            (server_version_num / 10_000, server_version_num % 10_000, 0)
        } else {
            (
                server_version_num / 10_000,
                server_version_num / 100 % 100,
                server_version_num % 100,
            )
        };
        self.constraints.iter().all(|(op, want)| match op.as_str() {
            ">" => v > *want,
            ">=" => v >= *want,
            "<" => v < *want,
            "<=" => v <= *want,
            "!=" => v != *want,
            _ => v == *want,
        })
    }
}

/// A queries file that cannot be used: file, line and problem.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct QueryFileError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Parses a queries file's text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<QuerySpec>, QueryFileError> {
    let err = |line: usize, message: String| QueryFileError {
        file: file.to_owned(),
        line,
        message,
    };
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let raw: BTreeMap<String, RawQuery> =
        sidewatch_common::cli::parse_yaml(text).map_err(|e| err(e.line, e.message))?;
    let line_of = |name: &str| -> usize {
        text.lines()
            .position(|l| {
                let t = l.trim_start_matches(['"', '\'']);
                t.starts_with(name)
                    && t[name.len()..]
                        .trim_start_matches(['"', '\''])
                        .starts_with(':')
            })
            .map(|i| i + 1)
            .unwrap_or(1)
    };
    let mut specs = Vec::new();
    for (name, q) in raw {
        let line = line_of(&name);
        let bad = |m: String| err(line, format!("query {name:?}: {m}"));
        if !is_metric_name(&name) {
            return Err(bad("not a valid metric name prefix".to_owned()));
        }
        if q.query.trim().is_empty() {
            return Err(bad("query is empty".to_owned()));
        }
        if q.metrics.is_empty() {
            return Err(bad("metrics is empty".to_owned()));
        }
        let mut columns = Vec::new();
        for entry in q.metrics {
            if entry.len() != 1 {
                return Err(bad(
                    "each metrics entry must be a single column name".to_owned()
                ));
            }
            for (col, c) in entry {
                match c.usage {
                    Usage::MappedMetric if c.mapping.is_empty() => {
                        return Err(bad(format!(
                            "column {col:?}: usage MAPPEDMETRIC needs a mapping"
                        )))
                    }
                    _ => {}
                }
                if !is_metric_name(&col) {
                    return Err(bad(format!(
                        "column {col:?}: not a valid metric or label name"
                    )));
                }
                columns.push(ColumnSpec {
                    name: col,
                    usage: c.usage,
                    description: c.description,
                    mapping: c.mapping.into_iter().collect(),
                });
            }
        }
        let timeout = q
            .timeout
            .as_deref()
            .map(sidewatch_common::cli::parse_duration)
            .transpose()
            .map_err(|e| bad(format!("timeout: {e}")))?;
        if timeout.is_some_and(|t| t.is_zero()) {
            return Err(bad("timeout must be positive".to_owned()));
        }
        if q.max_series == Some(0) {
            return Err(bad("max_series must be positive".to_owned()));
        }
        let mut versions = match q.runonserver.as_deref() {
            Some(r) if !r.trim().is_empty() => VersionRange::parse(r).map_err(bad)?,
            _ => VersionRange::default(),
        };
        versions.min_num = q.min_server_version;
        versions.max_num = q.max_server_version;
        let prefix = q.prefix.unwrap_or_else(|| name.clone());
        if !is_metric_name(&prefix) {
            return Err(bad(format!(
                "prefix {prefix:?}: not a valid metric name prefix"
            )));
        }
        specs.push(QuerySpec {
            id: name,
            name: prefix,
            query: q.query,
            master: q.master,
            cache: Duration::from_secs(q.cache_seconds),
            timeout,
            max_series: q.max_series,
            all_databases: q.all_databases,
            versions,
            columns,
        });
    }
    Ok(specs)
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::families::capped;
    use super::*;
    use crate::pool::Rows;
    use sidewatch_common::MetricKind;

    const PEER_EXAMPLE: &str = r#"
pg_replication:
  query: "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 ELSE GREATEST (0, EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))) END AS lag"
  master: true
  metrics:
    - lag:
        usage: "GAUGE"
        description: "Replication lag behind master in seconds"

pg_postmaster:
  query: "SELECT pg_postmaster_start_time as start_time_seconds from pg_postmaster_start_time()"
  master: true
  metrics:
    - start_time_seconds:
        usage: "GAUGE"
        description: "Time at which postmaster started"
"#;

    #[test]
    fn peer_format_parses() {
        let specs = parse("q.yaml", PEER_EXAMPLE).expect("parse");
        assert_eq!(specs.len(), 2);
        let r = specs
            .iter()
            .find(|s| s.name == "pg_replication")
            .expect("spec");
        assert!(r.master);
        assert_eq!(r.columns[0].usage, Usage::Gauge);
    }

    #[test]
    fn debian_example_file_parses() {
        let path = "/usr/share/doc/prometheus-postgres-exporter/examples/queries.yaml";
        // scripts/setup-postgres.sh installs the peer, and with it this file.
        let text = std::fs::read_to_string(path).expect("the peer's example queries.yaml");
        let specs = parse(path, &text).expect("the peer's example must parse");
        assert!(specs.len() >= 5);
    }

    #[test]
    fn errors_name_line_and_problem() {
        let bad = "ok_query:\n  query: SELECT 1 AS x\n  metrics:\n    - x:\n        usage: GAUGE\nbad_query:\n  query: SELECT 1\n  metrics:\n    - y:\n        usage: GAUG\n";
        let e = parse("f.yaml", bad).expect_err("bad usage");
        assert_eq!(e.line, 10, "{e}");
        assert!(e.to_string().starts_with("f.yaml:10:"), "{e}");
        assert!(e.to_string().contains("GAUG"), "{e}");
        let e = parse("f.yaml", "a:\n  metrics: []\n  query: SELECT 1\n").expect_err("empty");
        assert!(e.to_string().contains("metrics is empty"), "{e}");
        let e = parse(
            "f.yaml",
            "a:\n  query: x\n  metrics:\n    - m:\n        usage: MAPPEDMETRIC\n",
        )
        .expect_err("mapping");
        assert!(e.to_string().contains("needs a mapping"), "{e}");
        let e = parse("f.yaml", "a: [unclosed\n").expect_err("yaml");
        assert_eq!(e.file, "f.yaml");
        let e = parse(
            "f.yaml",
            "a:\n  query: x\n  timeout: soon\n  metrics:\n    - m:\n        usage: GAUGE\n",
        )
        .expect_err("timeout");
        assert!(e.to_string().contains("timeout"), "{e}");
    }

    #[test]
    fn values_convert_like_the_peer() {
        assert_eq!(to_f64(Some("42")), Some(42.0));
        assert_eq!(to_f64(Some("t")), Some(1.0));
        assert!(to_f64(None).is_some_and(f64::is_nan));
        assert_eq!(to_f64(Some("1970-01-02 00:00:01+00")), Some(86_401.0));
        assert_eq!(
            to_f64(Some("2024-03-01 12:00:00.5+02")),
            Some(1_709_287_200.5)
        );
        assert_eq!(to_f64(Some("abc")), None);
        assert_eq!(duration_ms(Some("1m30s")), Some(90_000.0));
        assert_eq!(duration_ms(Some("250ms")), Some(250.0));
        assert_eq!(duration_ms(Some("00:00:01.5")), Some(1500.0));
        assert_eq!(duration_ms(Some("1 day 00:00:01")), Some(86_401_000.0));
    }

    #[test]
    fn versions() {
        let r = VersionRange::parse(">=10.0.0 <16").expect("range");
        assert!(r.matches(150_004));
        assert!(!r.matches(160_000));
        assert!(!r.matches(90_605));
        assert!(VersionRange::parse(">=9.6.0").expect("r").matches(90_605));
    }

    #[test]
    fn label_values_are_capped_at_a_character_boundary() {
        assert_eq!(capped("short"), "short");
        let long = "é".repeat(LABEL_VALUE_MAX_BYTES); // two bytes each
        let cut = capped(&long);
        assert_eq!(cut.len(), LABEL_VALUE_MAX_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
        let odd = format!("x{long}");
        assert_eq!(capped(&odd).len(), LABEL_VALUE_MAX_BYTES - 1);
        // Through the row reader: a 50 MB value becomes 1 KiB.
        let specs = parse(
            "q",
            "pg_t:\n  query: x\n  metrics:\n    - doc:\n        usage: LABEL\n    - n:\n        usage: GAUGE\n        description: d\n",
        )
        .expect("spec");
        let rows = Rows {
            columns: vec!["doc".into(), "n".into()],
            rows: vec![vec![Some("a".repeat(50 << 20)), Some("1".into())]],
        };
        let mut out = FamilySet::default();
        rows_to_families(&specs[0], &rows, &[], None, &mut out);
        let fams = out.into_families();
        let n = fams.iter().find(|f| f.name == "pg_t_n").expect("n");
        let doc = n.samples[0]
            .labels
            .iter()
            .find(|(k, _)| k.as_ref() == "doc")
            .map(|(_, v)| v.len());
        assert_eq!(doc, Some(LABEL_VALUE_MAX_BYTES));
    }

    #[test]
    fn rows_become_families_with_unknown_columns_untyped() {
        let specs = parse(
            "q",
            "pg_t:\n  query: x\n  metrics:\n    - mode:\n        usage: LABEL\n    - n:\n        usage: COUNTER\n        description: d\n    - st:\n        usage: MAPPEDMETRIC\n        mapping: {up: 1, down: 0}\n",
        )
        .expect("spec");
        let rows = Rows {
            columns: vec!["mode".into(), "n".into(), "st".into(), "extra".into()],
            rows: vec![vec![
                Some("a".into()),
                Some("3".into()),
                Some("up".into()),
                Some("7".into()),
            ]],
        };
        let mut out = FamilySet::default();
        let dropped = rows_to_families(
            &specs[0],
            &rows,
            &[("server".into(), "s:1".into())],
            Some("db1"),
            &mut out,
        );
        assert_eq!(dropped, 0);
        let fams = out.into_families();
        let n = fams.iter().find(|f| f.name == "pg_t_n").expect("n");
        assert_eq!(n.kind, MetricKind::Counter);
        assert_eq!(n.samples[0].value, 3.0);
        let labels: Vec<&str> = n.samples[0]
            .labels
            .iter()
            .map(|(k, _)| k.as_ref())
            .collect();
        assert_eq!(labels, ["server", "datname", "mode"]);
        assert_eq!(
            fams.iter()
                .find(|f| f.name == "pg_t_st")
                .map(|f| f.samples[0].value),
            Some(1.0)
        );
        let extra = fams.iter().find(|f| f.name == "pg_t_extra").expect("extra");
        assert_eq!(extra.kind, MetricKind::Untyped);
    }
}
