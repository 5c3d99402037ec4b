//! Vector indexes of pgvector (`vector`) and RuVector (`ruvector`).
//!
//! Both name their HNSW access method `hnsw`, so an index's extension is
//! told by the extension its operator class belongs to (`pg_depend`), and a
//! column's by the extension that owns its type.
//!
//! - `pg_vector_extension_info{datname,extension,version}` 1
//! - `pg_vector_index_size_bytes`, `pg_vector_index_scans_total`,
//!   `pg_vector_index_tuples_read_total`
//!   `{datname,schemaname,relname,indexrelname,method,extension}`
//! - `pg_vector_column_dimensions{datname,schemaname,relname,attname,extension}`
//! - `pg_vector_index_build_progress_ratio{datname,relname,indexrelname,phase}`
//!   while a vector index builds
//! - `pg_vector_search_calls_total{datname,operator}`,
//!   `pg_vector_search_seconds_total{datname,operator}` from
//!   pg_stat_statements: statement texts are read only for statements not
//!   seen before, so a steady workload costs one text-free read per scrape
//! - `pg_ruvector_<field>_bytes{datname}` from `ruvector_memory_stats()`
//!   (RuVector reports megabytes; other fields keep their name as
//!   `pg_ruvector_memory_<field>`) and
//!   `pg_ruvector_healthy{datname}` from `ruvector_is_healthy()`, where they exist

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sidewatch_common::{CollectError, CollectFuture, Collector, MetricKind};

use super::PgContext;
use crate::pool::{Conn, Rows};
use crate::queries::{to_f64, FamilySet};

const EXTENSIONS: &str =
    "SELECT extname, extversion FROM pg_extension WHERE extname IN ('vector', 'ruvector') ORDER BY 1";

const INDEXES: &str = "\
SELECT n.nspname, t.relname, i.relname, am.amname, e.extname,
       pg_relation_size(i.oid), COALESCE(s.idx_scan, 0), COALESCE(s.idx_tup_read, 0)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = i.relnamespace
JOIN pg_am am ON am.oid = i.relam
JOIN pg_depend d ON d.classid = 'pg_opclass'::regclass AND d.objid = x.indclass[0] AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname IN ('vector', 'ruvector')
LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = i.oid
ORDER BY 1, 2, 3";

const COLUMNS: &str = "\
SELECT n.nspname, c.relname, a.attname, e.extname, a.atttypmod
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p', 'm')
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_depend d ON d.classid = 'pg_type'::regclass AND d.objid = a.atttypid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname IN ('vector', 'ruvector')
WHERE a.attnum > 0 AND NOT a.attisdropped AND a.atttypmod > 0
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2, 3";

// During a plain CREATE INDEX the new index is not yet visible (index_relid
// is 0); the build is a vector build when the table has a vector column.
const BUILDS: &str = "\
SELECT t.relname, COALESCE(i.relname, ''), p.phase,
       CASE WHEN p.tuples_total > 0 THEN p.tuples_done::float8 / p.tuples_total
            WHEN p.blocks_total > 0 THEN p.blocks_done::float8 / p.blocks_total
            ELSE 0 END
FROM pg_stat_progress_create_index p
JOIN pg_class t ON t.oid = p.relid
LEFT JOIN pg_class i ON i.oid = p.index_relid
WHERE p.datid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND EXISTS (SELECT 1 FROM pg_attribute a
              JOIN pg_depend d ON d.classid = 'pg_type'::regclass AND d.objid = a.atttypid AND d.deptype = 'e'
              JOIN pg_extension e ON e.oid = d.refobjid AND e.extname IN ('vector', 'ruvector')
              WHERE a.attrelid = p.relid AND a.attnum > 0)";

const HAS_STATEMENTS: &str =
    "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'";

/// Distance operators, in the order a statement is attributed to one.
const OPERATORS: [&str; 4] = ["<->", "<=>", "<#>", "<+>"];
/// Bound on remembered statement classifications.
const MAX_CLASSIFIED: usize = 100_000;

type StatementKey = (String, String, String);

pub struct VectorCollector {
    ctx: Arc<PgContext>,
    /// (userid, dbid, queryid) → the distance operator its text uses, if any.
    classified: Mutex<HashMap<StatementKey, Option<&'static str>>>,
    /// Statement texts fetched so far (for tests and the docs' claim).
    pub texts_read: std::sync::atomic::AtomicU64,
}

fn text(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

fn number(row: &[Option<String>], i: usize) -> Option<f64> {
    to_f64(row.get(i).and_then(|v| v.as_deref())).filter(|v| !v.is_nan())
}

/// The distance operator a search statement uses. Only statements that read
/// or change data count: an extension's install script also names the
/// operators (`CREATE OPERATOR <-> ...`).
pub fn operator_of(query: &str) -> Option<&'static str> {
    let mut rest = query.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r
                .split_once('\n')
                .map(|(_, r)| r)
                .unwrap_or("")
                .trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r
                .split_once("*/")
                .map(|(_, r)| r)
                .unwrap_or("")
                .trim_start();
        } else {
            break;
        }
    }
    let first = rest
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    if !matches!(
        first.as_str(),
        "SELECT" | "WITH" | "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "TABLE" | "VALUES"
    ) {
        return None;
    }
    OPERATORS.iter().copied().find(|op| query.contains(op))
}

impl VectorCollector {
    pub fn new(ctx: Arc<PgContext>) -> Self {
        Self {
            ctx,
            classified: Mutex::new(HashMap::new()),
            texts_read: std::sync::atomic::AtomicU64::new(0),
        }
    }

    async fn database(
        &self,
        db: &str,
        out: &mut FamilySet,
        deadline: tokio::time::Instant,
    ) -> Result<(), CollectError> {
        let conn = self.ctx.conn(db, deadline).await?;
        let exts = self.ctx.run(&conn, EXTENSIONS, None, deadline).await?;
        if exts.rows.is_empty() {
            return Ok(());
        }
        let base = &self.ctx.base_labels;
        let with = |extra: &[(&'static str, String)]| {
            let mut l = base.clone();
            l.push(("datname".into(), db.to_owned()));
            l.extend(extra.iter().map(|(k, v)| ((*k).into(), v.clone())));
            l
        };
        for row in &exts.rows {
            out.family(
                "pg_vector_extension_info",
                "Vector extensions installed in a database (constant 1).",
                MetricKind::Gauge,
            )
            .add_owned(
                with(&[("extension", text(row, 0)), ("version", text(row, 1))]),
                1.0,
            );
        }
        let indexes = self.ctx.run(&conn, INDEXES, None, deadline).await?;
        for row in &indexes.rows {
            let labels = with(&[
                ("schemaname", text(row, 0)),
                ("relname", text(row, 1)),
                ("indexrelname", text(row, 2)),
                ("method", text(row, 3)),
                ("extension", text(row, 4)),
            ]);
            let metrics = [
                (
                    5,
                    "pg_vector_index_size_bytes",
                    "Size of a vector index on disk.",
                    MetricKind::Gauge,
                ),
                (
                    6,
                    "pg_vector_index_scans_total",
                    "Index scans started on a vector index.",
                    MetricKind::Counter,
                ),
                (
                    7,
                    "pg_vector_index_tuples_read_total",
                    "Index entries returned by scans of a vector index.",
                    MetricKind::Counter,
                ),
            ];
            for (i, name, help, kind) in metrics {
                if let Some(v) = number(row, i) {
                    out.family(name, help, kind).add_owned(labels.clone(), v);
                }
            }
        }
        let columns = self.ctx.run(&conn, COLUMNS, None, deadline).await?;
        for row in &columns.rows {
            if let Some(dims) = number(row, 4) {
                out.family(
                    "pg_vector_column_dimensions",
                    "Declared dimensions of a vector column.",
                    MetricKind::Gauge,
                )
                .add_owned(
                    with(&[
                        ("schemaname", text(row, 0)),
                        ("relname", text(row, 1)),
                        ("attname", text(row, 2)),
                        ("extension", text(row, 3)),
                    ]),
                    dims,
                );
            }
        }
        let builds = self.ctx.run(&conn, BUILDS, None, deadline).await?;
        for row in &builds.rows {
            if let Some(ratio) = number(row, 3) {
                out.family(
                    "pg_vector_index_build_progress_ratio",
                    "Progress of a running vector index build in its current phase (0 to 1).",
                    MetricKind::Gauge,
                )
                .add_owned(
                    with(&[
                        ("relname", text(row, 0)),
                        ("indexrelname", text(row, 1)),
                        ("phase", text(row, 2)),
                    ]),
                    ratio,
                );
            }
        }
        if exts.rows.iter().any(|r| text(r, 0) == "ruvector") {
            if let Err(e) = self.ruvector(&conn, db, out, deadline).await {
                tracing::debug!(database = db, error = %e, "RuVector stats unavailable");
            }
        }
        Ok(())
    }

    /// RuVector's own numbers. Their shape is RuVector's: a record or a JSON
    /// object; every numeric field becomes a gauge.
    async fn ruvector(
        &self,
        conn: &Conn,
        db: &str,
        out: &mut FamilySet,
        deadline: tokio::time::Instant,
    ) -> Result<(), CollectError> {
        let funcs = self
            .ctx
            .run(
                conn,
                "SELECT proname FROM pg_proc WHERE proname IN ('ruvector_memory_stats', 'ruvector_is_healthy')",
                None, deadline,
            )
            .await?;
        let has = |f: &str| funcs.rows.iter().any(|r| text(r, 0) == f);
        let mut labels = self.ctx.base_labels.clone();
        labels.push(("datname".into(), db.to_owned()));
        if has("ruvector_is_healthy") {
            let rows = self
                .ctx
                .run(conn, "SELECT ruvector_is_healthy()", None, deadline)
                .await?;
            if let Some(v) = rows.rows.first().and_then(|r| number(r, 0)) {
                out.family(
                    "pg_ruvector_healthy",
                    "ruvector_is_healthy(): 1 when RuVector reports itself healthy.",
                    MetricKind::Gauge,
                )
                .add_owned(labels.clone(), v);
            }
        }
        if has("ruvector_memory_stats") {
            let rows = self
                .ctx
                .run(
                    conn,
                    "SELECT * FROM ruvector_memory_stats()",
                    None,
                    deadline,
                )
                .await?;
            for (field, v) in numeric_fields(&rows) {
                // RuVector reports megabytes (`*_mb`); exposed in bytes.
                let (name, v) = match field.strip_suffix("_mb") {
                    Some(base) => (format!("pg_ruvector_{base}_bytes"), v * 1_048_576.0),
                    None => (format!("pg_ruvector_memory_{field}"), v),
                };
                out.family(
                    &name,
                    &format!("ruvector_memory_stats() field {field}, as RuVector reports it."),
                    MetricKind::Gauge,
                )
                .add_owned(labels.clone(), v);
            }
        }
        Ok(())
    }

    /// Vector search calls and time by operator, from pg_stat_statements.
    async fn searches(
        &self,
        out: &mut FamilySet,
        deadline: tokio::time::Instant,
    ) -> Result<(), CollectError> {
        let conn = self.ctx.main(deadline).await?;
        let has = self.ctx.run(&conn, HAS_STATEMENTS, None, deadline).await?;
        if has.rows.first().and_then(|r| number(r, 0)).unwrap_or(0.0) < 1.0 {
            return Ok(());
        }
        let time_col = if conn.server_version >= 130_000 {
            "total_exec_time"
        } else {
            "total_time"
        };
        let stats = self
            .ctx
            .run(
                &conn,
                &format!(
                    "SELECT s.userid::text, s.dbid::text, s.queryid::text, d.datname, s.calls, s.{time_col} / 1000.0 \
                     FROM pg_stat_statements(false) s JOIN pg_database d ON d.oid = s.dbid \
                     WHERE s.queryid IS NOT NULL"
                ),
                None, deadline,
            )
            .await?;
        let unknown: Vec<String> = {
            let known = self.classified.lock().unwrap_or_else(|p| p.into_inner());
            stats
                .rows
                .iter()
                .filter(|r| !known.contains_key(&(text(r, 0), text(r, 1), text(r, 2))))
                .map(|r| text(r, 2))
                .collect()
        };
        if !unknown.is_empty() {
            let list = unknown
                .iter()
                .filter(|q| q.parse::<i64>().is_ok())
                .cloned()
                .collect::<Vec<_>>()
                .join(",");
            let texts = if list.is_empty() {
                Rows::default()
            } else {
                self.ctx
                    .run(
                        &conn,
                        &format!(
                            "SELECT userid::text, dbid::text, queryid::text, query \
                             FROM pg_stat_statements(true) WHERE queryid = ANY('{{{list}}}'::bigint[])"
                        ),
                        None, deadline,
                    )
                    .await?
            };
            self.texts_read.fetch_add(
                texts.rows.len() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
            let mut known = self.classified.lock().unwrap_or_else(|p| p.into_inner());
            if known.len() + texts.rows.len() > MAX_CLASSIFIED {
                known.clear();
            }
            for r in &texts.rows {
                known.insert(
                    (text(r, 0), text(r, 1), text(r, 2)),
                    operator_of(&text(r, 3)),
                );
            }
        }
        let known = self.classified.lock().unwrap_or_else(|p| p.into_inner());
        let mut totals: HashMap<(String, &'static str), (f64, f64)> = HashMap::new();
        for r in &stats.rows {
            if let Some(Some(op)) = known.get(&(text(r, 0), text(r, 1), text(r, 2))) {
                let e = totals.entry((text(r, 3), op)).or_default();
                e.0 += number(r, 4).unwrap_or(0.0);
                e.1 += number(r, 5).unwrap_or(0.0);
            }
        }
        drop(known);
        let mut keys: Vec<_> = totals.into_iter().collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        for ((db, op), (calls, secs)) in keys {
            let mut labels = self.ctx.base_labels.clone();
            labels.push(("datname".into(), db));
            labels.push(("operator".into(), op.to_owned()));
            out.family(
                "pg_vector_search_calls_total",
                "Executions of statements using a vector distance operator (pg_stat_statements).",
                MetricKind::Counter,
            )
            .add_owned(labels.clone(), calls);
            out.family(
                "pg_vector_search_seconds_total",
                "Execution time of statements using a vector distance operator (pg_stat_statements).",
                MetricKind::Counter,
            )
            .add_owned(labels, secs);
        }
        Ok(())
    }
}

/// Numeric fields of a one-row result: its columns, or the keys of a JSON
/// object it holds.
fn numeric_fields(rows: &Rows) -> Vec<(String, f64)> {
    let mut fields = Vec::new();
    let Some(row) = rows.rows.first() else {
        return fields;
    };
    for (i, col) in rows.columns.iter().enumerate() {
        let value = row.get(i).cloned().flatten().unwrap_or_default();
        if let Ok(serde_yaml::Value::Mapping(map)) =
            serde_yaml::from_str::<serde_yaml::Value>(&value)
        {
            for (k, v) in map {
                if let (Some(k), Some(n)) = (k.as_str(), v.as_f64()) {
                    fields.push((sanitize(k), n));
                }
            }
        } else if let Some(n) = to_f64(Some(&value)).filter(|v| !v.is_nan()) {
            fields.push((sanitize(col), n));
        }
    }
    fields
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

impl Collector for VectorCollector {
    fn name(&self) -> &'static str {
        "vector"
    }

    fn collect<'a>(&'a self, scrape: &'a sidewatch_common::ScrapeContext) -> CollectFuture<'a> {
        Box::pin(async move {
            let databases = self.ctx.databases(scrape.deadline()).await?;
            let mut out = FamilySet::default();
            let mut failures = Vec::new();
            for db in &databases {
                if let Err(e) = self.database(db, &mut out, scrape.deadline()).await {
                    failures.push(format!("database {db:?}: {e}"));
                }
            }
            if let Err(e) = self.searches(&mut out, scrape.deadline()).await {
                failures.push(format!("search statistics: {e}"));
            }
            if !failures.is_empty() && out.series() == 0 {
                return Err(CollectError::Target(failures.join("; ")));
            }
            for f in failures {
                tracing::warn!(collector = "vector", error = %f, "part skipped");
            }
            Ok(out.into_families())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_are_recognised() {
        assert_eq!(
            operator_of("SELECT id FROM items ORDER BY embedding <-> $1 LIMIT $2"),
            Some("<->")
        );
        assert_eq!(operator_of("SELECT 1 - (e <=> $1)"), Some("<=>"));
        assert_eq!(operator_of("SELECT 1 ORDER BY e <#> $1"), Some("<#>"));
        assert_eq!(operator_of("SELECT 1 ORDER BY e <+> $1"), Some("<+>"));
        assert_eq!(operator_of("SELECT a < b"), None);
        assert_eq!(
            operator_of("-- vector operators\n\nCREATE OPERATOR <-> (LEFTARG = vector)"),
            None
        );
        assert_eq!(
            operator_of("/* app */ WITH q AS (SELECT 1) SELECT e <-> $1 FROM t"),
            Some("<->")
        );
    }

    #[test]
    fn json_stats_become_fields() {
        let rows = Rows {
            columns: vec!["ruvector_memory_stats".into()],
            rows: vec![vec![Some(
                r#"{"index_memory_mb": 1.5, "vector_cache": 3, "name": "x"}"#.into(),
            )]],
        };
        let f = numeric_fields(&rows);
        assert!(f.contains(&("index_memory_mb".to_owned(), 1.5)));
        assert!(f.contains(&("vector_cache".to_owned(), 3.0)));
        assert_eq!(f.len(), 2);
    }
}
